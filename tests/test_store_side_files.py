"""Reading a store leaves its folder as it was: no -wal or -shm beside it afterwards,
unless someone else has the store open, whose files they then are."""

from __future__ import annotations

import sqlite3

import pytest

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


def _digest(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_refused_store_in_wal_mode_is_left_with_nothing_beside_it(write_suite, store_path):
    assert invoke("run", str(write_suite(SUITE)), "--store", str(store_path)).exit_code == 0
    connection = sqlite3.connect(store_path)
    connection.execute("CREATE VIEW best AS SELECT * FROM runs")
    connection.commit()
    connection.close()
    before = _digest(store_path)

    for args in (["report"], ["run", str(write_suite(SUITE))]):
        result = invoke(*args, "--store", str(store_path))
        assert result.exit_code == 2 and "view 'best'" in result.output, result.output
        assert side_files(store_path) == []
    assert _digest(store_path) == before


def test_a_log_left_beside_a_store_is_not_written_into_it_when_run_refuses_it(write_suite, tmp_path):
    """A store copied with its -wal while a writer had it open: the log holds a trigger
    the file does not. A read-write connection closed on the refusal checkpointed the
    trigger into the file; the check reads first."""
    import shutil

    original = tmp_path / "original.sqlite"
    assert invoke("run", str(write_suite(SUITE)), "--store", str(original)).exit_code == 0
    writer = sqlite3.connect(original, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TRIGGER rewrite AFTER INSERT ON runs BEGIN UPDATE runs SET primary_value = 1e9; END")
    copy = tmp_path / "copy" / "store.sqlite"
    copy.parent.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(f"{original}{suffix}", f"{copy}{suffix}")
    writer.close()
    before = _digest(copy), _digest(copy.with_name("store.sqlite-wal"))

    result = invoke("run", str(write_suite(SUITE)), "--store", str(copy), "--fresh")

    assert result.exit_code == 2 and "trigger 'rewrite'" in result.output, result.output
    assert (_digest(copy), _digest(copy.with_name("store.sqlite-wal"))) == before


def test_a_store_read_through_a_link_leaves_nothing_beside_the_file_it_names(write_suite, tmp_path):
    real = tmp_path / "real" / "store.sqlite"
    assert invoke("run", str(write_suite(SUITE)), "--store", str(real)).exit_code == 0
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)

    assert invoke("report", "--store", str(link)).exit_code == 0

    assert side_files(real) == []


def _stopped_half_way(path):
    """A store whose last write stopped half-way: a hot rollback journal beside it (the
    writing process gone without committing or rolling back)."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", f"""
import os, sqlite3
c = sqlite3.connect({str(path)!r}, isolation_level=None)
c.execute("PRAGMA journal_mode = DELETE")
c.execute("PRAGMA cache_size = 1")  # spill: the file itself changes before any commit
c.execute("BEGIN")
c.execute("CREATE TABLE filler (x)")
c.execute("INSERT INTO filler VALUES (randomblob(100000))")
os._exit(0)
"""], check=True)


@pytest.mark.parametrize("through_link", [False, True], ids=["file", "link"])
def test_a_store_whose_write_stopped_half_way_is_named_so_through_a_link_too(tmp_path, through_link):
    """Read through a link, the journal beside the file it names was looked for beside
    the link: "attempt to write a readonly database" instead of what to do."""
    from click.testing import CliRunner

    from seqbench.cli import main

    store = tmp_path / "store.sqlite"
    suite = tmp_path / "s.toml"
    suite.write_text('[task]\nname = "adding"\nseq_len = 5\n[[model]]\nname = "oracle"\n')
    assert CliRunner().invoke(main, ["run", str(suite), "--store", str(store)]).exit_code == 0
    _stopped_half_way(store)
    journal = tmp_path / "store.sqlite-journal"
    assert journal.stat().st_size > 0
    named = store
    if through_link:
        named = tmp_path / "elsewhere" / "link.sqlite"
        named.parent.mkdir()
        named.symlink_to(store)
    before = store.read_bytes(), journal.read_bytes()

    result = CliRunner().invoke(main, ["report", "--store", str(named)])

    assert result.exit_code == 2, result.output
    assert f"a write to the store stopped half-way ({journal} is beside it)" in result.output
    assert (store.read_bytes(), journal.read_bytes()) == before


def test_a_lone_shm_left_by_a_crash_does_not_make_reading_leave_a_log(write_suite, store_path):
    """A -shm without a -wal (an index SQLite rebuilds, left by a crash) counted as side
    files someone else had made: the -wal reading then made stayed, for a store read and
    for one refused alike. The -shm goes with it (it holds no runs)."""
    assert invoke("run", str(write_suite(SUITE)), "--store", str(store_path)).exit_code == 0
    shm = store_path.parent / f"{store_path.name}-shm"
    shm.touch()
    assert invoke("report", "--store", str(store_path)).exit_code == 0
    assert side_files(store_path) == []

    connection = sqlite3.connect(store_path)
    connection.execute("CREATE VIEW best AS SELECT * FROM runs")
    connection.commit()
    connection.close()
    before = _digest(store_path)
    shm.touch()
    result = invoke("report", "--store", str(store_path))
    assert result.exit_code == 2 and "view 'best'" in result.output, result.output
    assert side_files(store_path) == []
    assert _digest(store_path) == before


def _wal_without_its_index(store):
    """A store whose latest commit is still in its -wal (a writer gone before a
    checkpoint), the -shm removed (a clean-up, or a copy without it)."""
    import os
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", f"""
import os, sqlite3
c = sqlite3.connect({str(store)!r}, isolation_level=None)
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("UPDATE runs SET primary_value = 777, status = 'failed', error = 'late' WHERE seed = 0")
os._exit(0)
"""], check=True)
    os.remove(f"{store}-shm")
    assert os.path.getsize(f"{store}-wal") > 0


@pytest.mark.parametrize("left", ["journal", "log"])
def test_a_read_only_folder_does_not_read_around_writes_beside_the_store(write_suite, tmp_path, left):
    """Read as immutable in a read-only folder, a store showed the values of a write
    that never committed (a hot journal beside it), or hid committed ones (a -wal
    without its -shm); export made a clean-looking bundle of them."""
    from test_hostile_stores import make_read_only

    folder = tmp_path / "ro"
    store = folder / "store.sqlite"
    assert invoke("run", str(write_suite(SUITE)), "--store", str(store)).exit_code == 0
    if left == "journal":
        _stopped_half_way(store)
    else:
        _wal_without_its_index(store)
    beside = folder / f"store.sqlite-{'journal' if left == 'journal' else 'wal'}"
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    make_read_only(folder)
    try:
        for args in (["report"], ["export", "tiny", "--out", str(tmp_path / "bundle.sqlite")]):
            result = invoke(*args, "--store", str(store))
            assert result.exit_code == 2, result.output
            assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
            assert str(beside) in result.output and "read-only" in result.output
        assert not (tmp_path / "bundle.sqlite").exists()
        assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before
    finally:
        import os
        import subprocess

        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)
