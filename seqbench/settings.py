"""The ``[run]`` settings every point of a suite shares (and ``run.*`` sweeps vary)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from seqbench.params import ParamError, param

__all__ = ["RunSettings", "check_device", "SMOKE_LIMITS", "TARGET_KEYS"]

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")

TARGET_KEYS = ("metric", "value", "direction")

# What ``--smoke`` shrinks run settings to: enough to exercise every phase in seconds.
SMOKE_LIMITS = {"epochs": 2, "train_size": 256, "eval_size": 128, "batch_size": 64}


@dataclass(frozen=True)
class RunSettings:
    epochs: int = param(10, min=1, help="training epochs (early stopping may end sooner)")
    train_size: int = param(20_000, min=1, help="training examples")
    eval_size: int = param(2_000, min=1, help="validation examples, and test examples")
    batch_size: int = param(256, min=1, help="examples per training and evaluation batch")
    patience: int | None = param(
        None, min=1, help="stop after this many epochs without validation improvement"
    )
    device: str = param("auto", help="auto | cpu | cuda | cuda:N")
    timeout: float | None = param(
        None, min=0.001, help="seconds before a point is stopped and stored as failed"
    )
    eval_lengths: list[int] | None = param(
        None, help="also test at each of these sequence lengths; metrics stored per length"
    )
    sample_hz: float | None = param(
        None, min=10, max=100, help="GPU power, utilisation, memory samples a second (10 if unset)"
    )
    target: dict[str, Any] | None = param(
        None,
        help="{metric = NAME, value = X}: record the training time and energy until the "
        "validation metric first reaches X (direction = min | max; default the task's)",
    )
    train_data: Literal["fixed", "fresh"] | None = param(
        None,
        help="fixed (unset): the same train_size examples every epoch; fresh: train_size "
        "new examples every epoch, from the train split's stream",
    )
    smoke: bool = param(False, help="set by --smoke: sizes shrunk to run in seconds")


def check_device(value: str) -> str:
    if not DEVICE_PATTERN.match(value):
        raise ParamError("device", f"expected auto, cpu, cuda or cuda:N, got {value!r}")
    return value
