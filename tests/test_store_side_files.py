"""Reading a store leaves its folder as it was: no -wal or -shm beside it afterwards,
unless someone else has the store open, whose files they then are."""

from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main

SUITE = """
[suite]
name = "tiny"
[task]
name = "adding"
[sweep]
task.seq_len = [10, 20]
[[model]]
name = "oracle"
"""


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def side_files(store):
    return sorted(path.name for path in store.parent.iterdir() if path.name != store.name)


def test_reports_leave_no_side_files_beside_the_store(write_suite, store_path):
    assert invoke("run", str(write_suite(SUITE)), "--store", str(store_path)).exit_code == 0
    assert side_files(store_path) == []

    shown = invoke("report", "--store", str(store_path), "--format", "csv")
    runs = results.load(store_path)

    assert shown.exit_code == 0 and shown.stdout.count("\n") == 3  # a header and 2 runs
    assert len(runs) == 2
    assert side_files(store_path) == []


def test_a_store_another_connection_has_open_keeps_its_files_and_stays_writable(write_suite, store_path):
    assert invoke("run", str(write_suite(SUITE)), "--store", str(store_path)).exit_code == 0
    writer = sqlite3.connect(store_path, isolation_level=None)
    try:
        writer.execute("BEGIN")
        writer.execute("UPDATE runs SET error = 'held' WHERE id = (SELECT min(id) FROM runs)")
        # Another process has the store open and writing: a reader must not remove what
        # that writer's WAL depends on, and must see the store as committed.
        assert sorted(side_files(store_path)) == ["store.sqlite-shm", "store.sqlite-wal"]
        assert set(results.load(store_path)["error"].isna()) == {True}
        assert sorted(side_files(store_path)) == ["store.sqlite-shm", "store.sqlite-wal"]
        writer.execute("COMMIT")
        assert list(results.load(store_path)["error"].dropna()) == ["held"]
    finally:
        writer.close()
    assert side_files(store_path) == []  # the writer, the last to close, removed them
