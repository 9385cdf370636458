"""Issue 18, class 7: store identity. Only a seqbench store is written: another
application's SQLite database and a store of a newer schema are refused with one line
and left byte for byte as they were (not even switched to WAL); a damaged file is one
line; a store in a folder nobody may write is still reported."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.errors import UserError
from seqbench.store import Store
from test_store import record
from test_suite_validation import GOOD


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(args: list[str], *fragments: str) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def refused_untouched(tmp_path: Path, path: Path, *fragments: str) -> None:
    """``seqbench run`` and ``seqbench report`` both refuse ``path`` and change nothing."""
    suite = tmp_path / "good.toml"
    suite.write_text(GOOD)
    before = digest(path), sorted(tmp_path.iterdir())
    one_error_line(["run", str(suite), "--store", str(path)], str(path), *fragments)
    one_error_line(["report", "--store", str(path)], str(path), *fragments)
    with pytest.raises(UserError):
        Store(path)
    assert (digest(path), sorted(tmp_path.iterdir())) == before


def test_another_applications_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "app.db"
    connection = sqlite3.connect(path)
    connection.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);"
                             "INSERT INTO notes (text) VALUES ('mine');")
    connection.close()

    refused_untouched(tmp_path, path, "not a seqbench results store", "another application", "notes")

    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert [n for (n,) in connection.execute("SELECT name FROM sqlite_master")] == ["notes"]
    connection.close()


def test_a_database_claiming_another_application_id_is_refused(tmp_path):
    path = tmp_path / "app.db"
    with Store(path) as store:
        store.write(record(), {})
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA application_id = 1234")
    connection.close()

    refused_untouched(tmp_path, path, "not a seqbench results store")


def test_a_store_of_a_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "future.sqlite"
    with Store(path) as store:
        store.write(record(), {})
    connection = sqlite3.connect(path)
    connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()

    refused_untouched(tmp_path, path, "newer seqbench", "store schema 2")


def damage(path: Path, page: int) -> None:
    size = 4096
    data = bytearray(path.read_bytes())
    start = (page - 1) * size + (100 if page == 1 else 0)  # page 1 begins with the file header
    data[start:page * size] = b"\xa5" * (page * size - start)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("what", ["schema", "runs"])
def test_a_damaged_store_is_one_line(tmp_path, what):
    """A run reads the suite's runs before any point runs (whose file they came from),
    so a damaged runs table is refused up front, as a damaged schema is. (A record that
    cannot be written mid-sweep is kept: test_hostile_runs.)"""
    path = tmp_path / "damaged.sqlite"
    with Store(path) as store:
        store.write(record(), {})
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA page_size").fetchone() == (4096,)
    page = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    connection.close()
    damage(path, 1 if what == "schema" else page)
    suite = tmp_path / "good.toml"
    suite.write_text(GOOD)

    one_error_line(["report", "--store", str(path)], str(path))
    one_error_line(["run", str(suite), "--store", str(path)], str(path))
    assert not (tmp_path / "damaged.sqlite.unsaved").exists()


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write: its mode for a user, immutable for root."""
    folder = tmp_path / "ro"
    folder.mkdir()
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def make_read_only(folder: Path) -> None:
    folder.chmod(0o555)
    if os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("root here, and chattr +i is not allowed: no folder is read-only to us")


def test_a_store_in_a_read_only_folder_is_reported(read_only_folder):
    path = read_only_folder / "store.sqlite"
    with Store(path) as store:  # WAL mode: reading needs a -shm file beside it
        store.write(record("p1"), {})
    assert sorted(p.name for p in read_only_folder.iterdir()) == ["store.sqlite"]
    make_read_only(read_only_folder)

    result = CliRunner().invoke(main, ["report", "--store", str(path), "--format", "csv"])

    assert result.exit_code == 0, result.output
    assert "p1" in result.output or "adding" in result.output
    assert list(results.load(path)["point"]) == ["p1"]


def test_a_new_store_is_marked_as_seqbench(tmp_path):
    path = tmp_path / "new.sqlite"
    Store(path).close()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA application_id").fetchone() == (0x5371426E,)
    connection.close()
    Store(path).close()  # and opened again


# Issue: hostile stores and bundles. Each class of defect is one test below.


def seqbench_store(path: Path) -> Path:
    """A small store of seqbench's own making: two runs with curves, one with metrics
    per evaluation length and per position."""
    with Store(path) as store:
        first = record("p1", epochs=2)
        first["length_metrics"] = [{"length": 5, "metrics": {"mse": 0.5}}]
        first["position_metrics"] = [{"name": "mse", "position": 0, "value": 0.25}]
        store.write(first, {"suite_file": "s.toml"})
        store.write(record("p2", epochs=2), {"suite_file": "s.toml"})
    connection = sqlite3.connect(path)  # one file, as a bundle handed on would be
    connection.execute("PRAGMA journal_mode = DELETE")
    connection.close()
    return path


def altered(path: Path, *statements: str) -> Path:
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        connection.execute(statement)
    connection.close()
    return path


@pytest.mark.parametrize("statements, fragment", [
    # Code kept in the file, which SQLite runs inside seqbench's own writes or reads.
    (["CREATE TRIGGER rewrite AFTER INSERT ON runs BEGIN UPDATE runs SET primary_value = 1e9; END"],
     "trigger 'rewrite'"),
    (["CREATE TABLE other (id INTEGER)",
      "CREATE TRIGGER wipe AFTER DELETE ON other BEGIN DELETE FROM runs; END"], "trigger 'wipe'"),
    (["CREATE VIEW best AS SELECT * FROM runs WHERE primary_value < 1"], "view 'best'"),
    (["CREATE INDEX heavy ON curves (name) WHERE length(zeroblob(100000000)) > 0"], "index 'heavy'"),
    (["CREATE INDEX computed ON runs (lower(model))"], "index 'computed'"),
    # seqbench's tables defined otherwise than seqbench defines them.
    (["ALTER TABLE runs ADD COLUMN extra TEXT DEFAULT 'x'"], "table 'runs' is defined otherwise"),
    (["DROP TABLE curves", "CREATE TABLE curves (run_id, epoch, name, value)"],
     "table 'curves' is defined otherwise"),
    (["CREATE TABLE loot (run_id INTEGER REFERENCES runs(id) ON DELETE RESTRICT)"], "foreign key into runs"),
    (["UPDATE meta SET value = '0' WHERE key = 'schema_version'"], "schema version '0'"),
    (["UPDATE meta SET value = '\uff11' WHERE key = 'schema_version'"], "schema version '\uff11'"),  # int() reads it as 1
    # SQLite's names have no case: CLAIMS is the claims table (CREATE TABLE IF NOT
    # EXISTS claims keeps it; seqbench's reads and writes use it), RUNS is runs.
    (["DROP TABLE claims", "CREATE TABLE CLAIMS (suite, point, owner, pid, host, started_at, lease_until)"],
     "table 'CLAIMS' is defined otherwise"),
    (["DROP TABLE curves", "CREATE TABLE Curves (run_id, epoch, name, value TEXT)"],
     "table 'Curves' is defined otherwise"),
    (["CREATE TABLE o (a INTEGER REFERENCES RUNS(id) ON DELETE RESTRICT)"], "foreign key into RUNS"),
    (["CREATE INDEX computed ON RUNS (lower(model))"], "index 'computed'"),
])
def test_a_store_holding_code_or_another_schema_is_refused_untouched(tmp_path, statements, fragment):
    path = altered(seqbench_store(tmp_path / "store.sqlite"), *statements)

    refused_untouched(tmp_path, path, fragment)
    one_error_line(["export", "s", "--store", str(path), "--out", str(tmp_path / "b.sqlite")], fragment)
    assert not (tmp_path / "b.sqlite").exists()


@pytest.mark.parametrize("statement, read_by, fragment", [
    ("UPDATE runs SET primary_value = 'abc' WHERE point = 'p2'", [], "primary_value is text 'abc'"),
    ("UPDATE runs SET seed = '../../seed' WHERE point = 'p2'", [], "seed is text"),
    ("UPDATE runs SET config = '[1, 2]' WHERE point = 'p2'", [], "config is text '[1, 2]'"),
    ("UPDATE runs SET metrics = '{\"mse\": 0.5' WHERE point = 'p2'", ["--format", "json"], "metrics is not JSON"),
    ("UPDATE runs SET metrics = '{\"a\":' || replace(hex(zeroblob(20000)), '00', '[') || 1 ||"
     " replace(hex(zeroblob(20000)), '00', ']') || '}' WHERE point = 'p2'",
     ["--format", "json"], "metrics is nested too deeply"),
    ("UPDATE curves SET value = x'00ff' WHERE epoch = 2", ["--per", "epoch"], "curves row"),
    ("UPDATE length_metrics SET length = 2.5", ["--per", "length"], "length is the number 2.5"),
    ("UPDATE position_metrics SET name = x'01'", ["--per", "position"], "name is a blob of 1 bytes"),
    # Read by `seqbench run` only: a claim on a point (seqbench.claims).
    ("INSERT INTO claims VALUES ('s', 'p', 'o', 'x', 'h', 'now', 1.0)", None, "claims row 1: pid is text 'x'"),
])
def test_a_value_seqbench_never_writes_is_one_line(tmp_path, statement, read_by, fragment):
    path = altered(seqbench_store(tmp_path / "store.sqlite"), statement)
    suite = tmp_path / "good.toml"
    suite.write_text(GOOD)
    before = digest(path), sorted(tmp_path.iterdir())

    if read_by is None:
        one_error_line(["run", str(suite), "--store", str(path)], str(path), fragment)
    else:
        one_error_line(["report", "--store", str(path), *read_by], str(path), fragment)
    if read_by is not None and "JSON" not in fragment and "nested" not in fragment:
        # A bundle is a copy: JSON text is copied as it is, and refused where it is read.
        one_error_line(["export", "s", "--store", str(path), "--out", str(tmp_path / "b.sqlite")], fragment)

    assert (digest(path), sorted(tmp_path.iterdir())) == before


def test_a_plot_refused_while_drawing_leaves_no_folder_of_its_own(tmp_path):
    # Curves are read only when the figures are drawn, after the folder was made and
    # the report announced: the folders this report made go, one already there stays.
    path = altered(seqbench_store(tmp_path / "store.sqlite"), "UPDATE curves SET epoch = 1.5 WHERE epoch = 1")
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "precious.txt").write_text("the user's")
    # new/.. and gone/../kept name folders that were there, though the path's text has
    # parts that are not: only folders this report made itself may go.
    for out in (tmp_path / "new" / "deeper", kept / "report", tmp_path / "new" / "..",
                tmp_path / "gone" / ".." / "kept"):
        result = CliRunner().invoke(main, ["report", "--store", str(path), "--plot", "--out", str(out)])
        assert result.exit_code == 2 and "epoch is the number 1.5" in result.output, result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "new").exists() and not (tmp_path / "gone").exists()
    assert (kept / "precious.txt").read_text() == "the user's" and path.is_file()
    assert not (kept / "report").exists()


def test_a_failed_report_leaves_a_folder_it_made_that_another_report_wrote_into(tmp_path, monkeypatch):
    from seqbench.report.files import _make_folders, _remove_made

    monkeypatch.chdir(tmp_path)
    made_by_a = _make_folders(Path("shared/a"))  # report A makes shared/ and shared/a/
    _make_folders(Path("shared/b"))  # report B, meanwhile, finds shared/ there
    Path("shared/b/report.md").write_text("B's finished report")

    _remove_made(made_by_a)  # A fails

    assert not Path("shared/a").exists()
    assert Path("shared/b/report.md").read_text() == "B's finished report"


def test_a_folder_or_a_device_given_as_a_store_or_a_bundle_is_one_line(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    store = seqbench_store(tmp_path / "store.sqlite")
    suite = tmp_path / "good.toml"
    suite.write_text(GOOD)

    for args, fragment in (
        (["report", "--store", str(folder)], "is a directory"), (["run", str(suite), "--store", str(folder)],
                                                                 "is a directory"),
        (["prune", str(suite), "--store", str(folder)], "is a directory"),
        (["export", "s", "--store", str(store), "--out", str(folder)], "is a directory"),
        (["report", "--store", "/dev/null"], "/dev/null: not a regular file"),
        (["run", str(suite), "--store", "/dev/null"], "/dev/null: not a regular file"),
    ):
        one_error_line(args, fragment)
    assert list(folder.iterdir()) == []


def test_store_text_reaches_a_terminal_escaped_and_a_csv_file_exact(tmp_path, monkeypatch):
    escape = "\x1b]0;pwned\x07\x1b[2J\u202e"
    path = altered(seqbench_store(tmp_path / "store.sqlite"),
                   f"UPDATE runs SET model = 'm{escape}', config = json_set(config, '$.task.name', 't{escape}')")
    suite = tmp_path / "s.toml"
    suite.write_text(GOOD.replace('name = "good"', 'name = "s"'))

    pruned = CliRunner().invoke(main, ["prune", str(suite), "--store", str(path), "--dry-run"])
    exact = CliRunner().invoke(main, ["report", "--store", str(path), "--format", "csv"])
    monkeypatch.setattr("seqbench.cli._is_terminal", lambda err=False: True)
    shown = CliRunner().invoke(main, ["report", "--store", str(path), "--format", "csv"])

    assert pruned.exit_code == 0 and "would delete" in pruned.output
    assert "\\x1b]0;pwned\\x07" in pruned.output and "\x1b" not in pruned.output + shown.output
    assert shown.exit_code == 0 and f"m\\x1b]0;pwned\\x07\\x1b[2J\\u202e" in shown.output
    assert exact.exit_code == 0 and f"m{escape}" in exact.output  # a file keeps what the store holds


def test_links_in_the_output_folders_are_replaced_not_followed_and_odd_values_draw(tmp_path):
    # Values a store may hold that figures and event files must cope with: a name of
    # 100,000 characters, numbers near the float range (float32 event files, bars).
    path = altered(seqbench_store(tmp_path / "store.sqlite"),
                   f"UPDATE runs SET model = '{'m' * 100_000}' WHERE point = 'p1'",
                   "UPDATE runs SET primary_value = -1e300 WHERE point = 'p2'", "UPDATE curves SET value = 1e300")
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.md"
    victim.write_text("mine\n")
    out, board = tmp_path / "out", tmp_path / "board"
    out.mkdir()
    board.mkdir()
    (out / "report.md").symlink_to(victim)
    (out / "runs.csv").symlink_to(outside / "made.csv")
    (board / "s").symlink_to(outside)  # the suite's folder of event files

    result = CliRunner().invoke(main, ["report", "--store", str(path), "--plot", "--out", str(out),
                                       "--tensorboard", str(board)])

    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""
    assert victim.read_text() == "mine\n" and sorted(p.name for p in outside.iterdir()) == ["victim.md"]
    assert not (out / "report.md").is_symlink() and "m" * 300 in (out / "report.md").read_text()
    assert not (board / "s").is_symlink() and list((board / "s").rglob("events.out.tfevents.*"))
    # The default --out, report/ beside the store, came with the store's folder.
    (tmp_path / "report").symlink_to(outside)
    one_error_line(["report", "--store", str(path), "--plot"], "default", "symbolic link")
    assert sorted(p.name for p in outside.iterdir()) == ["victim.md"]


def test_a_suite_whose_every_stored_point_is_stale_is_one_line(tmp_path, monkeypatch):
    path = seqbench_store(tmp_path / "store.sqlite")  # its provenance names s.toml
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(GOOD.replace('name = "good"', 'name = "s"'))  # other points

    for args in (["--per", "config"], ["--plot", "--out", str(tmp_path / "out")]):
        one_error_line(["report", "--store", str(path), "--suite", "s", *args], "every stored point")
    assert not (tmp_path / "out").exists()


def test_a_message_listing_a_stores_suites_stays_short(tmp_path):
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        for index in range(12):
            store.write(record(f"p{index}", suite=("x" * 100_000 if index == 0 else f"s{index}")), {})

    line = one_error_line(["report", "--store", str(path), "--suite", "nope"], "(12 in all)")
    exported = one_error_line(["export", "nope", "--store", str(path), "--out", str(tmp_path / "b")],
                              "(12 in all)")

    assert len(line) < 1500 and len(exported) < 1500


def test_a_suite_file_a_store_names_is_not_expanded_past_the_usual_limit(tmp_path, monkeypatch):
    from seqbench.prune import stale_for_report

    path = seqbench_store(tmp_path / "store.sqlite")  # its provenance names s.toml
    monkeypatch.chdir(tmp_path)
    seeds = ", ".join(map(str, range(100_001)))  # one point more than --max-points' default
    (tmp_path / "s.toml").write_text(
        GOOD.replace('name = "good"', 'name = "s"').replace("seeds = [0]", f"seeds = [{seeds}]"))

    assert stale_for_report(path, "s") is None  # cannot be told: every stored run is shown


@pytest.mark.parametrize("statement, commands, fragment", [
    # Shown as a figure, or met by arithmetic (a traceback in the default table).
    ("""UPDATE runs SET timings = json_set(timings, '$.train_s', 'fast') WHERE point = 'p2'""",
     [["report"], ["report", "--format", "markdown"], ["report", "--plot"]],
     "time.train_s is text 'fast', where seqbench writes a number"),
    ("""UPDATE runs SET metrics = json_set(metrics, '$.mse', '1e999') WHERE point = 'p2'""",
     [["report", "--format", "markdown"], ["report", "--format", "json"]], "metric.mse is text '1e999'"),
])
def test_text_where_seqbench_writes_a_number_is_one_line(tmp_path, statement, commands, fragment):
    path = altered(seqbench_store(tmp_path / "store.sqlite"), statement)
    before = digest(path)

    for args in commands:
        one_error_line([*args, "--store", str(path)], str(path), "runs row", fragment)
    assert digest(path) == before
    assert not (tmp_path / "report").exists()


def test_a_meter_figure_held_as_text_by_every_run_does_not_break_the_table(tmp_path):
    path = altered(seqbench_store(tmp_path / "store.sqlite"),
                   """UPDATE runs SET measurements = json_set(measurements, '$.resources.train.cpu_s', 'x')""")

    result = CliRunner().invoke(main, ["report", "--store", str(path)])

    assert result.exit_code == 0, result.output


def test_an_infinite_stored_time_leaves_the_progress_clock_unknown():
    from seqbench.eta import expected_seconds
    from seqbench.suite import load_suite  # noqa: F401  (the points' shape)

    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE runs (task, model, config, timings, status)")
    config = json.dumps({"run": {"smoke": False}, "task": {"params": {"seq_len": 5}}})
    for total in ("1e999", "NaN", "-1", "true"):
        connection.execute("INSERT INTO runs VALUES ('adding', 'oracle', ?, ?, 'ok')",
                           (config, '{"total_s": %s}' % total))

    class Point:
        task, model, task_params, hash = "adding", "oracle", {"seq_len": 5}, "h"

        class run:
            smoke = False

    assert expected_seconds(connection, [Point()]) == {}
