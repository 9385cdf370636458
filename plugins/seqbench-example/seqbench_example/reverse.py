"""The ``reverse`` task: read a sequence of digits, write it backwards."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Examples, Signature, Task, param
from seqbench.data import SPLITS
from seqbench.task import fit_width

# Of every ten hash buckets, one belongs to validation, one to test, eight to train.
BUCKET_OWNERS = np.array([SPLITS.index(name) for name in ["validation", "test"] + ["train"] * 8])
SHARE = {name: np.mean(BUCKET_OWNERS == index) for index, name in enumerate(SPLITS)}


def split_of(inputs: np.ndarray) -> np.ndarray:
    """The split that owns each input row, as an index into SPLITS.

    A hash of the whole row, computed with NumPy integers: Python's ``hash()`` of a
    string changes from one process to the next, and workers are separate processes.
    """
    hashed = np.zeros(len(inputs), dtype=np.uint64)
    for column in inputs.T:  # a loop over positions, vectorised over examples
        hashed = hashed * np.uint64(1_000_003) + column.astype(np.uint64)
    hashed ^= hashed >> np.uint64(33)
    hashed *= np.uint64(0xFF51AFD7ED558CCD)
    hashed ^= hashed >> np.uint64(33)
    return BUCKET_OWNERS[hashed % np.uint64(len(BUCKET_OWNERS))]


@dataclass
class Reverse(Task):
    name = "reverse"
    description = "write a sequence of digits backwards"
    primary_metric = "exact_match"
    direction = "max"
    metrics = ("exact_match", "token_accuracy")
    length_param = "length"
    smoke = {"length": 5}

    length: int = param(8, min=1, help="digits per sequence")
    digits: int = param(9, min=2, max=1000, help="distinct digits, token ids 1..digits")

    def __post_init__(self) -> None:
        # digits >= 2, so a length of 10 or more always makes 1000 sequences (2**10):
        # the power is only computed where it is small (a length of 2**62 would take
        # it forever).
        if self.length < 10 and self.digits**self.length < 1000:
            raise ValueError(
                f"digits ** length is {self.digits ** self.length}; at least 1000 distinct "
                "sequences are needed to share them between train, validation and test"
            )

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens",
            targets="tokens",
            input_length=self.length,
            input_vocab=self.digits + 1,  # id 0 is padding, never a digit
            target_length=self.length,
            target_vocab=self.digits + 1,
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        # Short sequences repeat, so independent random streams would share examples
        # between splits. Each possible sequence belongs to one split (by its hash);
        # draw in rounds and keep the split's own, until there are enough.
        wanted = SPLITS.index(split)
        kept: list[np.ndarray] = []
        missing = count
        while missing > 0:
            draws = int(missing / SHARE[split]) + 16
            candidates = rng.integers(1, self.digits + 1, size=(draws, self.length), dtype=np.int32)
            ours = candidates[split_of(candidates) == wanted][:missing]
            kept.append(ours)
            missing -= len(ours)
        inputs = np.concatenate(kept)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(inputs[:, ::-1])

    def score(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        # A model tested at another length than it was built for may answer narrower:
        # fit_width pads with NO_ANSWER (-1), never a token id, so the positions it did
        # not reach count as wrong (PAD_ID would match the zeros that pad targets).
        predictions = fit_width(predictions, targets.shape[1])
        if predictions.shape != targets.shape:
            raise ValueError(
                f"reverse predictions must have shape {targets.shape} (token ids), "
                f"got {predictions.shape}"
            )
        correct = predictions == targets
        return {
            "exact_match": float(np.mean(np.all(correct, axis=1))),
            "token_accuracy": float(np.mean(correct)),
        }
