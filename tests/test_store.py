"""The results store: real SQLite in WAL mode, one row per (suite, point), safe under
concurrent writers, read back as tidy DataFrames."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from seqbench.cli import main
from seqbench.point import config_hash
from seqbench.errors import UserError
from seqbench.results import load, load_curves
from seqbench.store import Store

NOT_SQLITE = "this is a text file, not a results store\n" * 20


def record(point: str = "p1", suite: str = "s", status: str = "ok", epochs: int = 0,
           loss: float = 1.0) -> dict[str, Any]:
    """A run record as a worker produces it."""
    return {
        "suite": suite,
        "point": point,
        "task": "adding",
        "model": "oracle",
        "seed": 0,
        "config": {
            "task": {"name": "adding", "params": {"seq_len": 3}},
            "model": {"name": "oracle", "params": {}},
            "run": {"epochs": max(epochs, 1)},
            "seed": 0,
        },
        "status": status,
        "error": None if status == "ok" else "ValueError: boom",
        "primary_metric": "mse",
        "direction": "min",
        "metrics": {"mse": 0.0} if status == "ok" else {},
        "timings": {"total_s": 0.1},
        "measurements": {},
        "curves": [{"epoch": e, "train_loss": loss / e} for e in range(1, epochs + 1)],
    }


def curves_of(store: Path) -> list[tuple[str, int, str, float]]:
    connection = sqlite3.connect(store)
    try:
        return connection.execute(
            "SELECT runs.point, epoch, name, value FROM curves JOIN runs ON runs.id = run_id"
            " ORDER BY runs.point, epoch"
        ).fetchall()
    finally:
        connection.close()


def count_rows(store: Path, table: str) -> int:
    connection = sqlite3.connect(store)
    try:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        connection.close()


def test_store_uses_wal_journal_mode(store_path):
    Store(store_path).close()

    connection = sqlite3.connect(store_path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        connection.close()


def test_writing_a_point_twice_keeps_one_row_with_the_new_curves(store_path):
    with Store(store_path) as store:
        store.write(record("p1", epochs=3, loss=1.0), {})
        store.write(record("p1", epochs=1, loss=7.0), {})

    assert count_rows(store_path, "runs") == 1
    assert curves_of(store_path) == [("p1", 1, "train_loss", 7.0)]


def test_same_point_in_two_suites_is_stored_once_per_suite(store_path):
    with Store(store_path) as store:
        store.write(record("p1", suite="a"), {})
        store.write(record("p1", suite="b"), {})
        store.write(record("p1", suite="a"), {})

    assert len(load(store_path)) == 2
    assert sorted(load(store_path)["suite"]) == ["a", "b"]


def test_completed_returns_only_succeeded_points_of_that_suite(store_path):
    # Points as seqbench makes them, the hash of their configuration: resume refuses a
    # succeeded run stored under another point (tests/test_store_integrity.py).
    def hashed(seq_len: int, **fields: Any) -> dict[str, Any]:
        made = record(**fields)
        made["config"]["task"]["params"]["seq_len"] = seq_len
        made["point"] = config_hash(made["config"])
        return made

    ok_here = hashed(3, suite="a")
    with Store(store_path) as store:
        store.write(ok_here, {})
        store.write(hashed(4, suite="a", status="failed"), {})
        store.write(hashed(5, suite="b"), {})

        assert store.completed("a") == {ok_here["point"]}
        assert store.completed("c") == set()


FAILS_ONCE = """
import os
from dataclasses import dataclass

import numpy as np

from seqbench import Model, hookimpl


@dataclass
class FailsOnce(Model):
    name = "flaky:fails-once"
    serves = frozenset({("continuous", "scalar")})

    def fit(self, train, settings, on_epoch):
        flag = os.environ["FAILS_ONCE_FLAG"]
        if not os.path.exists(flag):
            open(flag, "w").close()
            raise RuntimeError("first attempt fails")

    def predict(self, inputs):
        return np.zeros(len(inputs))


@hookimpl
def register_models(register):
    register(FailsOnce)
"""

TINY_RUN = """\
[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "cpu"
"""


def test_failed_point_is_retried_on_resume_and_its_row_replaced(
    install_plugin, write_suite, store_path, tmp_path, monkeypatch
):
    install_plugin("seqbench-flaky", FAILS_ONCE)
    monkeypatch.setenv("FAILS_ONCE_FLAG", str(tmp_path / "failed-once"))
    suite = write_suite(
        '[suite]\nname = "retry"\n\n' + TINY_RUN
        + '\n[task]\nname = "adding"\nseq_len = 3\n\n'
        '[[model]]\nname = "flaky:fails-once"\n\n[[model]]\nname = "oracle"\n'
    )
    command = ["run", str(suite), "--store", str(store_path)]

    first = CliRunner().invoke(main, command)
    oracle_id = load(store_path).set_index("model").loc["oracle", "id"]
    second = CliRunner().invoke(main, command)

    rows = load(store_path).set_index("model")
    assert (first.exit_code, second.exit_code) == (1, 0), first.output + second.output
    assert "2 points, 1 already done (--fresh reruns them), running 1" in second.stdout
    assert len(rows) == 2
    assert rows.loc["flaky:fails-once", "status"] == "ok"
    assert rows.loc["flaky:fails-once", "error"] is None
    assert rows.loc["oracle", "id"] == oracle_id


WRITER = """
import os, sys, time
from pathlib import Path
from seqbench.store import Store

store, name, count, shared, ready, go = sys.argv[1:]
Path(ready).touch()
while not os.path.exists(go):
    time.sleep(0.001)
with Store(store) as handle:
    for index in range(int(count)):
        for point in (f"{name}-{index}", f"shared-{index % int(shared)}"):
            handle.write({
                "suite": "concurrent", "point": point, "status": "ok", "task": "adding",
                "model": "oracle", "seed": 0, "config": {
                    "task": {"name": "adding", "params": {}},
                    "model": {"name": "oracle", "params": {}},
                    "run": {"writer": name}, "seed": 0,
                },
                "curves": [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}],
            }, {})
"""
WRITERS = 3
RECORDS_EACH = 200
SHARED_POINTS = 50


def test_concurrent_writers_store_every_record_exactly_once(tmp_path):
    store = tmp_path / "new" / "store.sqlite"  # not created yet: the writers race to create it
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(WRITERS)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store), f"w{n}", str(RECORDS_EACH),
             str(SHARED_POINTS), str(ready[n]), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for n in range(WRITERS)
    ]
    try:
        while not all(path.exists() for path in ready):
            assert all(w.poll() is None for w in writers), [w.communicate()[0] for w in writers]
            time.sleep(0.005)
        go.touch()
        outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()

    assert [w.returncode for w in writers] == [0] * WRITERS, outputs
    frame = load(store)
    expected = {f"w{n}-{i}" for n in range(WRITERS) for i in range(RECORDS_EACH)}
    expected |= {f"shared-{i}" for i in range(SHARED_POINTS)}
    assert frame["point"].is_unique
    assert set(frame["point"]) == expected
    assert count_rows(store, "curves") == 2 * len(expected)


@pytest.fixture
def finished_store(write_suite, store_path) -> Path:
    """A store holding a real run: ridge and the oracle at two lengths, one seed."""
    suite = write_suite(
        '[suite]\nname = "loaded"\n\n' + TINY_RUN
        + '\n[task]\nname = "adding"\n\n[sweep]\ntask.seq_len = [3, 4]\n\n'
        '[[model]]\nname = "numpy:ridge"\nalpha = 0.01\n\n[[model]]\nname = "oracle"\n'
    )
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    return store_path


def test_load_returns_one_row_per_run_with_flattened_columns(finished_store):
    frame = load(finished_store)

    assert len(frame) == 4
    assert sorted(zip(frame["model"], frame["task.seq_len"])) == [
        ("numpy:ridge", 3), ("numpy:ridge", 4), ("oracle", 3), ("oracle", 4)
    ]
    assert set(frame.loc[frame["model"] == "numpy:ridge", "model.alpha"]) == {0.01}
    assert set(frame["run.epochs"]) == {1}
    assert set(frame.loc[frame["model"] == "oracle", "metric.mse"]) == {0.0}
    assert {"metric.mae", "time.total_s", "time.train_s", "time.eval_s"} <= set(frame.columns)
    assert (frame["time.total_s"] > 0).all()


def test_load_curves_returns_the_epoch_curves(finished_store):
    curves = load_curves(finished_store)

    # The oracle learns nothing, so has no curve; ridge reports its one epoch.
    assert set(curves["model"]) == {"numpy:ridge"}
    assert curves["id"].nunique() == 2
    assert set(curves["epoch"]) == {1}
    assert {"train_loss", "val_mse", "val_mae"} <= set(curves["name"])


def test_load_reads_a_store_whose_path_has_uri_special_characters(tmp_path):
    store = tmp_path / "odd #?% dir" / "store.sqlite"
    with Store(store) as handle:
        handle.write(record("p1"), {})
    before = sorted(tmp_path.iterdir())

    frame = load(store)

    assert list(frame["point"]) == ["p1"]
    assert sorted(tmp_path.iterdir()) == before  # and no stray file made beside it


def test_opening_a_file_that_is_not_sqlite_is_a_user_error(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text(NOT_SQLITE)

    with pytest.raises(UserError, match="not a seqbench results store"):
        Store(path)
    assert path.read_text() == NOT_SQLITE


def test_loading_a_file_that_is_not_sqlite_is_a_user_error(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text(NOT_SQLITE)

    with pytest.raises(UserError, match="not a seqbench results store"):
        load(path)


def test_report_on_a_file_that_is_not_sqlite_exits_2_with_one_error_line(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text(NOT_SQLITE)

    result = CliRunner().invoke(main, ["report", "--store", str(path)])

    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"Error: {path}: not a seqbench results store (file is not a database)"
    ]
    assert "Traceback" not in result.output


def test_store_path_under_a_regular_file_is_a_user_error(tmp_path):
    parent = tmp_path / "notes.txt"
    parent.write_text("a file, not a directory\n")

    with pytest.raises(UserError, match="cannot open the results store"):
        Store(parent / "store.sqlite")
