"""Subsequence extraction, the "seq2seq shenanigans" experiment (almostimplemented/
seq2seq_shenanigans, a GRU encoder-decoder on decimal digits).

An input is ``length`` tokens ``(idx, len, x_0, ..., x_{L-3})``: a start index, a
substring length, then L-2 digits 1..9. The target is the substring
``x_idx, ..., x_{idx+len-1}`` followed by zeros up to L-2 tokens. ``idx`` is uniform in
0..max_start and, given idx, ``len`` uniform in min_len..(L-2-idx) (capped at max_len
when set), so the substring always fits. At the defaults (L = 10, idx <= 5, len >= 2)
this is the original generator, draw for draw in distribution.

Tokenisation: every input token's id is its value, as in the original; arrays are
int32. idx and len are single tokens; they can reach L-2, so the input vocabulary is
max(10, L - 1), and at L = 10 it is the original's 10. Targets use ids 0..9, where 0
is both the original's padding and seqbench's PAD_ID (digits never are 0). Scoring
compares all L-2 target positions, padding included, as the original's loss did.

Splits are disjoint by construction. A hash of an input's first min(6, L-2) digits
puts every possible input in exactly one split: about 80% of these digit prefixes (so
of all inputs) are train, 10% validation, 10% test. ``generate``
draws (idx, len) as the original does, a prefix uniformly from its split's prefixes
and the remaining digits uniformly: exactly the original distribution conditioned on
the split, with no rejection loop, and (idx, len) keep the original's distribution in
every split. With L = 10 there are about 1.2e9 possible inputs, so independent random
streams would otherwise share examples between splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from seqbench import Examples, Signature, Task, param
from seqbench.data import SPLITS
from seqbench.task import PAD_ID, fit_width

__all__ = ["Subsequence", "split_of", "PREFIX_DIGITS"]

# The split that owns each hash bucket: 80% train, 10% validation, 10% test.
BUCKET_OWNERS = ("validation", "test") + ("train",) * 8
# Token ids fit easily; half of int64's memory makes generation ~1.8x faster, and
# embedding layers (torch, TensorFlow) take int32 indices as they are.
TOKEN_DTYPE = np.int32
# Digits that decide an input's split: 9^6 prefixes, enumerated once per task
# (at most 8: a prefix is packed into the bytes of one uint64).
PREFIX_DIGITS = 6

_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)


def _finalise(hashed: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: every input bit moves every output bit."""
    hashed = hashed ^ (hashed >> _SHIFT)
    hashed *= _MIX_1
    hashed ^= hashed >> _SHIFT
    hashed *= _MIX_2
    hashed ^= hashed >> _SHIFT
    return hashed


_OWNER_OF_BUCKET = np.array([SPLITS.index(name) for name in BUCKET_OWNERS])


def _owner(hashed: np.ndarray) -> np.ndarray:
    """Split index per hash: its top 32 bits scaled to a bucket (no slow 64-bit modulo)."""
    bucket = ((hashed >> np.uint64(32)) * np.uint64(len(BUCKET_OWNERS))) >> np.uint64(32)
    return _OWNER_OF_BUCKET[bucket]


def split_of(inputs: np.ndarray) -> np.ndarray:
    """The split each input row belongs to, as indices into ``seqbench.data.SPLITS``.

    The hash is FNV-1a over the first PREFIX_DIGITS digits, then a finaliser.
    """
    inputs = np.asarray(inputs)
    hashed = np.full(len(inputs), _FNV_OFFSET, dtype=np.uint64)
    for column in inputs[:, 2 : 2 + PREFIX_DIGITS].T:  # a loop over positions only
        hashed = (hashed ^ column.astype(np.uint64)) * _FNV_PRIME
    return _owner(_finalise(hashed))


def _prefix_table(width: int) -> tuple[np.ndarray, np.ndarray]:
    """Every prefix of ``width`` digits 1..9 in lexicographic order, one digit per byte
    of a uint64 (so drawing prefixes is a 1-D gather), and the split that owns it.

    The hash is built a digit at a time over all prefixes at once: the same FNV-1a
    steps ``split_of`` takes column by column.
    """
    digits = np.arange(1, 10, dtype=np.uint8)
    hashed = np.array([_FNV_OFFSET], dtype=np.uint64)
    for _ in range(width):
        hashed = np.repeat(hashed, 9) ^ np.tile(digits.astype(np.uint64), len(hashed))
        hashed *= _FNV_PRIME
    count = 9**width
    table = np.zeros((count, 8), dtype=np.uint8)
    for position in range(width):
        block = np.repeat(digits, 9 ** (width - 1 - position))
        table[:, position] = np.tile(block, count // len(block))
    return table.view("<u8").ravel(), _owner(_finalise(hashed))


@dataclass
class Subsequence(Task):
    name = "subsequence"
    description = "copy the substring (idx, len) picks out of a digit sequence, zero-padded"
    primary_metric = "exact_match"
    direction = "max"
    metrics = ("exact_match", "token_accuracy")
    length_param = "length"

    length: int = param(
        10, min=3, help="L: input tokens (idx, len and L-2 digits); targets are L-2"
    )
    max_start: int = param(5, min=0, help="largest start index idx (uniform from 0)")
    min_len: int = param(2, min=1, help="shortest substring")
    max_len: int | None = param(
        None, min=1, help="longest substring; none: as long as fits (L-2-idx)"
    )

    def __post_init__(self) -> None:
        if self.length < 3:
            raise ValueError(f"length must be at least 3, got {self.length}")
        if self.max_start < 0:
            raise ValueError(f"max_start must be at least 0, got {self.max_start}")
        if self.min_len < 1:
            raise ValueError(f"min_len must be at least 1, got {self.min_len}")
        if self.max_start + self.min_len > self.length - 2:
            raise ValueError(
                f"max_start + min_len ({self.max_start} + {self.min_len}) must be at most "
                f"length - 2 ({self.length - 2}), so every start leaves room for a substring"
            )
        if self.max_len is not None and self.max_len < self.min_len:
            raise ValueError(f"max_len ({self.max_len}) must be at least min_len ({self.min_len})")

    @property
    def digits(self) -> int:
        return self.length - 2

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens",
            targets="tokens",
            input_length=self.length,
            input_vocab=max(10, self.length - 1),
            target_length=self.digits,
            target_vocab=10,
        )

    @cached_property
    def _prefixes(self) -> dict[str, np.ndarray]:
        """The packed digit prefixes each split owns."""
        packed, owner = _prefix_table(min(PREFIX_DIGITS, self.digits))
        return {name: packed[owner == index] for index, name in enumerate(SPLITS)}

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        """(idx, len) as the original draws them, a digit prefix uniformly from those
        ``split`` owns, the other digits uniformly: the original given the split."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
        prefixes = self._prefixes[split]
        if len(prefixes) == 0:
            raise ValueError(
                f"length {self.length} leaves the {split} split none of the possible inputs; "
                "use a longer length"
            )
        start = rng.integers(0, self.max_start + 1, size=count)
        longest = self.digits - start
        if self.max_len is not None:
            longest = np.minimum(longest, self.max_len)
        width = min(PREFIX_DIGITS, self.digits)
        chosen = prefixes[rng.integers(0, len(prefixes), size=count)]
        inputs = np.empty((count, self.length), dtype=TOKEN_DTYPE)
        inputs[:, 0] = start
        inputs[:, 1] = rng.integers(self.min_len, longest + 1)
        inputs[:, 2 : 2 + width] = chosen.view(np.uint8).reshape(count, 8)[:, :width]
        inputs[:, 2 + width :] = rng.integers(1, 10, size=(count, self.digits - width))
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.ascontiguousarray(inputs)
        count, width = inputs.shape
        digits = width - 2
        # Worked position-major, (digits, count), so every operation runs along examples.
        offsets = np.arange(digits)[:, None]
        source = offsets + inputs[:, 0]
        np.minimum(source, digits - 1, out=source)
        source += np.arange(2, count * width, width)  # where each row's digits begin
        targets = inputs.ravel().take(source)
        np.copyto(targets, PAD_ID, where=offsets >= inputs[:, 1])  # after the substring
        return np.ascontiguousarray(targets.T)

    def score(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        # A model tested at another length than it was built for may answer narrower:
        # fit_width pads with NO_ANSWER (-1), never a token id, so the positions it did
        # not reach count as wrong (PAD_ID would match the zeros that pad targets).
        predictions = fit_width(predictions, targets.shape[1])
        if predictions.shape != targets.shape:
            raise ValueError(
                f"subsequence predictions must have shape {targets.shape} (token ids), "
                f"got {predictions.shape}"
            )
        correct = predictions == targets
        return {
            "exact_match": float(np.mean(np.all(correct, axis=1))),
            "token_accuracy": float(np.mean(correct)),
        }
