"""Read-only connections to a results store that leave its folder as they found it.

A store is kept in WAL mode. Reading one opens a ``-wal`` and a ``-shm`` file beside
it, and SQLite deletes them when the last connection closes, but only if that
connection may write: a read-only one leaves both behind after every ``seqbench
report``. So when a checked reading made them, closing it opens and closes one
connection that may write (``query_only``, reading nothing but the schema's first
row). SQLite itself decides whether that connection is the last. If anyone else has
the store open, a run writing it for example, the files stay, as they must.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Sequence

from seqbench.errors import UserError
from seqbench.store_check import check_values, harden
from seqbench.store_schema import check_identity

__all__ = ["ReadConnection", "side_files_present", "connect_checked", "empty_log", "open_store"]

SIDE_SUFFIXES = ("-wal", "-shm")


def side_files_present(path: Path) -> bool:
    return any(Path(f"{path}{suffix}").exists() for suffix in SIDE_SUFFIXES)


class ReadConnection(sqlite3.Connection):
    """A connection whose ``close()`` also removes the side files this reading made,
    once ``tidy`` names the store (the resolved file, where SQLite keeps them). For a
    file that failed its checks it is set only while the log this reading made is
    empty, so the tidying connection has nothing to write into that file."""

    tidy: Path | None = None

    def close(self) -> None:
        super().close()
        path, self.tidy = self.tidy, None
        if path is not None and side_files_present(path):
            _close_last(path)


def _close_last(path: Path) -> None:
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=0)
    except sqlite3.Error:
        return  # a store this user may not write: its side files stay
    try:
        harden(connection)
        connection.execute("PRAGMA query_only = ON")
        connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error:
        pass  # busy (a writer came meanwhile): the files are its to remove
    finally:
        connection.close()


def connect_checked(uri: str) -> ReadConnection:
    """A ReadConnection to ``uri`` with the settings for a file from anyone (``harden``)."""
    connection = sqlite3.connect(uri, uri=True, factory=ReadConnection)
    harden(connection)
    return connection


def empty_log(path: Path) -> bool:
    try:
        return Path(f"{path}-wal").stat().st_size == 0
    except OSError:
        return True  # no log: only a -shm file to remove


def open_store(path: str | Path, tables: Sequence[str] = ("runs",), *, to_write: bool = False) -> ReadConnection:
    """A read-only connection to the store at ``path``: its identity and structure
    checked, and the values of ``tables`` (those the caller reads); a UserError for a
    missing file, a folder, another application's database, a damaged value. The
    caller closes it.

    ``to_write``: the check ``seqbench run`` makes before it opens an existing store to
    write. A read-write connection, closed on a refusal, would checkpoint a log left
    beside the file (a -wal holding a trigger or a newer schema into the refused file)
    or roll back a hot journal, so the refusal is made here, reading only. An empty
    database passes (the store to create); a read-only folder is not read around (the
    run cannot write there either, and says so when it opens the store)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory; --store takes a results store file")
    if path.exists() and not path.is_file():  # a device, a FIFO, a socket
        raise UserError(f"{path}: not a regular file; --store takes a results store file")
    if not path.is_file():
        raise UserError(f"{path}: no results store here; run a suite first (seqbench run SUITE.toml)")
    # as_uri() percent-encodes '#', '?' and '%', which SQLite would otherwise read as
    # URI syntax, opening (and creating) some other file.
    uri = path.resolve().as_uri()
    # SQLite makes the side files beside the file a link names, not beside the link. The
    # log is what may hold someone's writes; a -shm alone (left by a crash) is an index
    # SQLite rebuilds, and reading beside it made a -wal that stayed.
    made_side_files = not Path(f"{path.resolve()}-wal").exists()
    connection = connect_checked(f"{uri}?mode=ro")
    try:
        try:
            if check_identity(connection, path) and not to_write:
                raise UserError(f"{path}: an empty database, not a seqbench results store; run a suite first")
        except UserError:
            if to_write or not _in_read_only_folder(path):
                raise
            # Reading a WAL store needs its -shm file, which a read-only folder cannot
            # hold; nobody can write the store there either, so it is read as immutable,
            # which reads the file alone: only when nothing beside it holds writes.
            _check_nothing_beside(path)
            connection.close()
            connection = connect_checked(f"{uri}?immutable=1")
            if check_identity(connection, path):
                raise UserError(f"{path}: an empty database, not a seqbench results store") from None
        try:
            check_values(connection, path, tables)
        except sqlite3.DatabaseError as error:
            raise UserError(f"{path}: the results store is damaged or unreadable ({error})") from None
    except UserError:
        # A refusal leaves nothing beside the file either: the side files this reading
        # made are removed when their write-ahead log is empty (a read-only connection
        # writes none, so closing the tidying connection checkpoints nothing into the
        # refused file).
        if made_side_files and empty_log(path.resolve()):
            connection.tidy = path.resolve()
        connection.close()
        raise
    if made_side_files:
        connection.tidy = path.resolve()
    return connection


def _check_nothing_beside(path: Path) -> None:
    """Refuse an immutable reading that would show other results than the store holds:
    a journal beside the file holds a write that stopped half-way (the file may hold
    part of it: values never committed), a log holds committed writes not yet in the
    file (without them the reading is stale)."""
    resolved = path.resolve()
    journal, log = Path(f"{resolved}-journal"), Path(f"{resolved}-wal")
    if _holds_bytes(journal):
        raise UserError(f"{path}: a write to the store stopped half-way ({journal} is beside it) and "
                        "this folder is read-only, so it cannot be rolled back; the store's owner "
                        f"can (`sqlite3 {path} 'PRAGMA integrity_check'`), or copy the store with its "
                        "journal to a folder you may write")
    if _holds_bytes(log):
        raise UserError(f"{path}: results in its write-ahead log ({log}) cannot be read in this "
                        f"read-only folder without the log's index ({resolved}-shm); the store's owner "
                        "can fold them in (`seqbench report` there), or copy the store with its log to "
                        "a folder you may write")


def _holds_bytes(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _in_read_only_folder(path: Path) -> bool:
    return not os.access(path.resolve().parent, os.W_OK)
