"""Suite validation's calls into plugin code (a task's construction and ``signature``, a
model's ``unavailable()``, ``supports()``, construction and ``validate``), each contained
by ``Registry.call``: a broken plugin is one line naming the file, the key that chose
its item, and the plugin; a model's refusal of a point is one line naming the
``[[model]]`` and what is allowed."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from seqbench import registry
from seqbench.errors import UserError
from seqbench.model import Model, unavailable_reason
from seqbench.plugins import PluginFailure, Registry
from seqbench.settings import RunSettings
from seqbench.task import Signature, Task

__all__ = ["plugin_call", "task_signature", "task_data_version", "able_models", "check_model"]

R = TypeVar("R")


def plugin_call(where: str, key: str, reg: Registry[Any], name: str, what: str,
                function: Callable[[], R], expected: tuple[type[BaseException], ...] = ()) -> R:
    """``function()``, plugin code of item ``name``, contained; a failure is a UserError
    naming the file (``where``), the key that chose the item and the plugin.
    ``expected`` exceptions pass through for the caller to word."""
    try:
        return reg.call(name, what, function, expected)
    except PluginFailure as error:
        raise UserError(f"{where}: {key}: {error}") from None


def task_signature(where: str, name: str, task: Task) -> Signature:
    """``task.signature``, contained, and a Signature (or the task is broken: the
    models asked about it next must not be blamed for what it returned)."""

    def read() -> Signature:
        signature = task.signature
        if not isinstance(signature, Signature):
            raise TypeError(f"returned {type(signature).__name__}, not a seqbench.task.Signature")
        return signature

    return plugin_call(where, "[task] name", registry.tasks(), name, "signature", read)


def task_data_version(where: str, name: str, task: Task) -> int | None:
    """``task.data_version()``, contained, and None or a positive integer (anything else
    would end up in every point's identity)."""

    def read() -> int | None:
        version = task.data_version()
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            raise TypeError(f"returned {version!r}; expected None or a positive integer")
        return version

    return plugin_call(where, "[task] name", registry.tasks(), name, "data_version()", read)


def able_models(signature: Signature) -> list[str]:
    """Installed models that can serve ``signature`` and run here; broken ones left out."""
    models = registry.models()
    able = []
    for name, cls in models.items():
        try:
            serves = models.call(name, "supports()", lambda: cls.supports(signature))
            if serves and not models.call(name, "unavailable()", lambda: unavailable_reason(cls)):
                able.append(name)
        except PluginFailure:
            continue
    return able


def check_model(where: str, key: str, name: str, model_cls: type[Model], params: dict[str, Any],
                task: Task, run: RunSettings, chosen: dict[str, Any]) -> None:
    """The model's own constraints for one point, before anything runs: the model made
    from the point's hyper-parameters (its ``__post_init__``), then ``Model.validate``
    with the point's task and ``run`` (whose device is where the point will run)."""
    models = registry.models()
    try:
        model = models.call(name, f"{name}(...)", lambda: model_cls(**params), (ValueError, TypeError))
        models.call(name, "validate()", lambda: model.validate(task, run), (ValueError,))
    except (ValueError, TypeError) as error:
        # Which swept values made this point, so the line leads to the grid cell.
        swept = ", ".join(f"{k} = {v!r}" for k, v in chosen.items() if not k.startswith("task."))
        at = f" (at [sweep] {swept})" if swept else ""
        raise UserError(f"{where}: {key}{at}: {error}") from None
    except PluginFailure as error:
        raise UserError(f"{where}: {key}: {error}") from None
