"""Issue 18, class 1: non-finite values. TOML has ``inf`` and ``nan``; every float a
suite sets is refused unless finite (one line, exit 2, nothing written), and stores
written before that, holding JSON ``Infinity``/``NaN``, stay readable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.params import ParamError, ParamSpec, coerce_value
from seqbench.store import Store
from test_store import record
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

TASK = '[task]\nname = "adding"\nseq_len = 5\n'
RIDGE = '[[model]]\nname = "numpy:ridge"\n'
GP = '[task]\nname = "gp-pairs"\n'


@pytest.mark.parametrize(
    "text, key",
    [
        ("[run]\ntimeout = inf\n" + TASK + ORACLE, "[run] timeout"),
        ("[run]\nsample_hz = nan\n" + TASK + ORACLE, "[run] sample_hz"),
        (TASK + RIDGE.rstrip() + "\nalpha = inf\n", "alpha"),
        (TASK + RIDGE + "[sweep]\nmodel.alpha = [0.1, -inf]\n", "[sweep] model.alpha"),
        (GP + "length_scale = inf\n" + ORACLE, "[task] length_scale"),
        (GP + "shift = nan\n" + ORACLE, "[task] shift"),  # unbounded: no min to trip on
        ("[run]\ntarget = {metric = 'mse', value = nan}\n" + TASK + ORACLE, "[run] target"),
    ],
    ids=["timeout", "sample_hz", "alpha", "swept-alpha", "length_scale", "unbounded-shift", "target"],
)
def test_non_finite_setting_is_one_line_and_writes_nothing(tmp_path, store_path, text, key):
    suite = tmp_path / "inf.toml"
    suite.write_text(text)

    result = invoke_run(str(suite), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {suite}: ", key, "finite")


def test_non_finite_items_of_a_list_parameter_are_refused():
    spec = ParamSpec(name="widths", type=list[float], default=None)
    with pytest.raises(ParamError, match="widths: expected a finite list of float, got"):
        coerce_value(spec, [1.0, float("inf")])
    assert coerce_value(spec, [1, 2.5]) == [1.0, 2.5]


def test_store_never_writes_json_that_sqlite_rejects(tmp_path):
    path = tmp_path / "store.sqlite"
    row = record()
    row["measurements"] = {"resources": {"train": {"cpu_s": float("inf")}}}
    with Store(path) as store:
        store.write(row, {})
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT json_valid(measurements) FROM runs").fetchone() == (1,)
    connection.close()


@pytest.fixture
def poisoned_store(tmp_path: Path) -> Path:
    """A store as an earlier seqbench left it after a suite set ``timeout = inf``."""
    path = tmp_path / "old.sqlite"
    with Store(path) as store:
        store.write(record("p1"), {})
        store.write(record("p2"), {})
    connection = sqlite3.connect(path)
    connection.execute(
        "UPDATE runs SET config = '{\"task\": {\"name\": \"adding\", \"params\": {\"seq_len\": 3}},"
        " \"model\": {\"name\": \"oracle\", \"params\": {}}, \"run\": {\"epochs\": 1,"
        " \"timeout\": Infinity}, \"seed\": 0}', metrics = '{\"mse\": NaN}' WHERE point = 'p1'"
    )
    connection.commit()
    connection.close()
    return path


def test_store_holding_infinity_is_still_loaded(poisoned_store):
    frame = results.load(poisoned_store)
    by_point = frame.set_index("point")
    assert by_point.loc["p1", "run.timeout"] == float("inf")
    assert by_point.loc["p2", "task.seq_len"] == 3
    chosen = results.load(poisoned_store, results=["metric.mse", "time.total_s"]).set_index("point")
    assert chosen.loc["p2", "metric.mse"] == 0.0 and chosen.loc["p1", "time.total_s"] == 0.1
    assert len(results.load_records(poisoned_store)) == 2


def test_store_holding_infinity_is_still_reported(poisoned_store):
    result = CliRunner().invoke(main, ["report", "--store", str(poisoned_store)])

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "p1" not in result.output and result.output.count("adding") == 2
