"""The hooks a seqbench plugin can implement.

Each hook receives a ``register`` callback; one call can register many items, and
the host owns names, duplicates and which plugin each item came from.
"""

from __future__ import annotations

from typing import Callable

from pluggy import HookimplMarker, HookspecMarker

__all__ = ["hookspec", "hookimpl"]

hookspec = HookspecMarker("seqbench")
hookimpl = HookimplMarker("seqbench")


@hookspec
def register_tasks(register: Callable[[type], None]) -> None:
    """Register Task classes: ``register(TaskClass)``.

    :param register: call once per task class; its ``name`` must be unique.
    """


@hookspec
def register_models(register: Callable[[type], None]) -> None:
    """Register Model classes: ``register(ModelClass)``.

    :param register: call once per model class; its ``name`` must be unique.
    """


@hookspec
def register_meters(register: Callable[[type], None]) -> None:
    """Register measurement back-ends (Meter classes): ``register(MeterClass)``.

    :param register: call once per meter class; its ``name`` must be unique.
    """


@hookspec
def register_executors(register: Callable[[type], None]) -> None:
    """Register executors that run a suite's points: ``register(ExecutorClass)``.

    :param register: call once per executor class; its ``name`` must be unique.
    """
