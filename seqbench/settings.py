"""Settings, one type per concern.

- ``RunSettings``: the ``[run]`` table every point of a suite shares (and ``run.*``
  sweeps vary). ``seqbench.suite`` builds one per point, validated, and it travels
  inside the point to the worker.
- ``Target``: ``run.target``, the validation metric whose first reaching is timed.
- ``FitSettings``: the part of a point's settings a model's training loop sees,
  derived from the run settings by ``RunSettings.fit_settings(seed)``, never copied by
  hand. (Re-exported as ``seqbench.FitSettings`` and from ``seqbench.model``.)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from seqbench.params import ParamError, param

__all__ = [
    "RunSettings",
    "Target",
    "FitSettings",
    "check_device",
    "SMOKE_LIMITS",
    "TARGET_KEYS",
    "LATER_SETTINGS",
    "MAX_SPLIT_EXAMPLES",
]

# ASCII digits only, no leading zero, matched whole: ``\d`` would take full-width digits
# and ``$`` a trailing newline, which no framework reads as the same device.
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda|cuda:(?:0|[1-9][0-9]*)")

TARGET_KEYS = ("metric", "value", "direction")

# train_size and eval_size: at most 2**29 examples, the most of the smallest example
# there is (one input value, one target) that fit a split's 2**30 values
# (seqbench.task_probe.MAX_SPLIT_VALUES, which then bounds them by the task's own
# example size). Unbounded, 10**12 passed validation and failed every point with a
# MemoryError (the harness's list of a split's chunks alone was 7 GiB).
MAX_SPLIT_EXAMPLES = 2**29

# What ``--smoke`` shrinks run settings to: enough to exercise every phase in seconds.
SMOKE_LIMITS = {"epochs": 2, "train_size": 256, "eval_size": 128, "batch_size": 64}

Direction = Literal["min", "max"]

# Run settings added after a point's JSON took its shape: while unset they are left out
# of it (RunSettings.as_dict), so a point that does not use them goes to its worker as
# the same bytes as before, which a worker of an earlier version (a Ray node not yet
# upgraded) still reads; from_dict gives a missing one its default.
LATER_SETTINGS = frozenset({"threads", "train_data"})


@dataclass(frozen=True)
class Target:
    """``run.target = {metric = NAME, value = X[, direction = "min" | "max"]}``.

    ``value`` is kept as the suite wrote it (an integer stays one) and ``direction``
    only when given, so a point's configuration, and therefore its hash, is what it
    was when the target was a plain table.
    """

    metric: str
    value: float
    direction: Direction | None = None  # None: the task's direction

    def as_dict(self) -> dict[str, Any]:
        """The table as written: ``direction`` only when it was given."""
        table: dict[str, Any] = {"metric": self.metric, "value": self.value}
        if self.direction is not None:
            table["direction"] = self.direction
        return table

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> Target:
        return cls(metric=table["metric"], value=table["value"], direction=table.get("direction"))

    def direction_for(self, task_direction: Direction) -> Direction:
        return self.direction if self.direction is not None else task_direction

    def reached_by(self, value: float, task_direction: Direction) -> bool:
        """True when ``value`` is at least as good as the target."""
        return reaches(value, self.value, self.direction_for(task_direction))


def reaches(value: float, target: float, direction: str) -> bool:
    """True when ``value`` is at least as good as ``target`` ("min": lower is better)."""
    return value <= target if direction == "min" else value >= target


@dataclass(frozen=True)
class FitSettings:
    """Run settings a training loop needs."""

    epochs: int
    batch_size: int
    device: str
    seed: int
    patience: int | None


@dataclass(frozen=True)
class RunSettings:
    epochs: int = param(10, min=1, help="training epochs (early stopping may end sooner)")
    train_size: int = param(20_000, min=1, max=MAX_SPLIT_EXAMPLES, help="training examples")
    eval_size: int = param(
        2_000, min=1, max=MAX_SPLIT_EXAMPLES, help="validation examples, and test examples"
    )
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
    target: Target | None = param(
        None,
        help="{metric = NAME, value = X}: record the training time and energy until the "
        "validation metric first reaches X (direction = min | max; default the task's)",
    )
    # Unset means "auto": a default that is not None would change every stored point's hash.
    # At most 1,024: more than any machine's cores, and far fewer than the 100,000 whose
    # thread stacks crashed a torch worker (SIGSEGV) instead of being refused.
    threads: Literal["auto", "framework"] | int | None = param(
        None,
        min=1,
        max=1024,
        help="CPU threads per point: auto when unset (usable cores / points at once, OpenMP "
        "threads sleep when idle), framework (their defaults) or a number; see docs/measurement.md",
    )
    train_data: Literal["fixed", "fresh"] | None = param(
        None,
        help="fixed (unset): the same train_size examples every epoch; fresh: train_size "
        "new examples every epoch, from the train split's stream",
    )
    smoke: bool = param(False, help="set by --smoke: sizes shrunk to run in seconds")

    def as_dict(self) -> dict[str, Any]:
        """Every setting, unset ones as None, the target as its table: the ``run``
        object of a point's JSON and the mapping meters are given. Settings added since
        that JSON took its shape (``LATER_SETTINGS``) are left out while unset."""
        values = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in LATER_SETTINGS or getattr(self, field.name) is not None
        }
        if self.target is not None:
            values["target"] = self.target.as_dict()
        if self.eval_lengths is not None:
            values["eval_lengths"] = list(self.eval_lengths)
        return values

    def config(self) -> dict[str, Any]:
        """The settings that identify a point: unset (None) ones are left out, so a
        setting added to a later seqbench does not change every stored point's hash."""
        return {key: value for key, value in self.as_dict().items() if value is not None}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunSettings:
        """From ``as_dict``'s shape (a point's JSON); the values were validated when the
        suite was loaded."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown run setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        target = values.get("target")
        return cls(**{**values, "target": Target.from_dict(target) if target is not None else None})

    def fit_settings(self, seed: int) -> FitSettings:
        """What the model's training loop sees of these settings, for one seed."""
        return FitSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            device=self.device,
            seed=seed,
            patience=self.patience,
        )


def check_device(value: str) -> str:
    """``value`` if it is exactly ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (N in ASCII
    digits, no sign or leading zero); else ParamError. Whether the GPU exists is
    ``seqbench.devices.check_here``'s question."""
    if not isinstance(value, str) or not DEVICE_PATTERN.fullmatch(value):
        raise ParamError("device", f"expected auto, cpu, cuda or cuda:N, got {value!r}")
    return value
