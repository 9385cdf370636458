"""What the benchmarks run over: every registered task at its tiny (smoke) length and half
of it, and every registered model on every task (and length) it serves."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

import pytest

from seqbench import registry
from seqbench.params import param_specs
from seqbench.task import Task
from seqbench.testing import tiny_task


def lengths(task: Task) -> list[int]:
    """The task's tiny length and half of it, where half makes a valid task."""
    if task.length_param is None:
        return [0]
    base = getattr(task, task.length_param)
    spec = next(s for s in param_specs(type(task)) if s.name == task.length_param)
    found = [base]
    shorter = base // 2
    if shorter != base and (spec.min is None or shorter >= spec.min):
        try:
            dataclasses.replace(task, **{task.length_param: shorter})
            found.insert(0, shorter)
        except (ValueError, TypeError):
            pass
    return found


def at_length(task_name: str, length: int) -> Task:
    task = tiny_task(task_name)
    return dataclasses.replace(task, **{task.length_param: length}) if task.length_param else task


def _label(task: Task, length: int) -> str:
    return f"{task.name}-{task.length_param}={length}" if task.length_param else task.name


@cache
def task_cases() -> list[Any]:
    cases = []
    for name in registry.tasks().names():
        task = tiny_task(name)
        cases += [pytest.param((name, length), id=_label(task, length)) for length in lengths(task)]
    return cases


@cache
def model_cases() -> list[Any]:
    cases = []
    for model_name, model_cls in registry.models().items():
        for task_param in task_cases():
            task_name, length = task_param.values[0]
            if model_cls.supports(at_length(task_name, length).signature):
                case = (model_name, task_name, length)
                cases.append(pytest.param(case, id=f"{model_name}-{task_param.id}"))
    return cases
