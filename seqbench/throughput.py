"""Throughput: examples and input tokens a second in the train and eval phases.

Input tokens are counted from the batches a model is actually fed, not from the task's
signature: for token inputs, each row up to its last id that is not ``PAD_ID`` (rows are
right-padded; a batch of parity strings of lengths 1 to 40 carries about 22 a row, not
40; a PAD_ID inside a row, subsequence's start index 0, is a token); for continuous inputs, one per
input position (``inputs.shape[1]``: gp-pairs' 200 observed points, never its targets).
Targets are not counted: they are what the model predicts, not what it reads.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from seqbench.data import FreshTrain, Split
from seqbench.task import PAD_ID, Examples, Task

__all__ = ["InputTokens", "CountedSplit", "CountedFreshTrain", "tokens_read", "throughput"]


def row_lengths(inputs: np.ndarray) -> int:
    """The tokens of right-padded token rows: each row up to and including its last id
    that is not PAD_ID (the contract pads on the right only, so a PAD_ID inside a row
    is a token: subsequence's start index 0)."""
    if inputs.ndim != 2 or not inputs.size:
        return int(np.count_nonzero(inputs != PAD_ID))
    used = inputs != PAD_ID
    last = inputs.shape[1] - np.argmax(used[:, ::-1], axis=1)  # one past the last token
    return int(np.sum(np.where(used.any(axis=1), last, 0)))


class InputTokens:
    """The examples and input tokens of the batches read since the last ``take``."""

    def __init__(self, token_inputs: bool) -> None:
        self.token_inputs = token_inputs
        self.examples = 0
        self.tokens = 0

    def add(self, batch: Examples) -> None:
        inputs = np.asarray(batch.inputs)
        self.examples += len(batch)
        if self.token_inputs:
            self.tokens += row_lengths(inputs)
        else:
            self.tokens += len(batch) * (inputs.shape[1] if inputs.ndim > 1 else 1)

    def take(self) -> tuple[int, int]:
        """``(examples, tokens)`` read so far, and start counting afresh."""
        read = (self.examples, self.tokens)
        self.examples = self.tokens = 0
        return read


class _Counting(Split):
    """A split that counts what every pass over it gives out (``batches``, ``chunks``)."""

    counted: InputTokens

    def batches(self, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[Examples]:
        for batch in super().batches(batch_size, rng):
            self.counted.add(batch)
            yield batch

    def chunks(self) -> Iterator[Examples]:
        for chunk in super().chunks():
            self.counted.add(chunk)
            yield chunk


class CountedSplit(_Counting):
    def __init__(self, task: Task, name: str, size: int, seed: int) -> None:
        super().__init__(task, name, size, seed)
        self.counted = InputTokens(task.signature.inputs == "tokens")


class CountedFreshTrain(_Counting, FreshTrain):
    def __init__(self, task: Task, size: int, seed: int) -> None:
        super().__init__(task, size, seed)
        self.counted = InputTokens(task.signature.inputs == "tokens")


def tokens_read(split: Split, examples_seen: int) -> float | None:
    """The input tokens of ``examples_seen`` examples of ``split`` (those a model reports
    for its epoch, or the test split's): that many times the mean of the batches read
    from it since last asked, so a model that reads its data in several passes an epoch
    (``numpy:ridge``) is not counted twice. None when the split does not count, or no
    batch was read."""
    counted = getattr(split, "counted", None)
    if not isinstance(counted, InputTokens):
        return None
    examples, tokens = counted.take()
    return examples_seen * tokens / examples if examples else None


def throughput(
    train: tuple[int, float | None], test: tuple[int, float | None], seconds: dict[str, float]
) -> dict[str, Any]:
    """``<phase>_examples_per_s``, ``<phase>_input_tokens`` and ``<phase>_input_tokens_per_s``
    for train and eval, from each phase's ``(examples, input tokens)``."""
    timings: dict[str, Any] = {}
    for phase, (examples, tokens) in (("train", train), ("eval", test)):
        spent = seconds.get(phase, 0.0)
        timings[f"{phase}_examples_per_s"] = examples / spent if spent > 0 and examples else None
        timings[f"{phase}_input_tokens"] = round(tokens) if tokens is not None else None
        timings[f"{phase}_input_tokens_per_s"] = tokens / spent if spent > 0 and tokens else None
    return timings
