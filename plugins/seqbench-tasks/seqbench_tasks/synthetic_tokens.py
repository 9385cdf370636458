"""What the synthetic token tasks share: split ownership by a hash of the whole input,
drawing a split's inputs, and scoring answer tokens.

The layout every one of them follows: inputs are token ids, 0 is PAD_ID (right padding
only), and the answer to position ``j`` of the target is due at the ``j``-th of the
input's last ``target_length`` non-PAD positions. These are answer slots (markers,
blanks after a delimiter, queries, a repeated special token): where the original paper
lets a recurrent model emit its output, and where Delétang et al. 2023 append "empty
targets" for every architecture. A causal model reads its answers there; an
encoder-decoder reads the whole input and decodes the target.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

from seqbench.data import SPLITS
from seqbench.task import PAD_ID, Task, fit_width
from seqbench.task_probe import MAX_TOKEN_VOCAB

__all__ = [
    "AnswerTask",
    "TOKEN_DTYPE",
    "MAX_VOCAB",
    "SPLIT_SHARES",
    "split_of_rows",
    "draw_for_split",
    "draw_lengths",
    "draw_lengths_first",
    "LengthDraw",
    "lengths_owned",
    "sample_distinct",
    "score_answers",
    "score_answer_positions",
    "ANSWER_METRICS",
]

# Token ids fit easily in int32, which embedding layers (torch, Keras) take as they are.
TOKEN_DTYPE = np.int32
# The most ids a vocabulary may have (0..2**31 - 1): each task bounds its vocabulary
# parameters by it. An id past it is not refused by NumPy but wrapped: an int64 array
# assigned into a TOKEN_DTYPE array turns 2**31 into -2**31, and the oracle, reading the
# same wrapped ids, still scores 1; the first failure was a model's table lookup.
MAX_VOCAB = MAX_TOKEN_VOCAB  # the harness's contract (seqbench.task_probe checks it)
assert MAX_VOCAB - 1 <= np.iinfo(TOKEN_DTYPE).max
# The share of all possible inputs each split owns (by hash bucket, out of ten).
SPLIT_SHARES = {"train": 0.8, "validation": 0.1, "test": 0.1}
_BUCKET_OWNERS = np.array([SPLITS.index(name) for name in ("validation", "test") + ("train",) * 8])
# Enough rounds that a split owning a thousandth of the inputs still fills; fewer means
# the split owns (almost) none of them, which is the task's size, not bad luck.
_MAX_ROUNDS = 64

_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: odd, so powers never vanish


def _powers(width: int) -> np.ndarray:
    """MULTIPLIER ** (1 .. width) modulo 2**64."""
    with np.errstate(over="ignore"):
        return np.cumprod(np.full(width, _MULTIPLIER, dtype=np.uint64), dtype=np.uint64)


def split_of_rows(rows: np.ndarray) -> np.ndarray:
    """The split each token row belongs to, as indices into ``seqbench.data.SPLITS``.

    A polynomial hash over the row (PAD contributes nothing, so a sequence hashes the
    same at any padded width) through MurmurHash3's finaliser; its top bits pick one of
    ten buckets: 8 train, 1 validation, 1 test.
    """
    rows = np.asarray(rows)
    with np.errstate(over="ignore"):
        hashed = (rows.astype(np.uint64) * _powers(rows.shape[1])).sum(axis=1, dtype=np.uint64)
        hashed ^= hashed >> _SHIFT
        hashed *= _MIX_1
        hashed ^= hashed >> _SHIFT
        hashed *= _MIX_2
        hashed ^= hashed >> _SHIFT
    bucket = ((hashed >> np.uint64(32)) * np.uint64(len(_BUCKET_OWNERS))) >> np.uint64(32)
    return _BUCKET_OWNERS[bucket]


def draw_for_split(draw: Callable[[int], np.ndarray], count: int, split: str, task: str) -> np.ndarray:
    """``count`` rows from ``draw(n)`` (n candidate rows, vectorised) that ``split`` owns.

    A row is an input, or the part of it that decides its split (its key: the symbols
    to copy, the key-value pairs, a prefix), drawn first so that the rest of a long
    input is drawn only for the rows kept. Equal inputs have equal keys, so no input
    is in two splits. The original distribution conditioned on the split: candidates
    are drawn in whole batches sized to the split's share and the others dropped, a
    loop over rounds (a handful), never over examples. Raises when the split owns
    (almost) none of the keys the parameters allow.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    wanted = SPLITS.index(split)
    kept: list[np.ndarray] = []
    have = 0
    for _ in range(_MAX_ROUNDS):
        if have >= count:
            break
        candidates = draw(int((count - have) / SPLIT_SHARES[split] * 1.25) + 16)
        mine = candidates[split_of_rows(candidates) == wanted]
        kept.append(mine)
        have += len(mine)
    if have < count:
        raise ValueError(
            f"task {task!r}: the {split} split owns too few of the possible inputs to draw "
            f"{count}; make sequences longer (or the vocabulary larger, where the task has one)"
        )
    return np.concatenate(kept)[:count]


def draw_lengths(
    rng: np.random.Generator, count: int, length: int, min_length: int | None, split: str
) -> np.ndarray:
    """Each example's length: uniform in min_length..length for the train split
    (Delétang et al. 2023's training on every length up to N), else exactly ``length``."""
    if split == "train" and min_length is not None:
        return rng.integers(min_length, length + 1, size=count)
    return np.full(count, length)


# Candidates of each length that ``lengths_owned`` looks through: a length with few
# strings (where a split may own none) has at most a few dozen, and 1,024 draws miss
# one the split owns with probability below 1e-7 at 64 strings; a length with more
# strings has a split's share of them (0.8 for train), so it owns some for certain.
_OWNED_CANDIDATES = 1024

# draw(rng, n, length): n candidate rows of one length, vectorised, all of one width.
LengthDraw = Callable[[np.random.Generator, int, int], np.ndarray]


def lengths_owned(draw: LengthDraw, lengths: Iterable[int], split: str) -> tuple[int, ...]:
    """The ``lengths`` of which ``split`` owns at least one row: _OWNED_CANDIDATES of each
    drawn from a fixed seed, so the answer depends on the parameters alone."""
    rng = np.random.default_rng(0)
    wanted = SPLITS.index(split)
    return tuple(
        length for length in lengths
        if np.any(split_of_rows(draw(rng, _OWNED_CANDIDATES, length)) == wanted)
    )


def draw_lengths_first(
    draw: LengthDraw, rng: np.random.Generator, count: int, lengths: Sequence[int], split: str, task: str
) -> np.ndarray:
    """``count`` rows that ``split`` owns, each row's length drawn first, uniformly from
    ``lengths`` (Delétang et al.'s uniform curriculum), then the rows of each length drawn
    from those ``split`` owns (``draw_for_split``, one call per length present, each
    vectorised over its rows). So the length marginal stays uniform: drawing the rows
    first and keeping the split's own (``draw_for_split`` over mixed lengths) gave short
    lengths, which own few strings, shares of 0.022-0.032 against 0.025 (parity, 40
    lengths). ``lengths`` must each have rows the split owns (``lengths_owned``)."""
    if not lengths:
        raise ValueError(f"task {task!r}: the {split} split owns no input of any allowed length")
    chosen = np.asarray(lengths)[rng.integers(0, len(lengths), size=count)]
    rows: np.ndarray | None = None
    for length in np.unique(chosen).tolist():
        where = np.flatnonzero(chosen == length)
        group = draw_for_split(lambda n: draw(rng, n, length), len(where), split, task)
        if rows is None:
            rows = np.empty((count, group.shape[1]), dtype=group.dtype)
        rows[where] = group
    return draw(rng, 0, lengths[-1]) if rows is None else rows


def sample_distinct(rng: np.random.Generator, count: int, k: int, population: int) -> np.ndarray:
    """``count`` rows of ``k`` distinct integers from 0..population-1, each row a uniform
    k-subset in uniform order: Floyd's algorithm run on every row at once (a loop over
    the k columns), so memory is count x k, not count x population."""
    if not 0 <= k <= population:
        raise ValueError(f"cannot draw {k} distinct values from {population}")
    chosen = np.empty((count, k), dtype=np.int64)
    for column, top in enumerate(range(population - k, population)):
        candidate = rng.integers(0, top + 1, size=count)
        taken = (chosen[:, :column] == candidate[:, None]).any(axis=1)
        chosen[:, column] = np.where(taken, top, candidate)
    return rng.permuted(chosen, axis=1)


ANSWER_METRICS = ("accuracy", "exact_match")


def _answers(predictions: np.ndarray, targets: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Predictions as wide as the targets (a model tested at another length may answer
    fewer positions: the missing ones are NO_ANSWER, so wrong; extra ones are dropped),
    and the mask of answer positions (every non-PAD target)."""
    predictions = np.asarray(predictions)
    if predictions.ndim != 2 or len(predictions) != len(targets):
        raise ValueError(
            f"{task} predictions must be token ids of shape ({len(targets)}, answers), "
            f"got {predictions.shape}"
        )
    return fit_width(predictions, targets.shape[1]) == targets, targets != PAD_ID


def score_answers(predictions: np.ndarray, targets: np.ndarray, task: str) -> dict[str, float]:
    """accuracy: the share of answer tokens right (the papers' accuracy); exact_match:
    the share of examples with every answer right. PAD targets (no answer due) are left
    out of both."""
    right, due = _answers(predictions, targets, task)
    return {
        "accuracy": float(np.sum(right & due) / max(int(np.sum(due)), 1)),
        "exact_match": float(np.mean(np.all(right | ~due, axis=1))),
    }


def score_answer_positions(predictions: np.ndarray, targets: np.ndarray, task: str) -> dict[str, np.ndarray]:
    """accuracy per answer position (0 where no example has an answer due there)."""
    right, due = _answers(predictions, targets, task)
    return {"accuracy": np.sum(right & due, axis=0) / np.maximum(np.sum(due, axis=0), 1)}


class AnswerTask(Task):
    """Base of the synthetic token tasks: accuracy over answer tokens is the primary
    metric, scored overall and per answer position."""

    primary_metric = "accuracy"
    direction = "max"
    metrics = ANSWER_METRICS

    def score(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        return score_answers(predictions, targets, self.name)

    def score_positions(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
        return score_answer_positions(predictions, targets, self.name)
