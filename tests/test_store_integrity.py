"""A store that a person edited by hand, or that a crafted file made lie, never mixes one
run's results into another's, nor makes resume, reports and exports disagree: rows a
deleted run left behind, a run whose point is not its configuration's hash, an index
that disagrees with its table, a JSON key given twice, an integer beyond float range,
and figures that would share one file name."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.errors import UserError
from seqbench.point import config_hash
from seqbench.store import Store
from seqbench.store_check import document, within_float_range
from seqbench.store_schema import RUN_TABLES, SCHEMA
from test_hostile_stores import one_error_line
from test_suite_validation import GOOD


def hashed(seq_len: int = 3, seed: int = 0, suite: str = "s", status: str = "ok", epochs: int = 1,
           metric: str = "mse", value: float = 0.5) -> dict[str, Any]:
    """A record as seqbench writes one: its point is its configuration's hash."""
    config = {"task": {"name": "adding", "params": {"seq_len": seq_len}},
              "model": {"name": "numpy:ridge", "params": {}}, "run": {"epochs": epochs}, "seed": seed}
    return {
        "suite": suite, "point": config_hash(config), "task": "adding", "model": "numpy:ridge", "seed": seed,
        "config": config, "status": status, "error": None if status == "ok" else "ValueError: boom",
        "primary_metric": metric, "direction": "min",
        "metrics": {metric: value} if status == "ok" else {},
        "timings": {"total_s": 0.5, "train_s": 0.25, "eval_s": 0.01},
        "measurements": {},
        "curves": [{"epoch": e, "train_loss": 1.0 / e, f"val_{metric}": value} for e in range(1, epochs + 1)],
        "length_metrics": [{"length": seq_len, "metrics": {metric: value}}],
    }


def write(path: Path, *records: dict[str, Any]) -> list[int]:
    with Store(path) as store:
        return [store.write(record, {"suite_file": "s.toml"}) for record in records]


def sql(path: Path, *statements: str) -> None:
    # Plain sqlite3, as the shell: foreign keys off.
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def contents(path: Path) -> list[str]:
    """What the store holds (``seqbench run`` opening a store to write changes its
    header's change counter, not its contents)."""
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()




# F1: rows a deleted run left behind.


def test_every_table_keyed_by_run_id_is_cleared_for_a_new_run():
    memory = sqlite3.connect(":memory:")
    memory.executescript(SCHEMA)
    keyed = {name for (name,) in memory.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
             if any(column[1] == "run_id" for column in memory.execute(f"PRAGMA table_info({name})"))}
    assert keyed == set(RUN_TABLES)


def test_rows_a_deleted_run_left_never_join_the_run_that_gets_its_id(tmp_path):
    path = tmp_path / "s.sqlite"
    first, second = write(path, hashed(3), hashed(5, epochs=2))
    # A tidy-up in the sqlite3 shell (foreign keys off) leaves the run's rows behind;
    # rows for the next id are what a hand-made bundle might hold.
    sql(path, f"DELETE FROM runs WHERE id = {second}",
        f"INSERT INTO curves VALUES ({second + 1}, 7, 'val_mse', 123.0)",
        f"INSERT INTO length_metrics VALUES ({second + 1}, 9999, 'mse', 0.0, NULL)",
        f"INSERT INTO position_metrics VALUES ({second + 1}, 'mse', 0, 42.0)")

    # The same curve rows as the dead run's: the write clashed with them before.
    (reused,) = write(path, hashed(7, epochs=2))
    (after,) = write(path, hashed(9))

    assert reused == second and after == second + 1
    curves = results.load_curves(path)
    assert sorted(curves.loc[curves["id"] == reused, "epoch"].unique()) == [1, 2]
    assert set(curves.loc[curves["id"] == after, "epoch"]) == {1}
    assert list(results.load_length_metrics(path).query(f"id == {after}")["length"]) == [9]
    assert results.load_position_metrics(path).query(f"id == {after}").empty
    stored = {item.id: item.record for item in results.load_records(path)}
    assert [row["epoch"] for row in stored[reused].curves] == [1, 2]
    assert stored[after].position_metrics == []


def test_rows_of_no_run_are_left_out_of_every_read(tmp_path):
    path = tmp_path / "s.sqlite"
    (run,) = write(path, hashed(3))
    sql(path, "INSERT INTO curves VALUES (99, 1, 'train_loss', 5.0)",
        "INSERT INTO length_metrics VALUES (99, 4, 'mse', 1.0, NULL)",
        "INSERT INTO position_metrics VALUES (99, 'mse', 0, 1.0)")

    for load in (results.load_curves, results.load_length_metrics, results.load_position_metrics):
        for identity in (True, False):
            assert set(load(path, identity=identity)["id"]) <= {run}, (load, identity)


# F4: a run whose point is not its configuration's hash.


def test_a_run_whose_point_is_not_its_configurations_hash_stops_resume(tmp_path):
    path, suite = tmp_path / "s.sqlite", tmp_path / "good.toml"
    suite.write_text(GOOD)
    edited = hashed(10, suite="good")
    edited["point"] = config_hash({**edited["config"], "seed": 1})  # another point's hash
    write(path, edited, hashed(20, suite="good"))
    before = contents(path), sorted(tmp_path.iterdir())

    one_error_line(["run", str(suite), "--store", str(path)], str(path), "runs row 1", "not the hash")
    with Store(path) as store, pytest.raises(UserError, match="runs row 1: point"):
        store.completed("good")

    assert (contents(path), sorted(tmp_path.iterdir())) == before


def test_completed_reads_the_points_of_runs_stored_as_seqbench_stores_them(tmp_path):
    path = tmp_path / "s.sqlite"
    kept = hashed(3, suite="a")
    write(path, kept, hashed(5, suite="a", status="failed"), hashed(7, suite="b"))
    with Store(path) as store:
        assert store.completed("a") == {kept["point"]}
        assert store.completed("c") == set()


def test_a_second_run_claiming_a_configuration_and_seed_is_refused_where_it_is_read(tmp_path):
    path = tmp_path / "s.sqlite"
    write(path, hashed(3, value=0.25), hashed(5, value=0.5))
    # Row 1 relabelled as the configuration of row 2, its point kept (f3 of the audit).
    sql(path, "UPDATE runs SET config = json_set(config, '$.task.params.seq_len', 5) WHERE id = 1")
    before = digest(path)

    for args in (["report"], ["report", "--per", "config"], ["report", "--plot", "--out", str(tmp_path / "r")],
                 ["report", "--format", "csv"]):
        one_error_line([*args, "--store", str(path)], str(path), "runs row 1", "of row 2", "another point")
    with pytest.raises(UserError, match="runs row 1 holds the configuration and seed of row 2"):
        results.load(path, "s")

    assert digest(path) == before
    assert not (tmp_path / "r").exists()


def test_runs_sharing_a_configuration_under_made_up_points_still_read(tmp_path):
    # Records written through the Store API with points of their own (tests, scripts).
    path = tmp_path / "s.sqlite"
    records = [hashed(3), hashed(3)]
    records[0]["point"], records[1]["point"] = "p1", "p2"
    write(path, *records)

    assert list(results.load(path)["point"]) == ["p1", "p2"]


# F5: an index that disagrees with its table.


def lying_index(path: Path) -> None:
    """runs_by_suite swapped with an index of another table that says every run succeeded
    (each CREATE statement still seqbench's own)."""
    sql(path, "PRAGMA journal_mode = DELETE",
        "CREATE TABLE notes (suite TEXT, status TEXT)", "CREATE INDEX notes_i ON notes (suite, status)",
        "INSERT INTO notes (rowid, suite, status) VALUES (1, 'good', 'ok'), (2, 'good', 'ok')")
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        roots = dict(connection.execute(
            "SELECT name, rootpage FROM sqlite_master WHERE name IN ('runs_by_suite', 'notes_i')"))
        connection.execute("PRAGMA writable_schema = ON")
        connection.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'runs_by_suite'", (roots["notes_i"],))
        connection.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'notes_i'", (roots["runs_by_suite"],))
        connection.execute("PRAGMA writable_schema = OFF")
    finally:
        connection.close()


def test_an_index_that_disagrees_with_its_table_stops_resume(tmp_path):
    path, suite = tmp_path / "s.sqlite", tmp_path / "good.toml"
    suite.write_text(GOOD)
    write(path, hashed(10, suite="good", status="failed"), hashed(20, suite="good", status="failed"))
    lying_index(path)
    connection = sqlite3.connect(path)
    assert len(connection.execute("SELECT point FROM runs WHERE suite = 'good' AND status = 'ok'").fetchall()) == 2
    connection.close()
    before = contents(path), sorted(tmp_path.iterdir())

    one_error_line(["run", str(suite), "--store", str(path)], str(path), "index of table runs disagrees", "REINDEX")

    assert (contents(path), sorted(tmp_path.iterdir())) == before


# F7 and F9: JSON that two readers read differently.


@pytest.mark.parametrize("text, fragment", [
    ('{"a": 1, "b": {"x": 1, "x": 2}}', "gives the key 'x' twice"),
    ('{"a": ' + "1" * 400 + "}", "holds the integer 111111111111... (400 digits), beyond any floating-point"),
    ('{"a": -' + "9" * 309 + "}", "(309 digits)"),
])
def test_a_document_two_readers_would_read_differently_is_refused(text, fragment):
    with pytest.raises(UserError, match="runs row 4: timings") as refused:
        within_float_range(text, "s.sqlite", "runs", 4, "timings")
        document(text, "s.sqlite", "runs", 4, "timings")
    assert fragment in str(refused.value)


@pytest.mark.parametrize("text", [
    '{"a": 1e999, "b": -Infinity, "c": NaN}',  # read as before: earlier versions wrote these
    '{"a": ' + "1" * 308 + ', "b": "' + "2" * 400 + '"}',  # within float range; digits in a string
    '{"a": {"x": 1}, "b": {"x": 2}}',
])
def test_documents_seqbench_may_have_written_are_read(text):
    within_float_range(text, "s.sqlite", "runs", 4, "timings")
    assert set(document(text, "s.sqlite", "runs", 4, "timings")) == set(json.loads(text))


def test_a_key_given_twice_is_refused_where_the_document_is_read(tmp_path):
    path = tmp_path / "s.sqlite"
    write(path, hashed(3), hashed(5))
    sql(path, """UPDATE runs SET timings = replace(timings, '"train_s": ', '"train_s": 1.0, "train_s": ')
                 WHERE id = 1""")

    # (A bundle copies JSON text as it is: it is refused where it is read.)
    for args in (["report", "--format", "csv"], ["report", "--format", "json"], ["report", "--per", "epoch"]):
        one_error_line([*args, "--store", str(path)], "runs row 1: timings gives the key 'train_s' twice")
    with pytest.raises(UserError, match="gives the key 'train_s' twice"):
        results.load_records(path)


def test_an_integer_beyond_float_range_is_refused_in_every_view(tmp_path):
    path = tmp_path / "s.sqlite"
    write(path, hashed(3), hashed(5))
    sql(path, f"""UPDATE runs SET timings = replace(timings, '"train_s": ', '"train_s": {10**400}, "y": ')
                  WHERE id = 2""")

    for args in (["report"], ["report", "--per", "config"], ["report", "--format", "json"],
                 ["report", "--format", "csv"], ["report", "--plot", "--out", str(tmp_path / "r")]):
        one_error_line([*args, "--store", str(path)], "runs row 2: ", "holds the integer 100000000000...",
                 "(401 digits), beyond any floating-point number")
    assert not (tmp_path / "r").exists()


def test_an_integer_beyond_float_range_in_a_configuration_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    write(path, hashed(3), hashed(5))
    sql(path, "UPDATE runs SET config = json_set(config, '$.model.params.hidden', 1) WHERE id = 2",
        f"UPDATE runs SET config = replace(config, '\"hidden\":1', '\"hidden\":{10**400}') WHERE id = 2")

    one_error_line(["report", "--store", str(path)], "config $.model.params holds the integer 100000000000...")


def test_an_infinite_result_written_as_such_still_reads(tmp_path):
    path = tmp_path / "s.sqlite"
    write(path, hashed(3), hashed(5))
    sql(path, """UPDATE runs SET timings = replace(timings, '"train_s": 0.25', '"train_s": 1e999') WHERE id = 2""")

    assert results.load(path, results=["time.train_s"])["time.train_s"].tolist() == [0.25, float("inf")]


# F6: figures that would share one file.


def test_a_primary_metric_named_like_a_cost_figure_gets_a_file_of_its_own(tmp_path):
    path, out = tmp_path / "s.sqlite", tmp_path / "out"
    write(path, *(hashed(length, seed, metric="time", value=0.1 * length + seed)
                  for length in (3, 5) for seed in (0, 1)))

    result = CliRunner().invoke(main, ["report", "--store", str(path), "--plot", "--out", str(out)])

    assert result.exit_code == 0, result.output
    written = [line.split()[1].rstrip(",") for line in result.output.splitlines() if line.startswith("[")]
    assert len(written) == len(set(written)) and len(written) >= 2, written
    page = (out / "report.md").read_text()
    metric, wall = (page.split(f"![{title} against seq_len](")[1].split(")")[0]
                    for title in ("Test time", "Wall time"))
    assert metric != wall and (out / metric).is_file() and (out / wall).is_file()
