"""The plugin host: pluggy's plugin manager, what each plugin is, and the registries its
hooks filled, on one object (pluggy's eggsample pattern: ``get_plugin_manager()`` makes
the manager, ``host()`` is this process's host, ``reset()`` forgets it, for tests).

Every registration hook is called through pluggy, ``pm.hook.register_*(register=...)``,
so hook wrappers, tracing and implementations taking fewer arguments than the spec work
as pluggy documents them. Each plugin is registered as a stand-in carrying its hook
implementations, each wrapped so that the host knows whose code is running (every item
registered knows its plugin) and so that an implementation that raises, a hook wrapper
included, costs its plugin one warning, not the other plugins' registrations (pluggy
itself stops a call at the first exception).

Plugin code the host calls later (a model's ``unavailable()``, a task's ``signature``,
a model's ``validate``) goes through ``Registry.call``: whatever it raises,
``SystemExit`` included, becomes one ``PluginFailure`` line naming the item, what was
called and the plugin's distribution. Everything that catches a plugin's failure
catches ``PLUGIN_FAILURES``: ``Exception`` and ``SystemExit`` (a plugin that parses
``sys.argv`` at import exits), never ``KeyboardInterrupt``.
"""

from __future__ import annotations

import functools
import importlib
import io
import os
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any, Callable, Generator, Generic, Iterator, TypeVar

import pluggy

from seqbench import hookspecs
from seqbench.errors import UserError, did_you_mean

__all__ = ["get_plugin_manager", "host", "reset", "load_plugins", "plugin_infos", "PluginHost",
           "PluginInfo", "Registry", "PluginFailure", "PLUGIN_FAILURES", "DEFAULT_PLUGINS",
           "ENTRY_POINT_GROUP", "DISABLE_ENV"]

PROJECT = "seqbench"
ENTRY_POINT_GROUP = "seqbench"
DISABLE_ENV = "SEQBENCH_DISABLE_PLUGINS"
REGISTRATION_PREFIX = "register_"

# Core features are plugins too, registered through the same hooks as anyone's.
DEFAULT_PLUGINS = (
    "seqbench.default_plugins.oracle",
    "seqbench.default_plugins.ridge",
    "seqbench.default_plugins.resources",
    "seqbench.default_plugins.nvml",
    "seqbench.default_plugins.local",
    "seqbench.default_plugins.ray",
)

T = TypeVar("T")
R = TypeVar("R")

# What a broken plugin may raise into the host: SystemExit too (sys.exit, argparse), but
# not KeyboardInterrupt, which is the user's.
PLUGIN_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit)


class PluginFailure(UserError):
    """Plugin code failed where the host called it: one line naming the item, the call
    and the plugin (exit 2 where a command needed the item)."""


def get_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows seqbench's hooks and no plugin yet."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


@dataclass
class PluginInfo:
    """One installed plugin: where it comes from, whether it loaded, what it registered
    (by kind, filled in as each registry is collected)."""

    name: str
    distribution: str
    version: str
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Registered(Generic[T]):
    item: T
    plugin: str


class Registry(Generic[T]):
    """The items of one kind (task, model, meter, executor) by name, with the plugin that
    registered each; duplicate names are kept aside and refused when names are used."""

    def __init__(self, kind: str, whose: Callable[[str], str] = repr) -> None:
        self.kind = kind
        self._whose = whose  # a plugin's name -> how messages name it (with its distribution)
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

    def conflict(self, name: str) -> str | None:
        """Why ``name`` cannot be used when more than one plugin registered it, else None."""
        plugins = self._conflicts.get(name)
        if plugins is None:
            return None
        owners = " and ".join(repr(p) for p in plugins)
        return (f"{self.kind} {name!r} is registered by both {owners}; uninstall one, "
                f"or disable it with {DISABLE_ENV}={plugins[-1]}")

    def conflicts(self) -> list[str]:
        """The names more than one plugin registered (refused when used)."""
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
                f"{self.kind} {name!r} of {owner} is broken: {what} raised {_describe(error)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def disabled_plugins() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


def _warn(message: str) -> None:
    # One plain line: a `warnings` prefix of file and line would read like a seqbench bug.
    print(f"warning: {message}", file=sys.stderr)


def _describe(error: BaseException) -> str:
    """A plugin's exception as one line: its message's newlines would split the one line
    seqbench promises (and a traceback-like text would read as seqbench's own)."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= 500 else text[:497] + "..."


def _last_line(printed: str) -> str:
    """What a failed import printed last (argparse's ``error: ...`` line), as a clause."""
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    return f" (it printed: {lines[-1][:200]})" if lines else ""


class PluginHost:
    """seqbench's plugins: the plugin manager, a PluginInfo per plugin, and a registry per
    registration hook (collected on first use)."""

    def __init__(self, pm: pluggy.PluginManager | None = None) -> None:
        self.pm = pm if pm is not None else get_plugin_manager()
        self._infos: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry[Any]] = {}
        self._loaded = False
        self._acting: str | None = None  # the plugin whose hook implementation is running

    # Loading -------------------------------------------------------------------------

    def load(self) -> None:
        """Register the built-in plugins and installed entry points, once.

        A plugin that fails to import (or implements a hook seqbench does not define) is
        reported with one warning naming it; every other plugin still loads.
        """
        if self._loaded:
            return
        self._loaded = True
        disabled = disabled_plugins()
        from seqbench import __version__

        for module_name in DEFAULT_PLUGINS:
            if module_name in disabled:
                continue
            self.add(importlib.import_module(module_name), module_name, PROJECT, __version__)

        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name in disabled or self.pm.has_plugin(entry_point.name):
                continue
            dist = entry_point.dist
            info = PluginInfo(entry_point.name, dist.name if dist else "?", dist.version if dist else "?")
            self._infos[info.name] = info
            printed = io.StringIO()
            try:
                # What the import prints is held back: an import that parses sys.argv
                # and exits prints argparse's usage, which is not seqbench's.
                with redirect_stdout(printed), redirect_stderr(printed):
                    plugin = entry_point.load()
                self._register(plugin, info.name)
                self.pm.check_pending()
            except PLUGIN_FAILURES as error:  # any import-time failure is the plugin's, not ours
                if self.pm.has_plugin(info.name):
                    self.pm.unregister(name=info.name)
                info.error = _describe(error) + _last_line(printed.getvalue())
                _warn(f"seqbench {self.describe_plugin(info.name)} failed to load: {info.error}")
            else:
                sys.stderr.write(printed.getvalue())  # a plugin's own import-time notes

    def add(self, plugin: object, name: str, distribution: str, version: str) -> None:
        """Register one plugin object (a module, say) under ``name``, before the registries
        are first used; for plugins that are not entry points (the built-in ones, tests')."""
        self._register(plugin, name)
        self._infos[name] = PluginInfo(name, distribution, version)

    def _register(self, plugin: object, name: str) -> None:
        self.pm.register(self._stand_in(plugin, name), name=name)

    def infos(self) -> list[PluginInfo]:
        self.load()
        return list(self._infos.values())

    def describe_plugin(self, name: str) -> str:
        """How a message names plugin ``name``: ``plugin 'x' (its-distribution 1.0)``."""
        info = self._infos.get(name)
        if info is None:
            return f"plugin {name!r}"
        return f"plugin {name!r} ({info.distribution} {info.version})"

    # Registries ----------------------------------------------------------------------

    def hook_names(self) -> list[str]:
        """Every registration hook seqbench defines, today's and any added later."""
        return sorted(name for name in vars(self.pm.hook) if name.startswith(REGISTRATION_PREFIX)
                      and getattr(self.pm.hook, name).has_spec())

    def registry(self, hook_name: str) -> Registry[Any]:
        """What every plugin registered through ``hook_name``, collected on first use."""
        if hook_name in self._registries:
            return self._registries[hook_name]
        self.load()
        kind = hook_name.removeprefix(REGISTRATION_PREFIX).removesuffix("s")
        registry: Registry[Any] = Registry(kind, self.describe_plugin)

        def register(item: object) -> None:
            if self._acting is None:
                raise TypeError(f"register() was called outside a {hook_name} implementation")
            registry.add(item, self._acting)

        getattr(self.pm.hook, hook_name)(register=register)
        for name in registry.names():
            info = self._infos.get(registry.plugin_of(name))
            if info is not None:
                info.registered.setdefault(kind, []).append(name)
        self._registries[hook_name] = registry
        return registry

    # Attribution ---------------------------------------------------------------------

    @contextmanager
    def _acting_as(self, plugin: str) -> Iterator[None]:
        previous, self._acting = self._acting, plugin
        try:
            yield
        finally:
            self._acting = previous

    def _stand_in(self, plugin: object, name: str) -> SimpleNamespace:
        """An object with ``plugin``'s hook implementations under the same names and
        markers (so pluggy validates them, and ``check_pending`` still catches a hook
        name seqbench does not define), each run as plugin ``name``."""
        members: dict[str, Callable[..., object]] = {}
        for attribute in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attribute)
            if opts is None:
                continue
            function = getattr(plugin, attribute)
            hook_name = opts.get("specname") or attribute
            wrapper = opts.get("wrapper") or opts.get("hookwrapper")
            attributed = (self._stepped if wrapper else self._contained)(function, name, hook_name)
            setattr(attributed, f"{PROJECT}_impl", opts)
            members[attribute] = attributed
        return SimpleNamespace(**members)

    def _contained(self, function: Callable[..., object], plugin: str, hook_name: str) -> Callable[..., object]:
        """A plain implementation, run as ``plugin``; if it raises, one warning and the
        call goes on to the other plugins."""

        @functools.wraps(function)  # pluggy reads the arguments through __wrapped__
        def contained(*args: object, **kwargs: object) -> object:
            with self._acting_as(plugin):
                try:
                    return function(*args, **kwargs)
                except PLUGIN_FAILURES as error:  # a broken plugin must not take the others down
                    _warn(f"seqbench {self.describe_plugin(plugin)} failed in {hook_name}: {_describe(error)}")
                    return None

        return contained

    def _stepped(self, function: Callable[..., Any], plugin: str,
                 hook_name: str) -> Callable[..., Generator[Any, Any, Any]]:
        """A hook wrapper (a generator: set-up, ``yield``, tear-down), each half run as
        ``plugin``. If either half raises, or it does not yield exactly once, one
        warning, and the call goes on as if the wrapper were not there."""

        def failed(error: BaseException) -> None:
            _warn(f"seqbench {self.describe_plugin(plugin)} failed in {hook_name}: {_describe(error)}")

        @functools.wraps(function)
        def stepped(*args: object, **kwargs: object) -> Generator[Any, Any, Any]:
            steps = function(*args, **kwargs)
            with self._acting_as(plugin):
                try:
                    first = next(steps)
                except StopIteration:
                    failed(RuntimeError("the wrapper did not yield"))
                    return (yield)
                except PLUGIN_FAILURES as error:
                    failed(error)
                    return (yield)
            try:
                outcome = yield first
            except BaseException as error:  # the call failed: the wrapper may handle it
                with self._acting_as(plugin):
                    try:
                        steps.throw(error)
                    except StopIteration as stop:
                        return stop.value
                    steps.close()
                    raise
            with self._acting_as(plugin):
                try:
                    steps.send(outcome)
                except StopIteration as stop:
                    return stop.value
                except PLUGIN_FAILURES as error:
                    failed(error)
                    return outcome
                steps.close()
                failed(RuntimeError("the wrapper yielded twice"))
                return outcome

        return stepped


@functools.cache
def host() -> PluginHost:
    """This process's plugin host, made on first use."""
    return PluginHost()


def reset() -> None:
    """Forget every plugin and registry, so the next use reads entry points afresh (for
    tests)."""
    host.cache_clear()


def load_plugins() -> None:
    host().load()


def plugin_infos() -> list[PluginInfo]:
    return host().infos()
