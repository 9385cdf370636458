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

What a plugin hands the host is checked where it enters: ``register`` takes classes
of the hook's kind with a name one can type and print on one line (anything else is
refused with a warning, and the plugin's other items still register); a hook that
returns items instead of registering them is warned of; what a hook prints goes to
stderr; an entry-point name two distributions install loads neither (an impostor
cannot take a plugin's place by being listed first); an import slower than
``SLOW_IMPORT_S`` is named. Each problem is also kept on the plugin's ``PluginInfo``
for ``seqbench plugins``.

Plugin code the host calls later (a model's ``unavailable()``, a task's ``signature``,
a model's ``validate``) goes through ``Registry.call`` (seqbench.plugin_registry): whatever it raises,
``SystemExit`` included, becomes one ``PluginFailure`` line naming the item, what was
called and the plugin's distribution. Everything that catches a plugin's failure
catches ``PLUGIN_FAILURES``: ``Exception`` and ``SystemExit`` (a plugin that parses
``sys.argv`` at import exits), never ``KeyboardInterrupt``.
"""

from __future__ import annotations

import functools
import importlib
import io
import sys
import time
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import SimpleNamespace
from typing import Any, Callable, Generator, Iterator

import pluggy

from seqbench import hookspecs
from seqbench.plugin_registry import (
    DISABLE_ENV,
    PLUGIN_FAILURES,
    PluginFailure,
    Registry,
    describe_error,
    disabled_plugins,
)

__all__ = ["get_plugin_manager", "host", "reset", "load_plugins", "plugin_infos", "PluginHost",
           "PluginInfo", "Registry", "PluginFailure", "PLUGIN_FAILURES", "DEFAULT_PLUGINS",
           "ENTRY_POINT_GROUP", "DISABLE_ENV"]

PROJECT = "seqbench"
ENTRY_POINT_GROUP = "seqbench"
REGISTRATION_PREFIX = "register_"
# What each registration hook takes: subclasses of these (imported when the hook's
# registry is first collected, so loading seqbench imports no more than it did).
ITEM_BASES = {
    "register_tasks": "seqbench.task:Task",
    "register_models": "seqbench.model:Model",
    "register_meters": "seqbench.meters.base:Meter",
    "register_executors": "seqbench.executors.base:Executor",
}
# An import slower than this is named: every command and every point's worker pays it.
SLOW_IMPORT_S = 1.0

# Core features are plugins too, registered through the same hooks as anyone's.
DEFAULT_PLUGINS = (
    "seqbench.default_plugins.oracle",
    "seqbench.default_plugins.ridge",
    "seqbench.default_plugins.resources",
    "seqbench.default_plugins.nvml",
    "seqbench.default_plugins.local",
    "seqbench.default_plugins.ray",
)

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
    # Set when another distribution installs an entry point of the same name: neither loads.
    conflict: str | None = None
    # What went wrong while it registered (a hook that raised, an item refused), one line each.
    problems: list[str] = field(default_factory=list)


def _warn(message: str) -> None:
    # One plain line: a `warnings` prefix of file and line would read like a seqbench bug.
    print(f"warning: {message}", file=sys.stderr)


def _brief(value: object) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _distribution(entry_point: EntryPoint) -> tuple[str, str]:
    """The name and version of the distribution that installs ``entry_point``."""
    dist = entry_point.dist
    return (dist.name, dist.version) if dist is not None else ("?", "?")


def _item_base(hook_name: str) -> type | None:
    """The class every item ``hook_name`` registers must subclass; None for a hook
    seqbench added after this table."""
    where = ITEM_BASES.get(hook_name)
    if where is None:
        return None
    module, _, attribute = where.partition(":")
    base: type = getattr(importlib.import_module(module), attribute)
    return base


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
        self._clashing: list[PluginInfo] = []  # entry points refused for a name taken twice
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

        by_name: dict[str, list[EntryPoint]] = {}
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name in disabled:
                continue
            same = by_name.setdefault(entry_point.name, [])
            if not any(_distribution(e) == _distribution(entry_point) and e.value == entry_point.value
                       for e in same):  # one distribution seen twice is still one
                same.append(entry_point)
        for name, found in by_name.items():
            if len(found) > 1 or self.pm.has_plugin(name):
                self._refuse_clash(name, found)
            else:
                self._load_entry_point(found[0])

    def _refuse_clash(self, name: str, found: list[EntryPoint]) -> None:
        """An entry-point name two distributions use (or one a built-in plugin has): none
        of them loads. Loading the first found would let whichever distribution
        ``entry_points()`` happens to list first, an impostor included, take the name."""
        infos = [PluginInfo(name, *_distribution(entry_point)) for entry_point in found]
        owners = [f"{info.distribution} {info.version}" for info in infos]
        if self.pm.has_plugin(name):
            why = (f"entry point {name!r} of {' and '.join(owners)} has the name of a seqbench built-in "
                   "plugin; it is not loaded: rename the entry point")
        else:
            listed = " and ".join([", ".join(owners[:-1]), owners[-1]])
            why = (f"entry point {name!r} is installed by {'both ' if len(owners) == 2 else ''}{listed}; "
                   "none of them is loaded (any could be impersonating another): uninstall all but one")
        for info in infos:
            info.conflict = why
            self._clashing.append(info)
        _warn(f"seqbench plugins: {why}")

    def _load_entry_point(self, entry_point: EntryPoint) -> None:
        info = PluginInfo(entry_point.name, *_distribution(entry_point))
        self._infos[info.name] = info
        printed = io.StringIO()
        started = time.perf_counter()
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
            info.error = describe_error(error) + _last_line(printed.getvalue())
            _warn(f"seqbench {self.describe_plugin(info.name)} failed to load: {info.error}")
            return
        sys.stderr.write(printed.getvalue())  # a plugin's own import-time notes
        seconds = time.perf_counter() - started
        if seconds > SLOW_IMPORT_S:
            _warn(f"seqbench {self.describe_plugin(info.name)} took {seconds:.1f} s to import, paid by "
                  "every seqbench command and every point's worker process; import heavy libraries "
                  f"where they are used, or disable it with {DISABLE_ENV}={info.name}")

    def add(self, plugin: object, name: str, distribution: str, version: str) -> None:
        """Register one plugin object (a module, say) under ``name``, before the registries
        are first used; for plugins that are not entry points (the built-in ones, tests')."""
        self._register(plugin, name)
        self._infos[name] = PluginInfo(name, distribution, version)

    def _register(self, plugin: object, name: str) -> None:
        self.pm.register(self._stand_in(plugin, name), name=name)

    def infos(self) -> list[PluginInfo]:
        self.load()
        return [*self._infos.values(), *self._clashing]

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
        registry: Registry[Any] = Registry(kind, self.describe_plugin, _item_base(hook_name))

        def register(item: object) -> None:
            if self._acting is None:
                raise TypeError(f"register() was called outside a {hook_name} implementation")
            reason = registry.refusal(item)
            if reason is not None:
                # Refused here, one warning, and the plugin's other items still register.
                self._problem(self._acting, f"{reason}; refused")
                return
            registry.add(item, self._acting)

        # A hook's prints are not the command's output (``seqbench plugins`` is read by
        # scripts): they go where import-time prints go, to stderr.
        with redirect_stdout(sys.stderr):
            getattr(self.pm.hook, hook_name)(register=register)
        for name in registry.names():
            info = self._infos.get(registry.plugin_of(name))
            if info is not None:
                info.registered.setdefault(kind, []).append(name)
        self._registries[hook_name] = registry
        return registry

    def _problem(self, plugin: str, text: str) -> None:
        """One warning naming ``plugin``, also kept for ``seqbench plugins`` to show."""
        _warn(f"seqbench {self.describe_plugin(plugin)} {text}")
        info = self._infos.get(plugin)
        if info is not None:
            info.problems.append(text)

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
                    returned = function(*args, **kwargs)
                except PLUGIN_FAILURES as error:  # a broken plugin must not take the others down
                    self._problem(plugin, f"failed in {hook_name}: {describe_error(error)}")
                    return None
            if returned is not None and hook_name.startswith(REGISTRATION_PREFIX):
                # What a hook returns is dropped by pluggy's callers: said, or it looks
                # as if the plugin registered nothing for no reason.
                self._problem(plugin, f"returned {_brief(returned)} from {hook_name} instead of calling "
                                      "register(item) for each item; nothing it returned is registered")
            return returned

        return contained

    def _stepped(self, function: Callable[..., Any], plugin: str,
                 hook_name: str) -> Callable[..., Generator[Any, Any, Any]]:
        """A hook wrapper (a generator: set-up, ``yield``, tear-down), each half run as
        ``plugin``. If either half raises, or it does not yield exactly once, one
        warning, and the call goes on as if the wrapper were not there."""

        def failed(error: BaseException) -> None:
            self._problem(plugin, f"failed in {hook_name}: {describe_error(error)}")

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
