"""The conformance checks, collected by ``pytest --seqbench-conformance[=PLUGIN]``.

Each check runs one rule from task_rules / model_rules on one task, model or (model,
task) pair of the selected plugins; a broken rule fails with the rule's message alone
(what is wrong, and the fix), a crash in plugin code with its traceback.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from seqbench import registry
from seqbench.plugins import plugin_infos
from seqbench.task import Task
from seqbench.testing import model_rules, task_rules
from seqbench.testing.build import tiny_task
from seqbench.testing.contract import ContractViolation

pytestmark = pytest.mark.seqbench_conformance


def _check(rule: Callable[..., None], *args: Any) -> None:
    try:
        rule(*args)
    except ContractViolation as violation:
        message = str(violation)
    else:
        return
    # Outside the except block, so the report is the message alone, not a chain.
    pytest.fail(message, pytrace=False)


def _task(name: str) -> Task:
    """The registered task at tiny size; failing to build it is a declaration problem."""
    try:
        return tiny_task(name)
    except Exception as error:
        problem = f"{type(error).__name__}: {error}"
    pytest.fail(
        f"[declaration] task {name!r}: cannot be made from its defaults and smoke overrides: "
        f"{problem}\n  fix: give every parameter a default, and make smoke values valid",
        pytrace=False,
    )


def test_plugin_loads_and_registers_something(plugin_name: str) -> None:
    info = next(info for info in plugin_infos() if info.name == plugin_name)
    if info.error:
        pytest.fail(f"[loads] plugin {plugin_name!r} failed to load: {info.error}", pytrace=False)
    for collect in (registry.tasks, registry.models, registry.meters, registry.executors):
        collect()
    if not info.registered:
        pytest.fail(
            f"[loads] plugin {plugin_name!r} registered nothing\n  fix: decorate its hook "
            "functions with @seqbench.hookimpl and name them register_tasks, register_models, "
            "register_meters or register_executors",
            pytrace=False,
        )


def test_task_is_declared(task_name: str) -> None:
    _check(task_rules.check_task_declaration, registry.tasks().get(task_name))


def test_task_data_match_the_signature(task_name: str) -> None:
    _check(task_rules.check_task_signature, _task(task_name))


def test_task_data_are_deterministic_by_seed(task_name: str) -> None:
    _check(task_rules.check_task_determinism, _task(task_name))


def test_task_splits_are_disjoint(task_name: str) -> None:
    _check(task_rules.check_task_splits_disjoint, _task(task_name))


def test_task_oracle_is_exact(task_name: str) -> None:
    _check(task_rules.check_task_oracle, _task(task_name))


def test_task_scores_its_metrics_in_its_direction(task_name: str) -> None:
    _check(task_rules.check_task_scoring, _task(task_name))


def test_task_scores_each_target_position(task_name: str) -> None:
    _check(task_rules.check_task_position_scoring, _task(task_name))


def test_task_scores_predictions_narrower_than_its_targets(task_name: str) -> None:
    _check(task_rules.check_task_scores_narrow_predictions, _task(task_name))


def test_task_pickles_across_processes(task_name: str, seqbench_other_process: Any) -> None:
    _check(task_rules.check_task_pickling, _task(task_name), seqbench_other_process)


def test_model_is_declared(model_name: str) -> None:
    _check(model_rules.check_model_declaration, registry.models().get(model_name))


def test_model_trains_and_predicts_declared_shapes(model_on_task: tuple[str, str]) -> None:
    model, task = model_on_task
    _check(model_rules.check_model_trains_and_predicts, registry.models().get(model), _task(task))


def test_model_stops_when_told(model_on_first_task: tuple[str, str]) -> None:
    model, task = model_on_first_task
    _check(model_rules.check_model_stops_when_told, registry.models().get(model), _task(task))


def test_model_pickles_across_processes(model_name: str, seqbench_other_process: Any) -> None:
    _check(model_rules.check_model_pickling, registry.models().get(model_name), seqbench_other_process)
