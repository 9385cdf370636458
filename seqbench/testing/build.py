"""Registered tasks and models at tiny size, and a tiny training run, for plugin tests.

"Tiny" is what ``seqbench run --smoke`` uses: the declared defaults with the class's
``smoke`` overrides on top, so a plugin author tunes one attribute for both.
"""

from __future__ import annotations

from typing import Any

from seqbench import registry
from seqbench.data import Split
from seqbench.model import EpochOutcome, FitSettings, Model
from seqbench.params import ParamError, coerce_params
from seqbench.task import Task

__all__ = ["tiny_task", "tiny_model", "tiny_settings", "fit", "EpochLog", "TINY_EXAMPLES"]

TINY_EXAMPLES = 64  # training examples in a tiny fit: two batches of TINY_BATCH
TINY_BATCH = 32


def _resolve(kind: str, name_or_class: str | type) -> type:
    if isinstance(name_or_class, str):
        return getattr(registry, kind)().get(name_or_class)
    return name_or_class


def _instantiate(cls: type[Task] | type[Model], overrides: dict[str, Any]) -> Any:
    values = {**getattr(cls, "smoke", {}), **overrides}
    try:
        params = coerce_params(cls, values)
    except ParamError as error:
        source = "overrides" if error.key in overrides else f"{cls.__name__}.smoke"
        raise ValueError(f"{cls.name!r} at tiny size: {source}: {error}") from None
    return cls(**params)


def tiny_task(name_or_class: str | type, **overrides: Any) -> Task:
    """A registered task (by name, or a Task class) with its defaults, its ``smoke``
    overrides and ``overrides``, validated as a suite's values would be."""
    return _instantiate(_resolve("tasks", name_or_class), overrides)


def tiny_model(name_or_class: str | type, **overrides: Any) -> Model:
    """A registered model (by name, or a Model class) at its ``smoke`` size."""
    return _instantiate(_resolve("models", name_or_class), overrides)


def tiny_settings(epochs: int = 2, batch_size: int = TINY_BATCH, seed: int = 0) -> FitSettings:
    return FitSettings(epochs=epochs, batch_size=batch_size, device="cpu", seed=seed, patience=None)


class EpochLog:
    """An ``on_epoch`` callback that records every call and answers as told:
    ``stop_after`` epochs, then stop; every epoch counts as improved."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.calls: list[tuple[Any, Any, Any]] = []

    def __call__(self, epoch: int, train_loss: float, examples_seen: int) -> EpochOutcome:
        self.calls.append((epoch, train_loss, examples_seen))
        stop = self.stop_after is not None and len(self.calls) >= self.stop_after
        return EpochOutcome(stop=stop, improved=True)


def fit(
    model: Model,
    task: Task,
    settings: FitSettings | None = None,
    examples: int = TINY_EXAMPLES,
    on_epoch: EpochLog | None = None,
) -> EpochLog:
    """Build ``model`` for ``task`` and train it on ``examples`` training examples
    (seed ``settings.seed``), as the harness would; returns the epochs it reported."""
    settings = settings or tiny_settings()
    log = on_epoch or EpochLog()
    model.build(task, settings)
    model.fit(Split(task, "train", examples, settings.seed), settings, log)
    return log
