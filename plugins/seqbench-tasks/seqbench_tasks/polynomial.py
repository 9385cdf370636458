"""Polynomial expansion: the polynomial-expansion Transformer experiment.

The input is a product of linear factors, the target its expansion, both as text in
the original data's exact format (SymPy's printing; see ``polynomial_format``):
``(21-5*c)*(3*c-7)`` -> ``-15*c**2+98*c-147``, ``-5*h*(5-2*h)`` -> ``10*h**2-25*h``.
Both are token sequences over one fixed vocabulary (``polynomial_tokens``): a token
per digit, letter, function name and operator, then EOS, then PAD.

The defaults reproduce the original data (1,000,000 lines from an interview
assignment, never published with its generator) as far as its published samples
and statistics tell:
  * two factors ``a*X + b``; a from -9..8 without 0 and b from -32..31 (the samples
    show -9 and -32 but never 9 or 32, as numpy's ``randint(-9, 9)`` would draw, and
    the longest lines, 29 and 28 characters, are exactly what these ranges allow);
  * one factor in five has no constant (b = 0): 4% of the lines are ``-3*x**2`` and
    32% are like ``-5*h*(5-2*h)``;
  * the variable is one of the 13 letters the data use, s, i and n twice as often
    as the others, or in 3% of lines sin, cos or tan of one.
``factors`` sets the degree and so the length; ``max_coefficient`` and
``max_constant`` bound the factors' numbers (a from -max..max-1, likewise b).

Generation draws the factors as arrays, expands them by array polynomial
multiplication and builds both texts' tokens from segment tables: no loop per
example. ``solve`` is a dedicated vectorised expander (``polynomial_parse``), not SymPy.

Splits never share an input, because an input's split is a function of its text:
90% train, 5% validation, 5% test by a hash. A generated input is hashed from what
its text shows (variable, monomial, multiset of binomials) before any text is built,
and ``generate`` keeps the inputs of the split asked for, so each split follows the
original distribution restricted to its share. With ``data_file`` the examples are
the file's ``factored=expanded`` lines instead, each line's split a hash of its
factored tokens, drawn with replacement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from seqbench import Examples, Signature, Task, param
from seqbench.data import SPLITS
from seqbench_tasks.polynomial_format import ExpandedFormat, FactoredFormat, digit_count, pair_tokens
from seqbench_tasks.polynomial_parse import parse
from seqbench_tasks.polynomial_tokens import (
    EOS,
    PAD,
    VOCAB_SIZE,
    decode,
    encode,
    encode_pairs,
    sequence_lengths,
)

__all__ = ["Polynomial", "split_of", "structure_split", "LETTERS"]

LETTERS = "achijknostxyz"
# s, i and n are twice as frequent as the other letters in the original data.
_LETTER_POOL = np.array([ord(c) - ord("a") for c in LETTERS + "sin"])
FUNCTION_PERCENT = 3  # of examples whose variable is sin, cos or tan of a letter
MONOMIAL_ONE_IN = 5  # factors without a constant term

# Hash buckets per split, out of _BUCKETS: 18/20 train, 1/20 validation, 1/20 test.
_BUCKETS = 20
_SPLIT_BUCKETS = {"train": (2, _BUCKETS), "validation": (0, 1), "test": (1, 2)}
_MAX_ROUNDS = 100
_LARGEST = int(np.iinfo(np.int64).max)
_GENERATION = ("factors", "max_coefficient", "max_constant", "functions")

_SPLITMIX_1, _SPLITMIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_MIX_1, _MIX_2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)


def _owner(hashed: np.ndarray) -> np.ndarray:
    """Split indices (into SPLITS) of 64-bit hashes, by bucket."""
    bucket = hashed % np.uint64(_BUCKETS)
    owner = np.empty(len(hashed), dtype=np.int64)
    for index, name in enumerate(SPLITS):
        low, high = _SPLIT_BUCKETS[name]
        owner[(bucket >= low) & (bucket < high)] = index
    return owner


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-spread 64-bit hash of each value."""
    values = values.astype(np.uint64)
    values = (values ^ (values >> np.uint64(30))) * _SPLITMIX_1
    values = (values ^ (values >> np.uint64(27))) * _SPLITMIX_2
    return values ^ (values >> np.uint64(31))


def structure_split(
    letter: np.ndarray, function: np.ndarray, a: np.ndarray, b: np.ndarray, a_max: int, b_max: int
) -> np.ndarray:
    """The split of each generated input, as an index into ``seqbench.data.SPLITS``,
    from its factors before any text is built.

    The hash covers exactly what the factored text shows: the variable, the merged
    monomial's coefficient and power, and the multiset of binomials (a sum of their
    hashes, so their order does not count). Equal texts always share a split.
    """
    count, factors = a.shape
    power = np.zeros(count, dtype=np.int64)
    coefficient = np.ones(count, dtype=np.int64)
    binomials = np.zeros(count, dtype=np.uint64)
    for column in range(factors):  # small loops over columns beat reductions here
        monomial = b[:, column] == 0
        power += monomial
        coefficient *= np.where(monomial, a[:, column], 1)
        key = (a[:, column] + a_max) * (2 * b_max + 1) + (b[:, column] + b_max) + 1
        binomials += np.where(monomial, np.uint64(0), _mix(key))
    shown = ((letter * 4 + function) * (factors + 1) + power).astype(np.uint64)
    return _owner(_mix(binomials + _mix(coefficient.astype(np.uint64) * _FNV_PRIME + shown)))


def split_of(inputs: np.ndarray) -> np.ndarray:
    """The split of each input row (of a data file), as an index into
    ``seqbench.data.SPLITS``.

    A hash of the tokens before the first EOS (FNV-1a, then MurmurHash3's finaliser),
    so a text's split never depends on the padding around it.
    """
    inputs = np.ascontiguousarray(inputs, dtype=np.int64)
    live = np.arange(inputs.shape[1]) < sequence_lengths(inputs)[:, None]
    tokens = inputs.view(np.uint64)
    hashed = np.full(len(inputs), _FNV_OFFSET, dtype=np.uint64)
    for column in range(inputs.shape[1]):  # a loop over positions, vectorised over rows
        hashed = np.where(live[:, column], (hashed ^ tokens[:, column]) * _FNV_PRIME, hashed)
    hashed ^= hashed >> _SHIFT
    hashed *= _MIX_1
    hashed ^= hashed >> _SHIFT
    hashed *= _MIX_2
    hashed ^= hashed >> _SHIFT
    return _owner(hashed)


@dataclass
class Polynomial(Task):
    name = "polynomial"
    description = "expand a product of linear factors: (21-5*c)*(3*c-7) -> -15*c**2+98*c-147"
    primary_metric = "exact_match"
    direction = "max"
    metrics = ("exact_match", "token_accuracy")
    length_param = "factors"

    factors: int = param(2, min=1, max=12, help="linear factors per input: the degree (original: 2)")
    max_coefficient: int = param(
        9, min=2, max=1_000_000, help="factors' X coefficients from -max..max-1, never 0 (original: 9)"
    )
    max_constant: int = param(
        32, min=2, max=1_000_000, help="factors' constants from -max..max-1 (original: 32)"
    )
    functions: bool = param(True, help="let 3% of variables be sin, cos or tan of a letter (original: yes)")
    data_file: str = param(
        "", help="read factored=expanded lines from this file instead of generating"
    )
    _data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _formats: tuple[FactoredFormat, ExpandedFormat, tuple[int, int]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name, low, high in (("factors", 1, 12), ("max_coefficient", 2, None), ("max_constant", 2, None)):
            value = getattr(self, name)
            if value < low or (high is not None and value > high):
                allowed = f"{low}..{high}" if high else f">= {low}"
                raise ValueError(f"{name} must be {allowed}, got {value}")
        largest = max(self._coefficient_bounds())
        if largest > _LARGEST:
            raise ValueError(
                f"factors={self.factors}, max_coefficient={self.max_coefficient} and "
                f"max_constant={self.max_constant} give expanded coefficients up to {largest}, "
                "beyond 64-bit integers; lower one of them"
            )
        if self.data_file:
            self._load(self.data_file)

    def _load(self, data_file: str) -> None:
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name in _GENERATION and getattr(self, f.name) != f.default
        ]
        if changed:
            raise ValueError(
                f"data_file: examples come from {data_file!r}, so {', '.join(changed)} "
                "would have no effect; leave the generation parameters at their defaults"
            )
        path = Path(data_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ValueError(f"data_file: cannot read {data_file!r}: {reason}") from None
        inputs, targets, _ = encode_pairs(text, f"data_file {data_file!r}")
        owner = split_of(inputs)
        for index, name in enumerate(SPLITS):
            if not np.any(owner == index):
                raise ValueError(
                    f"data_file: {data_file!r} has {len(inputs)} lines and none falls in the "
                    f"{name} split (about 5% of lines each go to validation and test); "
                    "use a longer file"
                )
        self._data = (inputs, targets, owner)

    def _coefficient_bounds(self) -> list[int]:
        """The largest |coefficient| of each degree: (-A*X - B)**factors attains them all."""
        k, a, b = self.factors, self.max_coefficient, self.max_constant
        return [math.comb(k, j) * a**j * b ** (k - j) for j in range(k + 1)]

    def _longest_factored(self) -> int:
        """Tokens in the longest factored text the parameters allow (an upper bound: all
        binomials distinct and as long as can be; exact at the defaults)."""
        k, x = self.factors, 4 if self.functions else 1
        binomial = digit_count(self.max_coefficient) + digit_count(self.max_constant) + x + 3
        binomial += 2 if k > 1 else 0  # brackets
        longest = 0
        for monomials in range(k + 1):
            count = k - monomials
            tokens, items = count * binomial, count
            if monomials:
                power = x + (1 + digit_count(monomials) if monomials > 1 else 0)
                tokens += 1 + digit_count(self.max_coefficient**monomials) + power
                items += 2
            longest = max(longest, tokens + items - 1)  # a "*" between items
        return longest

    def _longest_expanded(self) -> int:
        """Tokens in the longest expanded text the parameters allow (an upper bound:
        every term present, signed, at its largest coefficient)."""
        x = 4 if self.functions else 1
        total = 0
        for degree, bound in enumerate(self._coefficient_bounds()):
            total += 1 + digit_count(bound)
            if degree:
                total += 1 + x + (1 + digit_count(degree) if degree > 1 else 0)
        return total

    @property
    def signature(self) -> Signature:
        if self._data is not None:
            inputs, targets, _ = self._data
            input_length, target_length = inputs.shape[1], targets.shape[1]
        else:
            input_length, target_length = self._longest_factored() + 1, self._longest_expanded() + 1
        return Signature(
            inputs="tokens",
            targets="tokens",
            input_length=input_length,
            input_vocab=VOCAB_SIZE,
            target_length=target_length,
            target_vocab=VOCAB_SIZE,
            end_id=EOS,
        )

    def encode(self, strings: Sequence[str], width: int | None = None) -> np.ndarray:
        """Token ids of ``strings`` (either side), EOS-ended and PAD-padded to ``width``."""
        return encode(strings, width)

    def decode(self, token_ids: np.ndarray) -> list[str]:
        """The text of each row of token ids, up to its first EOS."""
        return decode(token_ids)

    def _draw(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Variables and factors of ``count`` examples, drawn as the original drew them."""
        k, a_max, b_max = self.factors, self.max_coefficient, self.max_constant
        # One draw of uniform floats gives every column as an index: letter, function
        # (a percentage), k coefficients, k constants and k chances of no constant.
        a_values = np.delete(np.arange(-a_max, a_max), a_max)  # -max..max-1 without 0
        b_values = np.delete(np.arange(-b_max, b_max), b_max)
        span = np.array(
            [len(_LETTER_POOL), 100] + [len(a_values)] * k + [len(b_values)] * k + [MONOMIAL_ONE_IN] * k
        )
        # Single precision is three times cheaper and exact enough for small spans.
        dtype, index = (np.float32, np.int32) if span.max() <= 4096 else (np.float64, np.int64)
        scaled = rng.random((count, len(span)), dtype=dtype) * span.astype(dtype)
        draws = np.minimum(scaled.astype(index), (span - 1).astype(index))  # rounding may reach span
        letter = _LETTER_POOL[draws[:, 0]]
        chance = draws[:, 1]
        function = np.where(chance < FUNCTION_PERCENT, chance % 3 + 1, 0) if self.functions else 0 * chance
        a = a_values[draws[:, 2 : 2 + k]]
        b = np.where(draws[:, 2 + 2 * k :] == 0, 0, b_values[draws[:, 2 + k : 2 + 2 * k]])
        return letter, function, a, b

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        """``count`` examples of ``split``: the original distribution, restricted to the
        inputs whose hash falls in ``split``, in a few vectorised rounds."""
        if split not in _SPLIT_BUCKETS:
            raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
        if self._data is not None:
            inputs, targets, owner = self._data
            mine = np.flatnonzero(owner == SPLITS.index(split))
            chosen = mine[rng.integers(0, len(mine), size=count)]
            return Examples(inputs[chosen], targets[chosen])
        low, high = _SPLIT_BUCKETS[split]
        share = (high - low) / _BUCKETS
        kept: list[tuple[np.ndarray, ...]] = []
        have = 0
        for _ in range(_MAX_ROUNDS):
            if have >= count:
                break
            drawn = self._draw(int((count - have) / share * 1.1) + 16, rng)
            owner = structure_split(*drawn, self.max_coefficient, self.max_constant)
            mine = owner == SPLITS.index(split)
            kept.append(tuple(part[mine] for part in drawn))
            have += int(mine.sum())
        if have < count:
            raise ValueError(
                f"the {split} split holds (almost) none of the possible inputs; "
                "raise factors, max_coefficient or max_constant"
            )
        letter, function, a, b = (np.concatenate(part)[:count] for part in zip(*kept))
        if self._formats is None:
            self._formats = (
                FactoredFormat(self.max_coefficient, self.max_constant, self.factors),
                ExpandedFormat(self._coefficient_bounds()),
                (self._longest_factored() + 1, self._longest_expanded() + 1),
            )
        return Examples(*pair_tokens(*self._formats[:2], letter, function, a, b, self._formats[2]))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """The expansion of each factored input, by the dedicated vectorised expander."""
        letter, function, coefficients = parse(inputs)
        answers = ExpandedFormat.fitting(coefficients).tokens(letter, function, coefficients)
        return _pad(answers, max(answers.shape[1], self.signature.target_length or 0))

    def score(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """exact_match: the prediction equals the target up to and including the
        target's EOS (what follows is ignored); token_accuracy: the share of those
        target positions (EOS included) predicted right."""
        predictions = np.asarray(predictions)
        if predictions.ndim != 2 or len(predictions) != len(targets):
            raise ValueError(
                f"polynomial predictions must be token ids of shape ({len(targets)}, length), "
                f"got {predictions.shape}"
            )
        width = max(predictions.shape[1], targets.shape[1])
        predictions = _pad(predictions.astype(np.int64), width)
        targets = _pad(np.asarray(targets, dtype=np.int64), width)
        scored = np.arange(width) < (sequence_lengths(targets) + 1)[:, None]
        right = predictions == targets
        return {
            "exact_match": float(np.mean(np.all(right | ~scored, axis=1))),
            "token_accuracy": float(np.sum(right & scored) / max(int(np.sum(scored)), 1)),
        }


def _pad(ids: np.ndarray, width: int) -> np.ndarray:
    if ids.shape[1] == width:
        return ids
    return np.pad(ids, ((0, 0), (0, width - ids.shape[1])), constant_values=PAD)
