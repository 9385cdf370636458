"""A registry of one kind of plugin item (tasks, models, meters, executors): the items
by name with the plugin that registered each, what a registration must be, names two
plugins registered (refused when used), and ``Registry.call``, through which the host
calls an item's plugin code so that whatever it raises becomes one ``PluginFailure``
line naming the item and its plugin.

The plugin host (seqbench.plugins) fills one registry per registration hook;
seqbench.registry is the lookups the rest of seqbench uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from seqbench.errors import UserError, did_you_mean

__all__ = ["Registry", "Registered", "PluginFailure", "PLUGIN_FAILURES", "DISABLE_ENV",
           "valid_name", "disabled_plugins", "describe_error"]

# The environment variable that keeps plugins from loading (comma-separated names).
DISABLE_ENV = "SEQBENCH_DISABLE_PLUGINS"

T = TypeVar("T")
R = TypeVar("R")

# What a broken plugin may raise into the host: SystemExit too (sys.exit, argparse), but
# not KeyboardInterrupt, which is the user's.
PLUGIN_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit)


class PluginFailure(UserError):
    """Plugin code failed where the host called it: one line naming the item, the call
    and the plugin (exit 2 where a command needed the item)."""


@dataclass
class Registered(Generic[T]):
    item: T
    plugin: str


class Registry(Generic[T]):
    """The items of one kind (task, model, meter, executor) by name, with the plugin that
    registered each; duplicate names are kept aside and refused when names are used."""

    def __init__(self, kind: str, whose: Callable[[str], str] = repr, base: type | None = None) -> None:
        self.kind = kind
        self._whose = whose  # a plugin's name -> how messages name it (with its distribution)
        self._base = base  # what every item must be a subclass of, when known
        self._entries: dict[str, Registered[T]] = {}
        self._conflicts: dict[str, list[str]] = {}

    def refusal(self, item: object) -> str | None:
        """Why ``item`` cannot be registered here (a sentence), or None. An item is a
        class of this registry's kind whose ``name`` one can type and print on one line."""
        base = self._base
        if base is not None and not (isinstance(item, type) and issubclass(item, base)):
            what = (f"class {item.__qualname__}" if isinstance(item, type)
                    else f"an instance of {type(item).__qualname__}, not a class,")
            return (f"registered {what} as a {self.kind}; register_{self.kind}s takes subclasses of "
                    f"{base.__module__}.{base.__qualname__}")
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            return f"registered a {self.kind} without a name: {item!r}"
        if not valid_name(name):
            return (f"registered {self.kind} {name!r}, a name that cannot be typed or shown on one line; "
                    "names are printable, without whitespace, commas or control characters")
        return None

    def add(self, item: T, plugin: str) -> None:
        reason = self.refusal(item)
        if reason is not None:
            raise TypeError(f"plugin {plugin!r} {reason}")
        name = getattr(item, "name")
        existing = self._entries.get(name)
        if existing is None:
            self._entries[name] = Registered(item, plugin)
        elif existing.item is item and existing.plugin == plugin and name not in self._conflicts:
            return  # the same class twice from the same plugin: nothing new
        else:
            self._conflicts.setdefault(name, [existing.plugin]).append(plugin)

    def conflict(self, name: str) -> str | None:
        """Why ``name`` cannot be used when it was registered more than once (by two
        plugins, or as two classes by one), else None. Both plugins are named with their
        distributions, and so is the way to keep either from loading: which is the
        impostor is the user's call, not the order plugins happened to load in."""
        plugins = self._conflicts.get(name)
        if plugins is None:
            return None
        owners = list(dict.fromkeys(plugins))
        if len(owners) == 1:
            return (f"{self.kind} {name!r} is registered twice, as two classes, by {self._whose(owners[0])}; "
                    f"its author must register one, or disable it with {DISABLE_ENV}={owners[0]}")
        named = " and ".join(self._whose(owner) for owner in owners)
        both = "both " if len(owners) == 2 else ""
        either = " or ".join(f"{DISABLE_ENV}={owner}" for owner in owners)
        return (f"{self.kind} {name!r} is registered by {both}{named}; uninstall one, "
                f"or keep one from loading: {either}")

    def conflicts(self) -> list[str]:
        """The names registered more than once (refused when used)."""
        return sorted(self._conflicts)

    def get(self, name: str) -> T:
        """The item called ``name``; a name two plugins registered is refused here, when
        it is used, so a clash between two plugins a suite does not use costs it nothing."""
        reason = self.conflict(name)
        if reason is not None:
            raise UserError(reason)
        if name not in self._entries:
            raise UserError(f"unknown {self.kind} {name!r}; {did_you_mean(name, self._entries)}")
        return self._entries[name].item

    def plugin_of(self, name: str) -> str:
        return self._entries[name].plugin

    def owner_of(self, name: str) -> str:
        """`` of plugin 'x' (its-distribution 1.0)`` for a registered ``name``, for a
        message about it; nothing for a name not registered here."""
        return f" of {self._whose(self.plugin_of(name))}" if name in self._entries else ""

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """Every usable item by name; names two plugins registered are left out (see
        ``conflicts``)."""
        return [(name, self._entries[name].item) for name in self.names() if name not in self._conflicts]

    def call(self, name: str, what: str, function: Callable[[], R],
             expected: tuple[type[BaseException], ...] = ()) -> R:
        """``function()``, plugin code of item ``name`` (``what`` says which:
        ``"unavailable()"``), contained: whatever it raises, SystemExit included,
        is a PluginFailure naming the item, the call and its plugin's distribution.
        ``expected`` exceptions (a ValueError saying the user's values are wrong) and a
        UserError pass through unchanged, for the caller to word."""
        passing: tuple[type[BaseException], ...] = (UserError, *expected)
        try:
            return function()
        except passing:
            raise
        except PLUGIN_FAILURES as error:
            owner = self._whose(self.plugin_of(name)) if name in self._entries else "its plugin"
            raise PluginFailure(
                f"{self.kind} {name!r} of {owner} is broken: {what} raised {describe_error(error)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def valid_name(name: str) -> bool:
    """A task's or model's name as users type it in suites and read it in listings:
    printable (no control or format characters, no line breaks), without whitespace
    (a name is one word on the command line and in ``seqbench plugins``' lists) or
    commas (those lists are comma-separated)."""
    return bool(name) and name.isprintable() and not any(c.isspace() or c == "," for c in name)


def describe_error(error: BaseException) -> str:
    """A plugin's exception as one line: its message's newlines would split the one line
    seqbench promises (and a traceback-like text would read as seqbench's own)."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= 500 else text[:497] + "..."


def disabled_plugins() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}
