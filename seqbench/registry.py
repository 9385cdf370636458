"""What plugins registered, by kind: the lookups the rest of seqbench uses. Each is the
plugin host's registry for one hook (seqbench.plugins), collected on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqbench.plugins import Registry, host

if TYPE_CHECKING:
    from seqbench.executors.base import Executor
    from seqbench.meters.base import Meter
    from seqbench.model import Model
    from seqbench.task import Task

__all__ = ["Registry", "tasks", "models", "meters", "executors"]


def tasks() -> Registry[type[Task]]:
    return host().registry("register_tasks")


def models() -> Registry[type[Model]]:
    return host().registry("register_models")


def meters() -> Registry[type[Meter]]:
    return host().registry("register_meters")


def executors() -> Registry[type[Executor]]:
    return host().registry("register_executors")
