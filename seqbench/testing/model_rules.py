"""The model contract as executable rules. Each raises ContractViolation saying what to fix."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import numpy as np

from seqbench.data import Split
from seqbench.model import Model
from seqbench.params import param_specs
from seqbench.settings import RunSettings
from seqbench.task import Task
from seqbench.testing.build import TINY_EXAMPLES, EpochLog, fit, tiny_model, tiny_settings
from seqbench.testing.child import ChildError, OtherProcess
from seqbench.testing.contract import ContractViolation, calling, check_answer, is_finite_number
from seqbench.testing.task_rules import INPUT_KINDS, TARGET_KINDS

__all__ = [
    "MODEL_RULES",
    "check_model_declaration",
    "check_model_trains_and_predicts",
    "check_model_stops_when_told",
    "check_model_pickling",
    "check_model_accepts",
]

TEST_EXAMPLES = 32


def _subject(model: Any, task: Task | None = None) -> str:
    name = getattr(model, "name", type(model).__name__)
    return f"model {name!r}" + (f" on task {task.name!r}" if task is not None else "")


def check_model_declaration(cls: type[Model]) -> None:
    """A dataclass named ``<framework>:<architecture>`` that serves valid signature kinds
    (or every task), whose ``unavailable`` is a classmethod answering None or a reason,
    whose declared hyper-parameters its ``smoke`` overrides refer to,
    and which builds at tiny size."""
    subject, rule = f"model {getattr(cls, 'name', cls.__name__)!r}", "declaration"
    if not dataclasses.is_dataclass(cls):
        raise ContractViolation(
            rule, subject, f"{cls.__name__} is not a dataclass",
            "decorate it with @dataclass: its fields are its hyper-parameters",
        )
    name = getattr(cls, "name", None)
    framework, _, architecture = (name or "").partition(":")
    if not cls.serves_every_task and not (framework and architecture and " " not in (name or "")):
        raise ContractViolation(
            rule, subject, f"name is {name!r}",
            "name models '<framework>:<architecture>', e.g. 'numpy:lookup' or 'torch:lstm'",
        )
    if not cls.serves_every_task:
        serves = cls.serves
        valid = isinstance(serves, (set, frozenset)) and serves and all(
            isinstance(kind, tuple) and len(kind) == 2 and kind[0] in INPUT_KINDS and kind[1] in TARGET_KINDS
            for kind in serves
        )
        if not valid:
            raise ContractViolation(
                rule, subject, f"serves is {serves!r}",
                "serves is a frozenset of (input kind, target kind) pairs, input kinds "
                f"{INPUT_KINDS}, target kinds {TARGET_KINDS}; or set serves_every_task = True",
            )
    if not isinstance(inspect.getattr_static(cls, "unavailable", None), (classmethod, staticmethod)):
        raise ContractViolation(
            rule, subject, "unavailable is a plain method; `seqbench models` calls it on the class",
            "decorate it with @classmethod: def unavailable(cls) -> str | None",
        )
    with calling(f"{cls.__name__}.unavailable()"):
        reason = cls.unavailable()
    if reason is not None and not (isinstance(reason, str) and reason.strip()):
        raise ContractViolation(
            rule, subject, f"unavailable() returned {reason!r}",
            "return None when the model can run here, else a sentence saying why and how to fix it",
        )
    with calling(f"param_specs({cls.__name__})"):
        declared = [spec.name for spec in param_specs(cls)]
    unknown = sorted(set(cls.smoke) - set(declared))
    if unknown:
        raise ContractViolation(
            rule, subject, f"smoke sets {unknown[0]!r}, which is not a hyper-parameter; declared: {declared}",
            "smoke maps hyper-parameter names to the small values --smoke uses",
        )
    try:
        tiny_model(cls)
    except Exception as error:
        raise ContractViolation(
            rule, subject,
            f"cannot be made from its defaults and smoke overrides: {type(error).__name__}: {error}",
            "give every hyper-parameter a default, and make smoke values valid",
        ) from None


def check_model_accepts(model: Model, task: Task, epochs: int, batch_size: int) -> None:
    """``Model.validate`` — which a suite calls for every point before anything runs —
    accepts the point this kit trains (the CPU, fp32 defaults, tiny sizes), and refuses
    points only with ValueError (any other exception is a crash at suite load)."""
    run = RunSettings(epochs=epochs, train_size=TINY_EXAMPLES, eval_size=TEST_EXAMPLES,
                      batch_size=batch_size, device="cpu")
    subject = _subject(model, task)
    try:
        model.validate(task, run)
    except ValueError as error:
        raise ContractViolation(
            "trains-and-predicts", subject,
            f"validate() refused the kit's own point (cpu, its smoke size): {error}",
            "refuse in validate() only points the model cannot run; the kit trains it here",
        ) from None
    except Exception as error:
        raise ContractViolation(
            "trains-and-predicts", subject,
            f"validate() raised {type(error).__name__}: {error}",
            "refuse a point by raising ValueError saying what is allowed; anything else is a crash",
        ) from None


def check_model_trains_and_predicts(model_cls: type, task: Task) -> None:
    """Built for ``task`` at tiny size (after ``validate`` accepted that point), the model trains (reporting epochs 1, 2, ... with a
    finite loss and the examples each epoch used, never more than ``epochs``), then predicts arrays of the declared
    shape and dtype that the task can score."""
    model = tiny_model(model_cls)
    subject, rule = _subject(model, task), "trains-and-predicts"
    settings = tiny_settings(epochs=2)
    check_model_accepts(model, task, settings.epochs, settings.batch_size)
    with calling(f"{model_cls.__name__}.build / fit"):
        log = fit(model, task, settings)
    for index, (epoch, loss, seen) in enumerate(log.calls, start=1):
        if epoch != index:
            raise ContractViolation(
                rule, subject, f"on_epoch call {index} reported epoch {epoch!r}",
                "count epochs from 1: on_epoch(1, ...), on_epoch(2, ...), ...",
            )
        if not is_finite_number(loss):
            raise ContractViolation(
                rule, subject, f"epoch {epoch} reported train_loss {loss!r}",
                "pass the epoch's mean training loss as a finite float (float(loss.item()))",
            )
        if isinstance(seen, bool) or not isinstance(seen, (int, np.integer)) or seen <= 0:
            raise ContractViolation(
                rule, subject, f"epoch {epoch} reported examples_seen {seen!r}",
                "pass the number of training examples the epoch used, an int > 0",
            )
        if seen > TINY_EXAMPLES:
            raise ContractViolation(
                rule, subject,
                f"epoch {epoch} reported examples_seen {seen}, but the training split holds "
                f"{TINY_EXAMPLES} examples (epochs so far reported {[call[2] for call in log.calls[:index]]})",
                "pass the examples this epoch used, not a running total since epoch 1: "
                "seqbench sums the epochs itself, and a running total inflates throughput",
            )
    if len(log.calls) > settings.epochs:
        raise ContractViolation(
            rule, subject, f"trained {len(log.calls)} epochs; settings.epochs was {settings.epochs}",
            "train at most settings.epochs epochs",
        )
    test = Split(task, "test", TEST_EXAMPLES, settings.seed).materialize()
    for count in (1, TEST_EXAMPLES):
        with calling(f"{model_cls.__name__}.predict(inputs of {count})"):
            predictions = model.predict(test.inputs[:count])
        check_answer(rule, subject, task, predictions, count, f"predict(inputs of {count} examples)")
    with calling(f"{type(task).__name__}.score(model predictions, targets)"):
        scores = task.score(predictions, test.targets)
    bad = {k: v for k, v in scores.items() if not is_finite_number(v)}
    if bad:
        raise ContractViolation(
            rule, subject, f"its predictions score {bad}", "predict values the task can score (finite)",
        )


def check_model_stops_when_told(model_cls: type, task: Task) -> None:
    """Training ends as soon as ``on_epoch`` answers ``stop=True``."""
    model = tiny_model(model_cls)
    log = EpochLog(stop_after=1)
    with calling(f"{model_cls.__name__}.build / fit"):
        fit(model, task, tiny_settings(epochs=3), TINY_EXAMPLES, on_epoch=log)
    if len(log.calls) > 1:
        raise ContractViolation(
            "stops-when-told", _subject(model, task),
            f"on_epoch answered stop=True after epoch 1, but training went on to epoch {log.calls[-1][0]}",
            "return from fit as soon as on_epoch(...) returns an outcome with .stop set",
        )


def check_model_pickling(model_cls: type, other: OtherProcess) -> None:
    """An unbuilt model pickles, and its copy in another process is the same class with
    the same hyper-parameters."""
    model = tiny_model(model_cls)
    subject, rule = _subject(model), "pickling"
    try:
        blob = pickle.dumps(model)
    except Exception as error:
        raise ContractViolation(
            rule, subject, f"pickle.dumps failed: {type(error).__name__}: {error}",
            "keep hyper-parameters plain values; create networks, sessions and locks in "
            "build(), not __init__",
        ) from None
    try:
        where, values = other.hyper_parameters(blob)
    except ChildError as error:
        raise ContractViolation(
            rule, subject, f"in another process: {error}",
            "define the class at module level in an importable module",
        ) from None
    here = f"{model_cls.__module__}:{model_cls.__qualname__}"
    mine = {spec.name: getattr(model, spec.name) for spec in param_specs(model_cls)}
    if where != here or values != mine:
        raise ContractViolation(
            rule, subject, f"another process unpickled {where} with {values}; here it is {here} with {mine}",
            "let pickling keep the dataclass fields (drop any custom __reduce__ or "
            "__getstate__ that loses them)",
        )


MODEL_RULES = {
    "declaration": check_model_declaration,
    "trains-and-predicts": check_model_trains_and_predicts,
    "stops-when-told": check_model_stops_when_told,
    "pickling": check_model_pickling,
}
