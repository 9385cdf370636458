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

import sqlite3
from pathlib import Path

from seqbench.errors import UserError
from seqbench.store_check import check_values, harden
from seqbench.store_schema import check_identity

__all__ = ["ReadConnection", "side_files_present", "connect_checked", "empty_log", "check_before_writing"]

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


def check_before_writing(path: Path) -> None:
    """Refuse (UserError) an existing store ``seqbench run`` must not write, checked
    through a read-only connection first: a read-write one, closed on a refusal,
    checkpoints a log left beside the file (a -wal holding a trigger or a newer schema
    went into the refused file) or rolls back a hot journal. An empty database passes
    (the store to create)."""
    uri = path.resolve().as_uri()
    made_side_files = not side_files_present(path.resolve())
    connection = connect_checked(f"{uri}?mode=ro")
    try:
        if not check_identity(connection, path):
            check_values(connection, path, ("claims",))  # the one table a run reads besides points
    except sqlite3.DatabaseError as error:
        raise UserError(f"{path}: the results store is damaged or unreadable ({error})") from None
    finally:
        if made_side_files and empty_log(path.resolve()):
            connection.tidy = path.resolve()
        connection.close()
