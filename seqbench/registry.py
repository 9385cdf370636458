"""Registries of what plugins registered: tasks, models, meters, executors."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from seqbench.errors import UserError, did_you_mean
from seqbench.plugins import _infos, load_plugins, pm

__all__ = ["Registry", "tasks", "models", "meters", "executors"]

T = TypeVar("T")


@dataclass
class Registered(Generic[T]):
    item: T
    plugin: str


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registered[T]] = {}
        self._conflicts: dict[str, list[str]] = {}

    def add(self, item: T, plugin: str) -> None:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"plugin {plugin!r} registered a {self.kind} without a name: {item!r}")
        if name in self._entries:
            self._conflicts.setdefault(name, [self._entries[name].plugin]).append(plugin)
            return
        self._entries[name] = Registered(item, plugin)

    def check(self) -> None:
        """Refuse duplicate names, naming every plugin that claimed them."""
        for name, plugins in self._conflicts.items():
            owners = " and ".join(repr(p) for p in plugins)
            raise UserError(
                f"{self.kind} {name!r} is registered by both {owners}; uninstall one, "
                f"or disable it with SEQBENCH_DISABLE_PLUGINS={plugins[-1]}"
            )

    def get(self, name: str) -> T:
        self.check()
        if name not in self._entries:
            raise UserError(f"unknown {self.kind} {name!r}; {did_you_mean(name, self._entries)}")
        return self._entries[name].item

    def plugin_of(self, name: str) -> str:
        return self._entries[name].plugin

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        self.check()
        return [(name, self._entries[name].item) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries


_cache: dict[str, Registry] = {}


def _collect(hook_name: str, kind: str) -> Registry:
    if hook_name in _cache:
        return _cache[hook_name]
    load_plugins()
    registry: Registry = Registry(kind)
    # Call each implementation on its own so every item knows which plugin it came from.
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        try:
            impl.function(register=partial(registry.add, plugin=impl.plugin_name))
        except Exception as error:  # a broken plugin must not take the others down
            print(
                f"warning: seqbench plugin {impl.plugin_name!r} failed in {hook_name}: "
                f"{type(error).__name__}: {error}",
                file=sys.stderr,
            )
    for name, entry in registry._entries.items():
        info = _infos.get(entry.plugin)
        if info is not None:
            info.registered.setdefault(kind, []).append(name)
    _cache[hook_name] = registry
    return registry


def tasks() -> Registry:
    return _collect("register_tasks", "task")


def models() -> Registry:
    return _collect("register_models", "model")


def meters() -> Registry:
    return _collect("register_meters", "meter")


def executors() -> Registry:
    return _collect("register_executors", "executor")
