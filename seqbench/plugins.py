"""The plugin manager: built-in plugins plus every entry point in group ``seqbench``."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from seqbench import hookspecs

__all__ = ["pm", "load_plugins", "reset", "PluginInfo", "plugin_infos", "DEFAULT_PLUGINS", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "seqbench"
DISABLE_ENV = "SEQBENCH_DISABLE_PLUGINS"

# Core features are plugins too, registered through the same hooks as anyone's.
DEFAULT_PLUGINS = (
    "seqbench.default_plugins.oracle",
    "seqbench.default_plugins.ridge",
    "seqbench.default_plugins.resources",
    "seqbench.default_plugins.nvml",
    "seqbench.default_plugins.local",
    "seqbench.default_plugins.ray",
)

pm = pluggy.PluginManager("seqbench")
pm.add_hookspecs(hookspecs)


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)


_infos: dict[str, PluginInfo] = {}
_loaded = False


def disabled_plugins() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


def load_plugins() -> None:
    """Register the built-in plugins and installed entry points, once per process.

    A plugin that fails to import (or implements a hook seqbench does not define) is
    reported with one warning naming it; every other plugin still loads.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    disabled = disabled_plugins()
    from seqbench import __version__

    for module_name in DEFAULT_PLUGINS:
        if module_name in disabled:
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
        _infos[module_name] = PluginInfo(module_name, "seqbench", __version__)

    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in disabled or pm.has_plugin(entry_point.name):
            continue
        dist = entry_point.dist
        info = PluginInfo(
            entry_point.name,
            dist.name if dist else "?",
            dist.version if dist else "?",
        )
        _infos[entry_point.name] = info
        try:
            plugin = entry_point.load()
            pm.register(plugin, name=entry_point.name)
            pm.check_pending()
        except Exception as error:  # any import-time failure is the plugin's, not ours
            if pm.has_plugin(entry_point.name):
                pm.unregister(name=entry_point.name)
            info.error = f"{type(error).__name__}: {error}".strip()
            print(
                f"warning: seqbench plugin {entry_point.name!r} "
                f"({info.distribution} {info.version}) failed to load: {info.error}",
                file=sys.stderr,
            )


def reset() -> None:
    """Forget every plugin, so the next load reads entry points afresh (for tests)."""
    global _loaded
    from seqbench import registry

    for name, _ in list(pm.list_name_plugin()):
        pm.unregister(name=name)
    _infos.clear()
    registry._cache.clear()
    _loaded = False


def plugin_infos() -> list[PluginInfo]:
    load_plugins()
    return list(_infos.values())
