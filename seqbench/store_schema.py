"""What a file must be to be a seqbench results store: its schema (the tables seqbench
creates, and the version it records) and the check that a file is one this version
can use, made before anything reads or writes it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from seqbench.errors import UserError
from seqbench.printable import listed
from seqbench.store_check import check_structure

__all__ = ["SCHEMA", "SCHEMA_VERSION", "APPLICATION_ID", "RUN_TABLES", "check_identity"]

SCHEMA_VERSION = 1
# SQLite's header field for "which application's file is this" (``PRAGMA application_id``):
# b"SqBn". Stores made before it was set have 0 and are known by their meta table.
APPLICATION_ID = 0x5371426E

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    suite TEXT NOT NULL,
    point TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    seed INTEGER NOT NULL,
    primary_metric TEXT,
    direction TEXT,
    primary_value REAL,
    error TEXT,
    traceback TEXT,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    timings TEXT NOT NULL,
    measurements TEXT NOT NULL,
    provenance TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    recorded_at TEXT NOT NULL,
    UNIQUE (suite, point)
);
CREATE TABLE IF NOT EXISTS curves (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, epoch, name)
);
CREATE TABLE IF NOT EXISTS length_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    length INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    error TEXT,
    PRIMARY KEY (run_id, length, name)
);
-- Added after the first stores were made: IF NOT EXISTS gives older stores the table
-- the first time this version opens them to write.
CREATE TABLE IF NOT EXISTS position_metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, name, position)
);
CREATE INDEX IF NOT EXISTS runs_by_suite ON runs (suite, status);
-- Points a running sweep has claimed (seqbench.claims): concurrent runs of one suite
-- skip each other's. Added later, like position_metrics; older versions ignore it.
CREATE TABLE IF NOT EXISTS claims (
    suite TEXT NOT NULL,
    point TEXT NOT NULL,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    lease_until REAL NOT NULL,
    PRIMARY KEY (suite, point)
);
"""


# The tables whose rows belong to a run (keyed by ``run_id``). ``runs.id`` is an INTEGER
# PRIMARY KEY without AUTOINCREMENT (changing that would make every existing store's
# schema another than seqbench's), so SQLite gives a new run the largest id plus one,
# and the id of a run deleted last is used again. A run deleted where foreign keys are
# off (the ``sqlite3`` shell) leaves its rows in these tables: ``Store.write`` deletes
# any rows of a new run's id before writing its own, and readers join through ``runs``.
RUN_TABLES = ("curves", "length_metrics", "position_metrics")


def check_identity(connection: sqlite3.Connection, path: Path) -> bool:
    """Refuse, without writing a byte, a file that is not a seqbench store this version
    can use: not SQLite, damaged, another application's database, or a store of a
    newer schema. True when the file is a new, empty database (the store to create)."""
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = None
        if "meta" in tables and "runs" in tables:
            row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = row[0] if row else None
    except sqlite3.OperationalError as error:  # locked past the busy timeout, unreadable
        # SQLite keeps the journal beside the file a link names, not beside the link.
        journal = Path(f"{Path(path).resolve()}-journal")
        if "readonly" in str(error) and journal.exists():
            # A read-only reader cannot roll back a write that stopped half-way.
            raise UserError(f"{path}: a write to the store stopped half-way ({journal} is beside it); "
                            f"opening it to write (`sqlite3 {path} 'PRAGMA integrity_check'`) rolls it "
                            "back") from None
        raise UserError(f"{path}: cannot open the results store ({error})") from None
    except sqlite3.DatabaseError as error:  # not SQLite, or damaged
        raise UserError(f"{path}: not a seqbench results store ({error})") from None
    if not tables and application_id in (0, APPLICATION_ID):
        return True
    if application_id not in (0, APPLICATION_ID) or version is None:
        shown = listed(sorted(tables), most=5)
        raise UserError(
            f"{path}: not a seqbench results store (an SQLite database of another application, "
            f"tables: {shown or 'none'}); left untouched, give another --store")
    try:
        # ASCII digits only: int() also reads '１' (full-width) and bytes.
        if isinstance(version, bytes) or not str(version).isascii():
            raise ValueError(version)
        number = int(version)
    except (TypeError, ValueError):
        raise UserError(f"{path}: not a seqbench results store (schema version {str(version)[:40]!r})") from None
    if number > SCHEMA_VERSION:
        raise UserError(
            f"{path}: written by a newer seqbench (store schema {number}; this version knows "
            f"{SCHEMA_VERSION}); upgrade seqbench to use it")
    if number < 1:  # no seqbench ever wrote it
        raise UserError(f"{path}: not a seqbench results store (schema version {str(version)[:40]!r})")
    try:
        # Its tables as seqbench makes them, and nothing in it that runs (triggers,
        # views): before any write, and before any read.
        check_structure(connection, path, SCHEMA)
    except sqlite3.DatabaseError as error:
        raise UserError(f"{path}: not a seqbench results store ({error})") from None
    return False
