"""Which plugins, tasks, models and (model, task) pairs the conformance checks run over."""

from __future__ import annotations

from typing import Any

import pytest

from seqbench import registry
from seqbench.plugins import plugin_infos
from seqbench.model import Model
from seqbench.task import Task
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
    """The installed tasks ``model_cls`` serves, judged on their tiny instances."""
    names = []
    for name in tasks.names():
        try:
            signature = tiny_task(name).signature
        except Exception:  # the task's own declaration check reports it
            continue
        if model_cls.supports(signature):
            names.append(name)
    return names


def _or_none(tasks: list[str]) -> list[str | None]:
    """``tasks``, or one None (no task) in their place, so a model without one is reported."""
    return [*tasks] if tasks else [None]


def _pair(model: str, task: str | None) -> Any:
    if task is None:
        reason = f"no installed task has a signature {model!r} serves; install a task plugin that has one"
        return pytest.param((model, None), id=f"{model}@no-task", marks=pytest.mark.skip(reason=reason))
    return pytest.param((model, task), id=f"{model}@{task}")
