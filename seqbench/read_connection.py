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

from seqbench.store_check import harden

__all__ = ["ReadConnection", "side_files_present"]

SIDE_SUFFIXES = ("-wal", "-shm")


def side_files_present(path: Path) -> bool:
    return any(Path(f"{path}{suffix}").exists() for suffix in SIDE_SUFFIXES)


class ReadConnection(sqlite3.Connection):
    """A connection whose ``close()`` also removes the side files this reading made,
    once ``tidy`` names the store (set only after its checks passed: a file that
    failed them is never opened for writing)."""

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
