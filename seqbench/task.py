"""The task contract: what a task plugin implements.

A task is a dataclass whose fields are its parameters. It generates examples as
NumPy arrays, vectorised, from a random generator the harness seeds; it solves any
input exactly (the oracle's answer); it scores predictions with one primary metric, and
may also score them per target position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

__all__ = [
    "Task", "Signature", "Examples", "InputKind", "TargetKind", "PAD_ID", "NO_ANSWER", "fit_width",
]

PAD_ID = 0
# What fills the positions a prediction did not reach: no token id (0..vocab-1) equals
# it. Not PAD_ID, which is a real target token where targets are padded (subsequence's
# zeros after the substring): padding predictions with it scored unanswered positions
# right wherever the target was padding.
NO_ANSWER = -1


def fit_width(predictions: np.ndarray, width: int) -> np.ndarray:
    """Token predictions ``(N, any width)`` as ``(N, width)``: cut, or right-padded with
    NO_ANSWER (-1), which equals no token id, so every position not answered scores as
    wrong, PAD targets included. For ``score``: a model tested at another length than it
    was built for answers with its own width. Padded unsigned or boolean predictions come
    back as int64 (-1 needs a signed dtype); signed and float ones keep their dtype."""
    predictions = np.asarray(predictions)
    if predictions.ndim != 2:
        raise ValueError(f"token predictions must be 2-D (examples, positions), got shape {predictions.shape}")
    if predictions.shape[1] >= width:
        return predictions[:, :width]
    signed = np.issubdtype(predictions.dtype, np.signedinteger) or np.issubdtype(predictions.dtype, np.floating)
    padded = np.full((len(predictions), width), NO_ANSWER, dtype=predictions.dtype if signed else np.int64)
    padded[:, : predictions.shape[1]] = predictions
    return padded

InputKind = Literal["continuous", "tokens"]
TargetKind = Literal["scalar", "tokens", "gaussian"]


@dataclass(frozen=True)
class Signature:
    """What a task's inputs and targets look like, so models can size themselves.

    ``inputs``: "continuous" arrays of shape (N, input_length, input_features), or
    "tokens": int arrays of shape (N, input_length) with ids below ``input_vocab``.
    ``targets``: "scalar" (N,), "tokens" (N, target_length) below ``target_vocab``,
    or "gaussian": per-position regression (N, target_length) predicted as a mean and
    a variance, shape (N, target_length, 2).

    Token sequences are fixed-length arrays padded with ``PAD_ID`` (0) on the right;
    ``input_length`` / ``target_length`` are the longest a task produces, and models
    may trim each batch to its longest sequence. When ``end_id`` is set, a target ends
    at its first ``end_id`` and scoring ignores what a prediction puts after it, so a
    decoder may stop there. Models predict token ids of shape (N, target_length).
    """

    inputs: InputKind
    targets: TargetKind
    input_length: int
    input_features: int = 1
    input_vocab: int | None = None
    target_length: int | None = None
    target_vocab: int | None = None
    end_id: int | None = None

    @property
    def kind(self) -> tuple[str, str]:
        return (self.inputs, self.targets)

    def describe(self) -> str:
        return f"{self.inputs} -> {self.targets}"


@dataclass
class Examples:
    """A batch of examples: inputs and targets, both NumPy arrays with N first."""

    inputs: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def __getitem__(self, index: Any) -> "Examples":
        return Examples(self.inputs[index], self.targets[index])

    @staticmethod
    def concatenate(parts: list["Examples"]) -> "Examples":
        return Examples(
            np.concatenate([p.inputs for p in parts]),
            np.concatenate([p.targets for p in parts]),
        )


class Task:
    """Base class for tasks. Subclasses are dataclasses; their fields are parameters.

    Class attributes a task sets:
      name, description: how users address and read about it.
      primary_metric, direction: the metric early stopping and reports rank by,
        and whether lower ("min") or higher ("max") is better.
      metrics: every metric ``score`` returns, primary included.
      smoke: parameter overrides ``seqbench run --smoke`` applies.
      length_param: the parameter that sets sequence length, if any.
      chunk_size: examples per ``generate`` call when the harness builds a split.
        Larger chunks spread NumPy's per-call overhead over more examples; a chunk's
        arrays are held in memory at once, so tasks with long sequences keep it small.

    Methods a task implements: ``signature``, ``generate``, ``solve``, ``score``; and,
    optionally, ``score_positions`` (metrics per target position, stored beside the
    averaged test metrics; the default says the task has none), ``data_version``
    (when a fix changed the examples ``generate`` makes) and ``fixed_examples`` (a
    split whose examples the user supplied).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    primary_metric: ClassVar[str]
    direction: ClassVar[Literal["min", "max"]] = "min"
    metrics: ClassVar[tuple[str, ...]] = ()
    smoke: ClassVar[dict[str, Any]] = {}
    length_param: ClassVar[str | None] = None
    chunk_size: ClassVar[int] = 1024

    @property
    def signature(self) -> Signature:
        raise NotImplementedError

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        """``count`` examples of ``split`` ("train", "validation" or "test") drawn with
        ``rng``, vectorised (no Python loop per example).

        The harness gives each split its own random stream. A task whose input space is
        small enough for streams to collide (short token sequences) must also keep the
        splits disjoint itself, e.g. by assigning each possible input to one split.
        """
        raise NotImplementedError

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """The exact answer for ``inputs``, shaped like a model's predictions."""
        raise NotImplementedError

    def score(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """Metrics for ``predictions``; must contain ``primary_metric``.

        Token predictions may be narrower than ``targets`` (a model built at one length
        and tested at another answers with its own width): score the positions it did
        not answer as wrong, PAD targets included, e.g. through ``fit_width(predictions,
        targets.shape[1])`` (it pads with NO_ANSWER, never a token id). Predictions may
        also hold NO_ANSWER where the harness joined batches of different widths."""
        raise NotImplementedError

    def score_positions(
        self, predictions: np.ndarray, targets: np.ndarray
    ) -> dict[str, np.ndarray] | None:
        """Test metrics per target position, or None (the default): the task has none.

        Each array has one value per target position, shape (target_length,): position
        ``i`` averaged over the examples. Only sequence targets have positions. The
        harness calls it once, on the test split's predictions, after ``score``; a value
        that is not finite is stored as missing, not as a failed point.
        """
        return None

    def fixed_examples(self, split: str) -> bool:
        """False (the default): ``split``'s examples are drawn from the input space the
        parameters allow, and suite validation refuses a split of a token task that
        holds fewer than 16 distinct examples (seqbench.task_probe). True where they are
        a fixed set the user supplied (a data file's lines), however small: the user
        chose them, so no parameter would give more."""
        return False

    def data_version(self) -> int | None:
        """None (the default): this task's data have never changed. Else a number, raised
        each time a fix changes the examples ``generate`` makes from the same parameters
        and seed — answered per instance, so only the parameters whose data changed get a
        version; or, for a task that reads its examples from a file, a fingerprint of
        its content (``polynomial``'s ``data_file``: 48 bits of its SHA-256). It is part of a point's identity (left out while None, so a task that
        never changed keeps every stored point's): a store's points made from the old
        data no longer match the suite, so a resumed run makes them again and reports
        leave them out as stale (``seqbench prune`` deletes them)."""
        return None

    def tokens_per_example(self) -> int:
        """The signature's input plus target length: the longest an example may be, a
        nominal figure. The harness's tokens/s no longer uses it: it counts the input
        tokens of the batches a model is fed (``seqbench.throughput``)."""
        sig = self.signature
        return sig.input_length + (sig.target_length or 0)

    def better(self, candidate: float, incumbent: float | None) -> bool:
        """True when ``candidate`` improves on ``incumbent`` for the primary metric."""
        if incumbent is None or np.isnan(incumbent):
            return not np.isnan(candidate)
        return candidate < incumbent if self.direction == "min" else candidate > incumbent
