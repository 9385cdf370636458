"""What the conformance rules share: the violation they raise, and the shape checks that
tasks' answers and models' predictions both obey."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from seqbench.task import Signature, Task

__all__ = ["ContractViolation", "calling", "check_answer", "describe", "answer_shape", "is_finite_number"]


class ContractViolation(AssertionError):
    """A plugin breaks the seqbench contract; the message says what and how to fix it."""

    def __init__(self, rule: str, subject: str, problem: str, fix: str) -> None:
        super().__init__(f"[{rule}] {subject}: {problem}\n  fix: {fix}")
        self.rule = rule


@contextmanager
def calling(what: str) -> Iterator[None]:
    """Let an exception from plugin code through, noting which call raised it."""
    try:
        yield
    except ContractViolation:
        raise
    except Exception as error:
        error.add_note(f"seqbench conformance: raised by {what}")
        raise


def is_finite_number(value: Any) -> bool:
    """A real, finite number: Python's or NumPy's, never a bool."""
    real = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    return real and math.isfinite(float(value))


def describe(value: Any) -> str:
    """``ndarray shape (64, 8) int32`` or the type name of anything else."""
    if isinstance(value, np.ndarray):
        return f"ndarray shape {value.shape} {value.dtype}"
    return type(value).__name__


def answer_shape(signature: Signature, count: int) -> tuple[int | None, ...]:
    """The shape of ``solve`` and ``predict`` output for ``count`` examples."""
    if signature.targets == "scalar":
        return (count,)
    if signature.targets == "tokens":
        return (count, signature.target_length)
    return (count, signature.target_length, 2)


def check_answer(rule: str, subject: str, task: Task, answer: Any, count: int, what: str) -> np.ndarray:
    """Answers (the oracle's or a model's) as the signature promises: a NumPy array of
    the declared shape; token ids below target_vocab; finite floats with positive
    variances for gaussian targets."""
    signature = task.signature
    expected = answer_shape(signature, count)
    kind = signature.targets
    if not isinstance(answer, np.ndarray):
        raise ContractViolation(
            rule, subject, f"{what} returned {describe(answer)}, not a NumPy array",
            "return NumPy arrays (convert framework tensors with .cpu().numpy())",
        )
    if answer.shape != expected:
        raise ContractViolation(
            rule, subject,
            f"{what} returned shape {answer.shape} for {count} examples; signature "
            f"{signature.describe()} promises {expected}",
            _shape_fix(kind),
        )
    if kind == "tokens":
        if not np.issubdtype(answer.dtype, np.integer):
            raise ContractViolation(
                rule, subject, f"{what} returned token ids of dtype {answer.dtype}",
                "return token ids as an integer array (e.g. argmax over the vocabulary)",
            )
        if answer.size and (answer.min() < 0 or answer.max() >= signature.target_vocab):
            raise ContractViolation(
                rule, subject,
                f"{what} returned token ids from {answer.min()} to {answer.max()}; "
                f"target_vocab is {signature.target_vocab}",
                "keep token ids in 0..target_vocab-1, or raise target_vocab in the signature",
            )
        return answer
    if not np.issubdtype(answer.dtype, np.floating):
        raise ContractViolation(
            rule, subject, f"{what} returned dtype {answer.dtype} for {kind} targets",
            "return floating-point values for scalar and gaussian targets",
        )
    if not np.all(np.isfinite(answer)):
        raise ContractViolation(
            rule, subject, f"{what} returned {int(np.sum(~np.isfinite(answer)))} non-finite values",
            "return finite numbers",
        )
    if kind == "gaussian" and not np.all(answer[..., 1] > 0):
        raise ContractViolation(
            rule, subject, f"{what} returned variances that are not positive (min {answer[..., 1].min()})",
            "the last axis is (mean, variance); keep variances positive, e.g. softplus + 1e-6",
        )
    return answer


def _shape_fix(kind: str) -> str:
    return {
        "scalar": "return one number per example, shape (N,): e.g. .reshape(-1)",
        "tokens": "return token ids of shape (N, target_length), right-padded with PAD_ID (0)",
        "gaussian": "return (mean, variance) per target position, shape (N, target_length, 2)",
    }[kind]
