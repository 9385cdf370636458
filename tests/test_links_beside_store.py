"""The folders ``seqbench run`` keeps beside a store (``STORE.claims`` for its locks,
``STORE.unsaved`` for a record the store would not take) are its own: a symbolic link
planted there, in a shared results folder, is replaced, never written through."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main

SUITE = '[suite]\nname = "tiny"\n[task]\nname = "adding"\n[sweep]\ntask.seq_len = [5, 6]\n[[model]]\nname = "oracle"\n'


def _run(suite: Path, store: Path, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store)])
    assert result.exit_code == code, result.output
    return result.output


def _tree(folder: Path) -> list[tuple[str, bytes]]:
    return sorted((str(p.relative_to(folder)), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


def test_a_claims_link_beside_the_store_is_not_followed(tmp_path):
    """Through STORE.claims -> outside, a run made its lock file outside and deleted
    outside/victim.lock, naming 'victim' as a stale claim's owner in the store."""
    suite, results_folder, outside = tmp_path / "s.toml", tmp_path / "results", tmp_path / "outside"
    suite.write_text(SUITE)
    results_folder.mkdir()
    outside.mkdir()
    store = results_folder / "s.sqlite"
    _run(suite, store)
    (outside / "victim.lock").write_text("precious")
    (results_folder / "s.sqlite.claims").symlink_to(outside)
    with sqlite3.connect(store) as connection:  # a point to run again, claimed by 'victim' long ago
        (point,) = connection.execute("SELECT point FROM runs WHERE id = 1").fetchone()
        connection.execute("DELETE FROM runs WHERE id = 1")
        connection.execute("INSERT INTO claims VALUES ('tiny', ?, 'victim', 1, 'h', 'now', 0)", (point,))
    before = _tree(outside)

    _run(suite, store)

    assert _tree(outside) == before
    assert not (results_folder / "s.sqlite.claims").is_symlink()
    assert set(results.load(store)["status"]) == {"ok"} and len(results.load(store)) == 2


def test_an_unsaved_record_is_not_written_through_links_beside_the_store(tmp_path, monkeypatch):
    """A record the store would not take went through STORE.unsaved -> outside, and
    through a planted SUITE-POINT.partial -> home/dotfile, overwriting it."""
    from seqbench import runner
    from seqbench.store import Store

    suite, results_folder, outside, home = (tmp_path / name for name in ("s.toml", "results", "outside", "home"))
    suite.write_text(SUITE)
    for folder in (results_folder, outside, home):
        folder.mkdir()
    store = results_folder / "s.sqlite"
    (home / "dotfile").write_text("user's file")

    def failing(self, record, provenance):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Store, "write", failing)
    monkeypatch.setattr(runner, "WRITE_RETRY_SECONDS", (0.0, 0.0))

    unsaved = results_folder / "s.sqlite.unsaved"
    unsaved.symlink_to(outside)
    output = _run(suite, store, code=1)  # points not stored: a failed sweep
    assert "could not store tiny point" in output
    # Not "ok": the report cannot show a point the store did not take.
    assert output.count("] UNSAVED adding") == 2 and "] ok" not in output
    assert f"2 of 2 points failed (see `seqbench report --suite tiny`); 2 not stored (kept in {store}.unsaved" in output
    assert _tree(outside) == [] and unsaved.is_dir() and not unsaved.is_symlink()
    kept = sorted(path.name for path in unsaved.iterdir())
    assert len(kept) == 2 and all(name.endswith(".json") for name in kept)

    for name in kept:
        (unsaved / name).unlink()
        (unsaved / name.replace(".json", ".partial")).symlink_to(home / "dotfile")
    _run(suite, store, code=1)
    assert (home / "dotfile").read_text() == "user's file"
    assert sorted(path.name for path in unsaved.iterdir()) == kept
    assert not any(path.is_symlink() for path in unsaved.iterdir())


def test_a_record_that_cannot_be_kept_either_is_counted_as_lost(tmp_path, monkeypatch):
    """With a file where STORE.unsaved goes (or a full disk), the summary still said
    the records were kept beside the store."""
    from seqbench import runner
    from seqbench.store import Store

    suite, store = tmp_path / "s.toml", tmp_path / "s.sqlite"
    suite.write_text(SUITE)
    (tmp_path / "s.sqlite.unsaved").write_text("not a folder")

    def failing(self, record, provenance):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Store, "write", failing)
    monkeypatch.setattr(runner, "WRITE_RETRY_SECONDS", (0.0, 0.0))

    output = _run(suite, store, code=1)
    assert "and could not be kept beside it either" in output
    assert "2 of 2 points failed (see `seqbench report --suite tiny`); 2 not stored and lost" in output
    assert "kept in" not in output.splitlines()[-2]


def test_a_file_where_the_claims_folder_goes_is_one_line(tmp_path):
    suite, store = tmp_path / "s.toml", tmp_path / "s.sqlite"
    suite.write_text(SUITE)
    _run(suite, store)
    (tmp_path / "s.sqlite.claims").write_text("mine")
    with sqlite3.connect(store) as connection:
        connection.execute("DELETE FROM runs WHERE id = 1")  # a point left to run

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store)])

    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {store}.claims: a file where seqbench keeps the locks of the runs on s.sqlite; move it away")
    assert (tmp_path / "s.sqlite.claims").read_text() == "mine"
