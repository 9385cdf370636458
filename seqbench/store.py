"""The results store: SQLite in WAL mode, one row per (suite, point), plus epoch curves,
metrics per evaluation length and metrics per target position.

Each record is written in one transaction that replaces any earlier row for the same
point, so a kill at any moment loses nothing committed and never duplicates a point,
and several writers (parallel sweeps) can share one file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from seqbench.errors import UserError
from seqbench.record import Record
from seqbench.read_connection import open_store
from seqbench.point import config_hash
from seqbench.printable import printable
from seqbench.store_check import check_values, described, document, harden
from seqbench.store_schema import APPLICATION_ID, RUN_TABLES, SCHEMA, SCHEMA_VERSION, check_identity

__all__ = ["Store", "default_store_path", "check_identity", "STORE_ENV", "SCHEMA_VERSION",
           "APPLICATION_ID"]

STORE_ENV = "SEQBENCH_STORE"
BUSY_TIMEOUT_MS = 60_000
RETRY_SECONDS = 0.01


def default_store_path() -> Path:
    return Path(os.environ.get(STORE_ENV) or Path("results") / "seqbench.sqlite")


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA foreign_keys = ON")
    harden(connection)
    return connection


def _use_wal(connection: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs an exclusive lock, and SQLite refuses it at once
    # ("database is locked") instead of waiting out busy_timeout: several sweeps opening
    # a new store together must wait their turn here.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            busy = getattr(error, "sqlite_errorname", "").startswith("SQLITE_BUSY")
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(RETRY_SECONDS)


def _prepare(connection: sqlite3.Connection) -> None:
    _use_wal(connection)
    connection.execute("PRAGMA synchronous = NORMAL")
    # One transaction: a kill mid-creation leaves no half-made schema, and the write
    # lock is taken up front, where busy_timeout applies.
    connection.executescript(
        "BEGIN IMMEDIATE;"
        + SCHEMA
        + f"INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');"
        + f"PRAGMA application_id = {APPLICATION_ID};"
        + "COMMIT;"
    )


class Store:
    """A results store, created on first open."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        made: list[Path] = []
        try:
            if self.path.is_dir():
                raise UserError(f"{self.path}: is a directory; --store takes a file path")
            if self.path.exists() and not self.path.is_file():  # a device, a FIFO, a socket
                raise UserError(f"{self.path}: not a regular file; --store takes a results store file")
            if self.path.is_file() and self.path.stat().st_size > 0:
                # Checked reading only first: the one table a run reads besides points.
                open_store(self.path, ("claims",), to_write=True).close()
            _make_folders(self.path.parent, made)
            connection = connect(self.path)
        except (OSError, sqlite3.Error) as error:  # a name too long, a file where a folder goes
            _remove_empty(made)  # a store that cannot be opened leaves nothing behind
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise UserError(f"{self.path}: cannot open the results store ({reason})") from None
        try:
            if not check_identity(connection, self.path):
                check_values(connection, self.path, ("claims",))  # the one table a run reads besides points
        except sqlite3.DatabaseError as error:
            connection.close()
            raise UserError(f"{self.path}: the results store is damaged or unreadable ({error})") from None
        except UserError:
            connection.close()
            raise
        try:
            _prepare(connection)
        except sqlite3.Error as error:
            connection.close()
            if isinstance(error, sqlite3.OperationalError):
                raise UserError(f"{self.path}: cannot open the results store ({error})") from None
            raise UserError(f"{self.path}: not a seqbench results store ({error})") from None
        self.connection = connection

    def completed(self, suite: str) -> set[str]:
        """Hashes of the suite's points that succeeded (resume skips exactly these).

        Resume trusts each row's ``point``, reports and prune its configuration: a row
        whose point is not its configuration's hash (a hand-edited store) is refused, or
        resume would skip forever a point the report says is not run yet. So is a store
        whose index answers this query otherwise than its table (a crafted or damaged
        index would mark failed points done): the rows are read from the table itself
        (NOT INDEXED) and compared with what the index gives the same query, the one
        ``seqbench.claims`` asks."""
        connection = self.connection
        table = connection.execute(
            "SELECT id, point, config FROM runs NOT INDEXED WHERE suite = ? AND status = 'ok'", (suite,)
        ).fetchall()
        # The index lookup (rows found through runs_by_suite) and the scan of the table
        # cost about the same; the hashes below cost more (a few seconds at 100,000 runs).
        indexed = set(connection.execute("SELECT id, point FROM runs WHERE suite = ? AND status = 'ok'", (suite,)))
        if indexed != {(run_id, point) for run_id, point, _ in table}:
            raise UserError(
                f"{self.path}: a damaged or edited results store: an index of table runs disagrees with the "
                f"table on which runs of suite {printable(repr(suite[:40]))} succeeded (resume would skip or "
                f"rerun the wrong points); `sqlite3 {self.path} REINDEX` rebuilds the indexes; left untouched")
        for run_id, point, text in table:
            config = document(text, self.path, "runs", run_id, "config")
            if config_hash(config) != point:
                raise UserError(
                    f"{self.path}: a damaged or edited results store: runs row {run_id}: point is "
                    f"{described(point)}, not the hash of the row's config ({config_hash(config)}); seqbench "
                    "stores every run under its configuration's hash, and resume would skip a point the "
                    "report shows as not run; left untouched")
        return {point for _, point, _ in table}

    def write(self, record: Record | Mapping[str, Any], provenance: dict[str, Any]) -> int:
        """Store one run, its curves, length and position metrics in one transaction,
        replacing any earlier run of the point and everything that hung on it (rows of the
        other tables cascade with their run); returns the run's id. A record may also be
        given as its JSON object (``Record.to_dict()``'s shape)."""
        record = Record.coerce(record)
        values = (
            record.suite,
            record.point,
            record.status,
            record.task,
            record.model,
            record.seed,
            record.primary_metric,
            record.direction,
            record.primary_value,
            record.error,
            record.traceback,
            _json(record.config),
            _json(record.metrics),
            _json(record.timings),
            _json(record.measurements),
            # The sweep's provenance, overridden by what the point's worker recorded: the
            # machine and versions it ran with (under Ray another machine than the
            # sweep's), the device, its thread budget.
            _json({**provenance, **record.provenance}),
            record.started_at,
            record.finished_at,
            datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        )
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(
                "DELETE FROM runs WHERE suite = ? AND point = ?", (record.suite, record.point)
            )
            # The point is done: whichever run claimed it lets go with the same commit.
            connection.execute(
                "DELETE FROM claims WHERE suite = ? AND point = ?", (record.suite, record.point)
            )
            cursor = connection.execute(
                "INSERT INTO runs (suite, point, status, task, model, seed, primary_metric,"
                " direction, primary_value, error, traceback, config, metrics, timings,"
                " measurements, provenance, started_at, finished_at, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            assert cursor.lastrowid is not None  # an INSERT that succeeded
            run_id = int(cursor.lastrowid)
            # Rows another run left under this id (store_schema.RUN_TABLES: a run deleted
            # with foreign keys off, whose id SQLite gives out again) are not this run's.
            for table in RUN_TABLES:
                connection.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            connection.executemany(
                "INSERT INTO curves (run_id, epoch, name, value) VALUES (?, ?, ?, ?)",
                [
                    (run_id, row["epoch"], name, value)
                    for row in record.curves
                    for name, value in row.items()
                    if name != "epoch"
                ],
            )
            connection.executemany(
                "INSERT INTO length_metrics (run_id, length, name, value, error)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (run_id, entry["length"], name, value, None)
                    for entry in record.length_metrics
                    for name, value in entry.get("metrics", {}).items()
                ]
                + [
                    (run_id, entry["length"], "error", None, entry["error"])
                    for entry in record.length_metrics
                    if "error" in entry
                ],
            )
            connection.executemany(
                "INSERT INTO position_metrics (run_id, name, position, value) VALUES (?, ?, ?, ?)",
                [
                    (run_id, row["name"], row["position"], _finite_or_none(row["value"]))
                    for row in record.position_metrics
                ],
            )
            connection.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (disk full, I/O error): keep its error.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return run_id

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_folders(folder: Path, made: list[Path]) -> None:
    """Make ``folder`` and its missing parents, adding each to ``made`` (outermost
    first) as it is made, so a failure part way can remove what was made."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a folder")
    for new in reversed(missing):
        try:
            new.mkdir()
        except FileExistsError:
            continue  # another run opening a store here made it meanwhile: not ours to remove
        made.append(new)


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (another process wrote there), or gone


def _finite_or_none(value: float | None) -> float | None:
    # SQLite would keep an infinity as a REAL; a missing value is what it means here.
    return value if value is not None and math.isfinite(value) else None


def _json(value: Any) -> str:
    # Never ``Infinity`` or ``NaN``: SQLite's JSON functions reject such text, so one row
    # holding it would break every query of the store. Validation refuses non-finite
    # settings; a non-finite measurement is stored as null (no value), as in the tables.
    return json.dumps(_finite_json(value), default=str, allow_nan=False)


def _finite_json(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_json(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(inner) for inner in value]
    return value
