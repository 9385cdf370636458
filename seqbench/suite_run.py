"""A suite's [run] section, the checks that need more than a value's type: the keys
allowed, ``eval_lengths`` against the task (each length a valid task, none repeated)
and ``target`` against the task's metrics. Each problem is a UserError naming the file
and key (seqbench.suite calls them while it validates a suite)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from seqbench import registry
from seqbench.errors import UserError, near_name
from seqbench.params import coerce_value, param_specs
from seqbench.settings import TARGET_KEYS, RunSettings
from seqbench.suite_input import NO_REPEAT, brief, first_repeated, shown
from seqbench.suite_plugins import plugin_call, task_signature
from seqbench.task import Signature, Task
from seqbench.task_probe import check_example_size

__all__ = ["RUN_KEYS", "check_run_keys", "check_eval_lengths", "check_target", "EvalTask", "MAX_EVAL_LENGTHS"]

# A length-generalisation curve is a few dozen lengths; every point tests at each, and
# validation builds and probes each. 1,000 lengths in a 10,000-point grid took 42 s to
# validate (each length's task built at every grid point).
MAX_EVAL_LENGTHS = 100


class EvalTask(NamedTuple):
    """The task at one of ``run.eval_lengths``, checked."""

    task: Task
    signature: Signature
    values: int  # in one example (seqbench.task_probe.values_per_example)


RUN_KEYS = tuple(spec.name for spec in param_specs(RunSettings) if spec.name != "smoke")


def check_run_keys(where: str, values: dict[str, Any]) -> None:
    if "smoke" in values:
        raise UserError(f"{where}: [run] smoke: set by the --smoke option, not in the file")
    unknown = sorted(set(values) - set(RUN_KEYS))
    if {"seed", "seeds"} & set(unknown):
        raise UserError(f"{where}: [run] {min({'seed', 'seeds'} & set(unknown))}: seeds are set in [suite] seeds")
    if unknown:
        raise UserError(f"{where}: [run] {unknown[0]}: unknown setting; allowed: {', '.join(RUN_KEYS)}"
                        f"{near_name(unknown[0], RUN_KEYS)}")
    if "target" in values and not isinstance(values["target"], dict):
        raise UserError(
            f"{where}: [run] target: expected a table like {{metric = \"mse\", value = 1e-3}}, "
            f"got {brief(values['target'])}"
        )


def check_eval_lengths(
    where: str, task_cls: type[Task], task_params: dict[str, Any], lengths: list[int] | None,
    swept: bool = False, built: dict[int, EvalTask] | None = None,
) -> dict[int, EvalTask]:
    """Every evaluation length must make a valid task: same parameters, another length,
    each within the task's declared bounds and of examples no larger than a training
    length may make (``check_example_size``). ``swept``: the lengths come from ``[sweep]
    run.eval_lengths``, which the message names. Returns each length's task, its
    signature and the values one of its examples holds (for the split-size check and
    the probe); ``built``: those of this task configuration already checked, by an
    earlier grid point, which are not built again (and are added to)."""
    built = {} if built is None else built
    if lengths is None:
        return built
    key = f"{where}: {'[sweep] run.eval_lengths' if swept else '[run] eval_lengths'}"
    if task_cls.length_param is None:
        raise UserError(f"{key}: task {task_cls.name!r} has no length parameter to vary")
    if not lengths:
        raise UserError(f"{key}: expected a non-empty list of lengths")
    if len(lengths) > MAX_EVAL_LENGTHS:
        # Every point tests at every length, and validation probes each one.
        raise UserError(f"{key}: {len(lengths):,} lengths; allowed: at most {MAX_EVAL_LENGTHS} "
                        "lengths (a curve needs a few dozen)")
    repeated = first_repeated(list(lengths))
    if repeated is not NO_REPEAT:
        # Each length is a row of the store's length_metrics, keyed by length: a repeat
        # would fail the write after the point had run.
        raise UserError(f"{key}: repeated length {brief(repeated)} in {shown(list(lengths))}")
    spec = next(s for s in param_specs(task_cls) if s.name == task_cls.length_param)
    for length in lengths:
        if type(length) is int and length in built:  # not True for 1: a bool is coerced (refused)
            continue
        try:
            coerce_value(spec, length)
            task: Task = plugin_call(where, "[task] name", registry.tasks(), task_cls.name, f"{task_cls.name}(...)",
                                     lambda: task_cls(**{**task_params, spec.name: length}), (ValueError, TypeError))
        except (ValueError, TypeError) as error:
            raise UserError(f"{key}: length {brief(length)} is not valid for {task_cls.name!r}: {error}") from None
        signature = task_signature(where, task_cls.name, task)
        at = f"{key.split(': ', 1)[-1]} length {brief(length)} of [task] {task_cls.name}"
        built[length] = EvalTask(task, signature, check_example_size(where, at, signature))
    return built


def check_target(key: str, task_cls: type[Task], target: dict[str, Any] | None) -> None:
    """``{metric, value[, direction]}``: a metric the task scores and a finite number."""
    if target is None:
        return
    metrics = tuple(task_cls.metrics) or (task_cls.primary_metric,)
    allowed = ", ".join(metrics)
    unknown = sorted(set(target) - set(TARGET_KEYS))
    if unknown:
        raise UserError(f"{key}: unknown key {unknown[0]!r}; allowed: {', '.join(TARGET_KEYS)}"
                        f"{near_name(unknown[0], TARGET_KEYS)}")
    if "metric" not in target:
        raise UserError(f"{key}: metric is required (one of {allowed})")
    metric = target["metric"]
    if metric not in metrics:
        raise UserError(
            f"{key}: metric {brief(metric)} is not a metric of task {task_cls.name!r}; allowed: {allowed}"
        )
    if "value" not in target:
        raise UserError(f"{key}: value is required (the {metric} to reach)")
    value = target["value"]
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value):
        raise UserError(f"{key}: value: expected a finite number, got {brief(value)}")
    direction = target.get("direction", task_cls.direction)
    if direction not in ("min", "max"):
        raise UserError(f"{key}: direction: expected 'min' or 'max', got {brief(direction)}")
