"""``seqbench export``: some suites' runs as one file to hand on, a bundle. A bundle is a
results store of its own (the store's schema and identity, so ``seqbench report`` and
``report --compare`` read it like any store), holding every run of those suites as the
source has it: row ids, configuration, metrics, timings, meters, provenance, tracebacks,
curves, per-length and per-position metrics. Its ``meta`` table says where it came
from (key ``export``).

It is written to a temporary file beside ``--out`` and renamed over it at the end, so
``--out`` is either the whole bundle or untouched; and in SQLite's rollback-journal
mode, so the one file is the whole store (no ``-wal`` or ``-shm`` beside it)."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from seqbench import __version__
from seqbench.errors import UserError
from seqbench.paths import own_file
from seqbench.printable import listed
from seqbench.read_connection import SIDE_SUFFIXES
from seqbench.results import connect_read_only, stored_name, suites as suites_of
from seqbench.store import Store
from seqbench.store_schema import RUN_TABLES

__all__ = ["write_bundle", "bundle_origin", "TABLES"]

# A store's file, and the files SQLite keeps beside it.
STORE_FILE_SUFFIXES = ("", *SIDE_SUFFIXES, "-journal")

# The store's tables, runs first: the others hang on a run's id.
TABLES = ("runs", *RUN_TABLES)
CHUNK_ROWS = 5_000


def _check(store: Path, suites: Sequence[str], out: Path, force: bool) -> None:
    """Every refusal, before a byte is written."""
    names = suites_of(store)
    missing = [name for name in suites if name not in names]
    if missing:
        raise UserError(f"export: no runs of suite {missing[0]!r} in {store}; suites: {listed(names) or 'none'}")
    # SQLite keeps a store's uncommitted and recent writes in files beside it: replacing
    # its -wal loses committed runs, a file at its -journal marks it as stopped half-way.
    source = store.resolve()
    if out.resolve() in {Path(f"{source}{suffix}") for suffix in STORE_FILE_SUFFIXES}:
        raise UserError(f"--out: {out} is the store being exported, or a file SQLite keeps beside it "
                        "(-wal, -shm, -journal); name another file")
    if out.exists() or out.is_symlink():
        if out.is_dir():
            raise UserError(f"--out: {out} is a folder; name the bundle's file")
        if not force:
            raise UserError(f"--out: {out} exists; add --force to replace it")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"--out: {parent} is a file, not a folder")
            break


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def _copy(source: sqlite3.Connection, bundle: sqlite3.Connection, suites: Sequence[str]) -> int:
    """Copy the suites' rows of every table the source has; returns the runs copied."""
    marks = ", ".join("?" * len(suites))
    runs_of_suites = f"SELECT id FROM runs WHERE suite IN ({marks})"
    copied = 0
    # One read transaction: every table from the same snapshot, though a sweep may be
    # writing to the source meanwhile (a run replaced between two reads would leave
    # curves without their run).
    source.execute("BEGIN")
    for table in TABLES:
        # Columns both have: a store made before a table or column existed has fewer.
        columns = [c for c in _columns(source, table) if c in set(_columns(bundle, table))]
        if not columns:
            continue
        where = f"suite IN ({marks})" if table == "runs" else f"run_id IN ({runs_of_suites})"
        listed = ", ".join(columns)
        cursor = source.execute(f"SELECT {listed} FROM {table} WHERE {where}", list(suites))
        insert = f"INSERT INTO {table} ({listed}) VALUES ({', '.join('?' * len(columns))})"
        while rows := cursor.fetchmany(CHUNK_ROWS):
            bundle.executemany(insert, rows)
            if table == "runs":
                copied += len(rows)
    source.execute("COMMIT")
    return copied


def _new_store(path: Path, out: Path) -> Store:
    try:
        return Store(path)
    except UserError as error:
        raise UserError(f"--out: cannot write {out} here ({error})") from None


def write_bundle(store: Path, suites: Sequence[str], out: Path, force: bool = False) -> int:
    """Write the runs of ``suites`` in ``store`` to the bundle ``out``; returns how many
    runs it holds. Refuses (UserError) a suite the store lacks, and an existing ``out``
    unless ``force``."""
    names = suites_of(store)
    suites = list(dict.fromkeys(stored_name(name, names) for name in suites))
    _check(store, suites, out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A link planted at that name would have the bundle written into its target.
    temporary = own_file(out.with_name(f".{out.name}.{os.getpid()}.partial"))
    try:
        source = connect_read_only(store)
        try:
            with _new_store(temporary, out) as bundle:
                connection = bundle.connection
                connection.execute("BEGIN IMMEDIATE")
                copied = _copy(source, connection, suites)
                origin = {"source": str(store.resolve()), "suites": suites, "runs": copied,
                          "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          "seqbench": __version__}
                connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('export', ?)",
                                   (json.dumps(origin),))
                connection.execute("COMMIT")
                # One self-contained file: no -wal or -shm needed beside it.
                connection.execute("PRAGMA journal_mode = DELETE")
        finally:
            source.close()
        os.replace(temporary, out)
    except BaseException:
        for suffix in STORE_FILE_SUFFIXES:
            Path(f"{temporary}{suffix}").unlink(missing_ok=True)
        raise
    return copied


def bundle_origin(path: Path) -> dict[str, object] | None:
    """Where a bundle came from (its ``meta`` entry ``export``); None for a store that
    is not a bundle."""
    connection = connect_read_only(path)
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'export'").fetchone()
    finally:
        connection.close()
    return json.loads(row[0]) if row else None
