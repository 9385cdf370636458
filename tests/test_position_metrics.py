"""Per-position test metrics: the optional ``Task.score_positions``, carried by the
point's record into the store's ``position_metrics`` table and read back by
``seqbench.results.load_position_metrics``; through the real CLI, worker processes and
SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.data import Split
from seqbench.pipeline import position_metrics
from seqbench.store import Store
from seqbench_tasks import Adding, GPPairs

LENGTH, CONTEXT, EVAL_SIZE = 12, 4, 64
TARGETS = LENGTH - CONTEXT

GP_SUITE = f"""
[suite]
name = "positions"
seeds = [0, 1]
[run]
epochs = 1
train_size = 32
eval_size = {EVAL_SIZE}
batch_size = 16
[task]
name = "{{task}}"
length = {LENGTH}
context = {CONTEXT}
[[model]]
name = "oracle"
"""

# gp-pairs with its per-position scores spoilt in the two ways a task can spoil them.
SPOILT_TASKS = """
from dataclasses import dataclass
import numpy as np
from seqbench import hookimpl
from seqbench_tasks import GPPairs

@dataclass
class Overflowing(GPPairs):
    name = "gp-overflowing"
    def score_positions(self, predictions, targets):
        scores = super().score_positions(predictions, targets)
        scores["nll"][0] = np.nan
        scores["mse"][1] = np.inf
        return scores

@dataclass
class Misshapen(GPPairs):
    name = "gp-misshapen"
    def score_positions(self, predictions, targets):
        return {"nll": np.zeros((2, targets.shape[1]))}

@hookimpl
def register_tasks(register):
    register(Overflowing)
    register(Misshapen)
"""


def run_suite(write_suite, store_path: Path, task: str = "gp-pairs", *options: str):
    suite = write_suite(GP_SUITE.format(task=task))
    return CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path), *options])


def stored_rows(store: Path) -> list[tuple]:
    """Every row of the table with its run's point; a row whose run is gone (stale) has
    point None."""
    connection = sqlite3.connect(store)
    try:
        return connection.execute(
            "SELECT runs.point, name, position, value FROM position_metrics"
            " LEFT JOIN runs ON runs.id = run_id ORDER BY runs.point, run_id, name, position"
        ).fetchall()
    finally:
        connection.close()


def record(point: str = "p1", status: str = "ok", positions: dict[str, list] | None = None) -> dict[str, Any]:
    """A run record as a worker produces it, with ``positions`` as name -> values."""
    return {
        "suite": "s", "point": point, "task": "gp-pairs", "model": "oracle", "seed": 0,
        "config": {"task": {"name": "gp-pairs", "params": {}}, "model": {"name": "oracle", "params": {}},
                   "run": {}, "seed": 0},
        "status": status, "primary_metric": "nll", "direction": "min",
        "metrics": {"nll": 0.3} if status == "ok" else {},
        "position_metrics": [{"name": name, "position": i, "value": v}
                             for name, values in (positions or {}).items() for i, v in enumerate(values)],
    }


def test_a_task_has_no_position_metrics_unless_it_defines_them():
    task = Adding(seq_len=5)
    examples = task.generate(8, np.random.default_rng(0))
    assert task.score_positions(task.solve(examples.inputs), examples.targets) is None


def test_the_record_keeps_non_finite_position_values_as_none():
    class Overflowing(GPPairs):
        def score_positions(self, predictions, targets):
            return {"nll": np.array([np.nan, 1.5, np.inf])}

    task = Overflowing(length=5, context=2)
    examples = task.generate(4, np.random.default_rng(0))
    rows = position_metrics(task, task.solve(examples.inputs), examples.targets)
    assert rows == [{"name": "nll", "position": 0, "value": None},
                    {"name": "nll", "position": 1, "value": 1.5},
                    {"name": "nll", "position": 2, "value": None}]


# Through the CLI ----------------------------------------------------------------


def test_each_run_stores_every_metric_at_every_target_position(write_suite, store_path):
    result = run_suite(write_suite, store_path)
    assert result.exit_code == 0, result.output
    runs = results.load(store_path)
    by_position = results.load_position_metrics(store_path)
    assert len(runs) == 2
    assert len(by_position) == len(runs) * TARGETS * 2  # positions x (nll, mse) per run
    assert list(by_position.columns) == ["id", "suite", "task", "model", "seed", "name", "position", "value"]
    for _, run in runs.iterrows():
        own = by_position[by_position["id"] == run["id"]]
        assert list(own["name"]) == ["mse"] * TARGETS + ["nll"] * TARGETS
        assert list(own["position"]) == list(range(TARGETS)) * 2
        # Exactly what the task scores on the run's own test split.
        task = GPPairs(**run.filter(like="task.").rename(lambda c: c[5:]).to_dict())
        test = Split(task, "test", EVAL_SIZE, int(run["seed"])).materialize()
        expected = task.score_positions(task.solve(test.inputs), test.targets)
        for name, values in expected.items():
            np.testing.assert_allclose(own.loc[own["name"] == name, "value"], values, rtol=1e-12)
        # ...and they average to the run's test metrics.
        nll = own.loc[own["name"] == "nll", "value"].mean()
        assert nll == pytest.approx(run["metric.nll"], rel=1e-12)


def test_a_task_without_position_metrics_stores_none(write_suite, store_path):
    suite = write_suite(
        "[run]\nepochs = 1\ntrain_size = 32\neval_size = 32\n[task]\nname = 'adding'\nseq_len = 5\n"
        "[[model]]\nname = 'oracle'\n"
    )
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    assert results.load_position_metrics(store_path).empty


def test_non_finite_position_values_are_stored_as_null_and_the_point_succeeds(
    install_plugin, write_suite, store_path
):
    install_plugin("seqbench-spoilt", SPOILT_TASKS)
    result = run_suite(write_suite, store_path, "gp-overflowing")
    assert result.exit_code == 0, result.output
    assert set(results.load(store_path)["status"]) == {"ok"}
    rows = {(name, position): value for _, name, position, value in stored_rows(store_path)}
    assert rows[("nll", 0)] is None and rows[("mse", 1)] is None
    assert rows[("nll", 1)] is not None and rows[("mse", 0)] is not None
    by_position = results.load_position_metrics(store_path).set_index(["seed", "name", "position"])
    assert np.isnan(by_position.loc[(0, "nll", 0), "value"])
    assert by_position["value"].notna().sum() == 2 * (2 * TARGETS - 2)


def test_position_values_not_one_per_target_position_fail_the_point_saying_why(
    install_plugin, write_suite, store_path
):
    install_plugin("seqbench-spoilt", SPOILT_TASKS)
    result = run_suite(write_suite, store_path, "gp-misshapen")
    assert result.exit_code == 1
    runs = results.load(store_path)
    assert set(runs["status"]) == {"failed"}
    assert runs["error"].iloc[0] == (
        f"ValueError: task 'gp-misshapen': score_positions gave 'nll' of shape (2, {TARGETS}); "
        f"expected one value per target position, ({TARGETS},)"
    )
    assert stored_rows(store_path) == []


def test_a_fresh_rerun_replaces_the_position_rows_without_leaving_stale_ones(write_suite, store_path):
    assert run_suite(write_suite, store_path).exit_code == 0
    first = stored_rows(store_path)
    result = run_suite(write_suite, store_path, "gp-pairs", "--fresh")
    assert result.exit_code == 0, result.output
    assert stored_rows(store_path) == first
    assert len(first) == 2 * TARGETS * 2


# The store ----------------------------------------------------------------------


def test_rewriting_a_point_keeps_only_its_new_position_rows(store_path):
    with Store(store_path) as store:
        store.write(record(positions={"nll": [1.0, 2.0, 3.0], "mse": [4.0, 5.0, 6.0]}), {})
        store.write(record(positions={"nll": [7.0, 8.0]}), {})
    assert stored_rows(store_path) == [("p1", "nll", 0, 7.0), ("p1", "nll", 1, 8.0)]


def test_a_failed_rewrite_leaves_no_position_rows_and_a_retry_stores_its_own(store_path):
    with Store(store_path) as store:
        store.write(record(positions={"nll": [1.0, 2.0]}), {})
        store.write(record(status="failed"), {})
        assert stored_rows(store_path) == []
        store.write(record(positions={"nll": [3.0]}), {})
    assert stored_rows(store_path) == [("p1", "nll", 0, 3.0)]


def test_the_store_keeps_nan_and_infinities_as_null(store_path):
    with Store(store_path) as store:
        store.write(record(positions={"nll": [float("nan"), float("inf"), -float("inf"), 0.5]}), {})
    assert [value for *_, value in stored_rows(store_path)] == [None, None, None, 0.5]


def older_store(path: Path) -> Path:
    """A store as seqbench made it before position_metrics existed."""
    with Store(path) as store:
        store.write(record(), {})
        store.connection.execute("DROP TABLE position_metrics")
    return path


def test_a_store_made_before_the_table_reads_as_no_position_metrics(store_path):
    frame = results.load_position_metrics(older_store(store_path))
    assert frame.empty
    assert list(frame.columns) == ["id", "suite", "task", "model", "seed", "name", "position", "value"]


def test_a_store_made_before_the_table_gains_it_when_next_written(store_path):
    with Store(older_store(store_path)) as store:
        store.write(record("p2", positions={"mse": [0.25]}), {})
    assert stored_rows(store_path) == [("p2", "mse", 0, 0.25)]
    assert len(results.load(store_path)) == 2


# Loading ------------------------------------------------------------------------


def test_load_position_metrics_filters_by_suite_and_name_and_can_leave_out_identity(store_path):
    with Store(store_path) as store:
        store.write(record("p1", positions={"nll": [1.0, 2.0], "mse": [3.0, 4.0]}), {})
        store.write({**record("p1", positions={"nll": [5.0]}), "suite": "other"}, {})
    only = results.load_position_metrics(store_path, suite="s", names=["nll"])
    assert list(only["value"]) == [1.0, 2.0] and set(only["suite"]) == {"s"}
    bare = results.load_position_metrics(store_path, suite="s", identity=False)
    assert list(bare.columns) == ["id", "name", "position", "value"]
    assert list(zip(bare["name"], bare["position"])) == [("mse", 0), ("mse", 1), ("nll", 0), ("nll", 1)]
    assert bare["value"].dtype == np.float64
