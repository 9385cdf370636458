"""Human-readable descriptions for ``seqbench tasks``, ``models`` and ``plugins``."""

from __future__ import annotations

from typing import Any, Callable

from seqbench import registry
from seqbench.model import Model, unavailable_reason
from seqbench.params import param_specs
from seqbench.plugins import PluginFailure, Registry, plugin_infos
from seqbench.task import Task

__all__ = ["describe_task", "describe_model", "describe_plugins", "describe_tasks", "describe_models"]


def describe_tasks() -> str:
    """``seqbench tasks``: every task; a broken or clashing one marked, not fatal."""
    return _describe_all(registry.tasks(), describe_task)


def describe_models() -> str:
    """``seqbench models``: every model; a broken or clashing one marked, not fatal."""
    return _describe_all(registry.models(), describe_model)


def _describe_all(reg: Registry[Any], describe: Callable[[Any, str], str]) -> str:
    entries: list[tuple[str, str]] = []
    for name, cls in reg.items():
        plugin = reg.plugin_of(name)
        try:
            # Its parameters first, worded as suite validation words them (a default its
            # own declaration refuses, a class that is not a dataclass).
            reg.call(name, "its parameters (dataclass fields)", lambda: param_specs(cls))
            text = reg.call(name, "its description", lambda: describe(cls, plugin))
        except PluginFailure as error:
            text = f"{name}  [{plugin}]  BROKEN\n  {error}\n"
        entries.append((name, text))
    for name in reg.conflicts():
        entries.append((name, f"{name}  CONFLICT\n  {reg.conflict(name)}\n"))
    return "\n".join(text for _, text in sorted(entries))


def _params(cls: type, length: str | None = None) -> list[str]:
    """One line per parameter; ``length`` (a task's length parameter) is marked."""
    lines = []
    ignored: frozenset[str] = getattr(cls, "ignores", frozenset())
    for spec in param_specs(cls):
        if spec.name in ignored:
            continue
        default = "(required)" if spec.required else f"= {spec.default!r}"
        allowed = spec.describe_allowed()
        help_text = f"  {spec.help}" if spec.help else ""
        mark = "  [length]" if spec.name == length else ""
        lines.append(f"    {spec.name}: {allowed} {default}{mark}{help_text}")
    return lines or ["    (no parameters)"]


def describe_task(task_cls: type[Task], plugin: str) -> str:
    metrics = ", ".join(task_cls.metrics) or task_cls.primary_metric
    direction = "lower is better" if task_cls.direction == "min" else "higher is better"
    lines = [
        f"{task_cls.name}  [{plugin}]",
        f"  {task_cls.description}",
        f"  primary metric: {task_cls.primary_metric} ({direction}); metrics: {metrics}",
        *_kinds(task_cls),
        "  parameters:",
        *_params(task_cls, task_cls.length_param),
    ]
    return "\n".join(lines) + "\n"


def _kinds(task_cls: type[Task]) -> list[str]:
    """The task's input and target kinds (from an instance at its defaults) and the
    installed models that serve them, oracles aside."""
    try:
        signature = task_cls().signature
    except Exception as error:  # a plugin's task that needs parameters, or is broken
        return [f"  inputs -> targets: unknown at the defaults ({type(error).__name__}: {error})"]
    return [f"  inputs -> targets: {signature.describe()}",
            f"  models: {', '.join(_serving(signature)) or 'none installed but the oracles'}"]


def _serving(signature: Any) -> list[str]:
    """The installed models, oracles aside, that serve ``signature``. Each model's
    answer is its own: one that raises (or is no Model at all) is left out here and
    listed as BROKEN by ``seqbench models``, never making the task look broken."""
    models = registry.models()
    served = []
    for name, cls in models.items():
        try:
            if models.call(name, "supports()", lambda: not cls.serves_every_task and bool(cls.supports(signature))):
                served.append(name)
        except PluginFailure:
            continue
    return served


def describe_model(model_cls: type[Model], plugin: str) -> str:
    reason = registry.models().call(model_cls.name, "unavailable()", lambda: unavailable_reason(model_cls))
    lines = [
        f"{model_cls.name}  [{plugin}]" + ("  UNAVAILABLE" if reason else ""),
        *([f"  unavailable: {reason}"] if reason else []),
        f"  {model_cls.description}",
        f"  serves: {model_cls.serves_text()}",
        *_twins(model_cls),
        "  parameters:",
        *_params(model_cls),
    ]
    return "\n".join(lines) + "\n"


def _twins(model_cls: type[Model]) -> list[str]:
    """The same architecture (the part of the name after ':') in the other installed
    frameworks, and a line for each framework that has none."""
    architecture = model_cls.name.partition(":")[2]
    framework = getattr(model_cls, "framework", "numpy")
    if not architecture or framework == "numpy":
        return []
    twins: list[str] = []
    missing: set[str] = set()
    by_framework: dict[str, list[str]] = {}
    for name, other in registry.models().items():
        other_framework = getattr(other, "framework", "numpy")
        if other_framework in (framework, "numpy"):
            continue
        by_framework.setdefault(other_framework, [])
        if name.partition(":")[2] == architecture:
            by_framework[other_framework].append(name)
    for other_framework, names in sorted(by_framework.items()):
        twins.extend(names)
        if not names:
            missing.add(other_framework)
    return ([f"  twins: {', '.join(sorted(twins))}"] if twins else []) + [
        f"  no {name} twin" for name in sorted(missing)
    ]


def describe_plugins() -> str:
    # Collecting each registry records which plugin registered what.
    for collect in (registry.tasks, registry.models, registry.meters, registry.executors):
        collect()
    lines = []
    for info in plugin_infos():
        head = f"{info.name}  ({info.distribution} {info.version})"
        if info.conflict:
            lines.append(f"{head}  CONFLICT: {info.conflict}")
            continue
        if info.error:
            lines.append(f"{head}  FAILED TO LOAD: {info.error}")
            continue
        lines.append(head + ("  PROBLEMS" if info.problems else ""))
        lines.extend(f"    PROBLEM: {problem}" for problem in info.problems)
        for kind, names in sorted(info.registered.items()):
            lines.append(f"    {kind}s: {', '.join(sorted(names))}")
            if kind == "model":
                lines.extend(_unavailable_models(sorted(names)))
    return "\n".join(lines)


def _unavailable_models(names: list[str]) -> list[str]:
    """A line per reason some of ``names`` cannot run here, naming them."""
    models = registry.models()
    by_reason: dict[str, list[str]] = {}
    for name in names:
        if models.conflict(name):
            continue  # registered by two plugins; `seqbench models` says so
        model_cls = models.get(name)
        try:
            reason = models.call(name, "unavailable()", lambda: unavailable_reason(model_cls))
        except PluginFailure as error:
            by_reason.setdefault(f"BROKEN {name}: {error}", [])
            continue
        if reason:
            by_reason.setdefault(reason, []).append(name)
    return [f"    UNAVAILABLE {', '.join(unusable)}: {reason}" if unusable else f"    {reason}"
            for reason, unusable in by_reason.items()]
