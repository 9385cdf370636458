"""Which plugins, tasks, models and (model, task) pairs the conformance checks run over."""

from __future__ import annotations

from typing import Any

import pytest

from seqbench import registry
from seqbench.plugins import plugin_infos
from seqbench.model import Model
from seqbench.task import Signature, Task
from seqbench.testing.build import tiny_task

__all__ = ["parameters"]


def parameters(selected: set[str] | None) -> dict[str, list[Any]]:
    """pytest parameters per argument name of the conformance checks, for the plugins
    named in ``selected`` (every installed plugin when None)."""
    infos = plugin_infos()
    chosen = {info.name for info in infos} if selected is None else selected
    tasks, models = registry.tasks(), registry.models()
    task_names = [name for name in tasks.names() if tasks.plugin_of(name) in chosen]
    model_names = [name for name in models.names() if models.plugin_of(name) in chosen]
    pairs = {name: _servable(models.get(name), tasks) for name in model_names}
    return {
        "plugin_name": [pytest.param(info.name, id=info.name) for info in infos if info.name in chosen],
        "task_name": [pytest.param(name, id=name) for name in task_names],
        "model_name": [pytest.param(name, id=name) for name in model_names],
        "model_on_task": [
            _pair(model, task) for model in model_names for task in _or_none(pairs[model])
        ],
        "model_on_first_task": [_pair(model, _or_none(pairs[model])[0]) for model in model_names],
    }


def _servable(model_cls: type[Model], tasks: registry.Registry[type[Task]]) -> list[str]:
    """One installed task per signature shape ``model_cls`` serves, judged on their tiny
    instances: the first by name of each shape.

    A model meets each shape of input and target it serves, not every task: checks
    run models x tasks, and a library of synthetic token tasks alike in shape would
    multiply the kit's time without reaching new code in the model.
    """
    names: list[str] = []
    shapes: set[tuple[Any, ...]] = set()
    for name in tasks.names():
        try:
            signature = tiny_task(name).signature
        except Exception:  # the task's own declaration check reports it
            continue
        if model_cls.supports(signature) and _shape(signature) not in shapes:
            shapes.add(_shape(signature))
            names.append(name)
    return names


def _or_none(tasks: list[str]) -> list[str | None]:
    """``tasks``, or one None (no task) in their place, so a model without one is reported."""
    return [*tasks] if tasks else [None]


def _shape(signature: Signature) -> tuple[Any, ...]:
    """What a model's code may branch on: the kinds, whether the target has an end
    token, and whether it is a single answer or a sequence."""
    return (signature.kind, signature.end_id is not None, signature.target_length == 1)


def _pair(model: str, task: str | None) -> Any:
    if task is None:
        reason = f"no installed task has a signature {model!r} serves; install a task plugin that has one"
        return pytest.param((model, None), id=f"{model}@no-task", marks=pytest.mark.skip(reason=reason))
    return pytest.param((model, task), id=f"{model}@{task}")
