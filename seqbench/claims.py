"""Claims: which run of a suite is running which point, so that two runs of the same
suite on one store at once never both run a point.

Before a suite's points start, ``claim`` takes every point still to run that no live
run holds, in one write transaction of the store (``claims`` table: suite, point, the
owner's id, pid, host, start time and lease). A point's claim goes when its record is
written (in the same transaction, ``Store.write``) and, for whatever is left, when the
run ends (``release``), however it ends short of a kill.

Whether an owner is alive is decided by a lock, never a PID (a run in another PID
namespace or on another host has a PID meaningless here): every owner holds an
``flock`` on ``STORE.claims/OWNER.lock`` for its whole life, which the kernel drops when
the process dies, kill -9 included. A claim whose owner's lock can be taken, or whose
lock file is gone, is stale and taken over at once, so resuming after a crash runs
everything that was not stored. A lease, renewed by the owner every
``LEASE_SECONDS / 4``, covers owners the lock cannot judge (a file system without
locks, or an owner that stopped, SIGSTOP, without dying): past its lease a claim is
stale too.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from seqbench.errors import UserError
from seqbench.paths import own_folders, safe_name

__all__ = ["Claimant", "Claim", "LEASE_SECONDS", "claims_folder"]

LEASE_SECONDS = 120.0


@dataclass(frozen=True)
class Claim:
    """Another run's hold on a point."""

    point: str
    pid: int
    host: str
    started_at: str


def claims_folder(store: Path) -> Path:
    return store.parent / (store.name + ".claims")


def _owner_alive(folder: Path, owner: str) -> bool:
    """True while ``owner`` holds its lock file (the kernel keeps the lock exactly as
    long as the process that took it lives)."""
    # ``owner`` is read from the store, which may be hostile: an owner of ``../x`` or
    # ``/x`` would take, and unlink, a lock file outside the folder.
    lock = folder / f"{safe_name(owner)}.lock"
    try:
        # Not through a link planted in the folder: its target is no owner's lock.
        descriptor = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False  # released, or removed by a run that found it stale
    except OSError:
        return True  # cannot judge: the lease decides
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return True  # locks unsupported here: the lease decides
    else:
        lock.unlink(missing_ok=True)  # its owner is gone: tidy up
        return False
    finally:
        os.close(descriptor)


class Claimant:
    """This run as an owner of claims in one store: its lock file, held from
    construction to ``close``, and a thread renewing its leases."""

    def __init__(self, connection: sqlite3.Connection, store: Path) -> None:
        self.connection = connection
        self.store = store
        self.owner = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.folder = claims_folder(store)
        # A folder of its own: a link planted in its place (STORE.claims -> elsewhere)
        # would have lock files made, and stale ones deleted, wherever it points.
        try:
            own_folders(self.folder.parent, self.folder.name)
        except (FileExistsError, NotADirectoryError):
            raise UserError(f"{self.folder}: a file where seqbench keeps the locks of the runs on "
                            f"{store.name}; move it away") from None
        self._lock_path = self.folder / f"{self.owner}.lock"
        self._lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="seqbench-claims", daemon=True)
        self._renewer.start()

    def claim(self, suite: str, points: Iterable[str], skip_done: bool = True
              ) -> tuple[list[str], list[Claim]]:
        """Claim ``points`` of ``suite`` that no live run holds (and, with ``skip_done``,
        that no run has stored as succeeded meanwhile). Returns (claimed, held by
        others); a point stored meanwhile is in neither."""
        wanted = list(points)
        now = time.time()
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            done = {p for (p,) in connection.execute(
                "SELECT point FROM runs WHERE suite = ? AND status = 'ok'", (suite,))} if skip_done else set()
            held = {row[0]: row for row in connection.execute(
                "SELECT point, owner, pid, host, started_at, lease_until FROM claims WHERE suite = ?",
                (suite,))}
            mine: list[str] = []
            others: list[Claim] = []
            judged: dict[str, bool] = {}
            for point in wanted:
                if point in done:
                    continue
                row = held.get(point)
                if row is not None and row[1] != self.owner and row[5] > now:
                    if row[1] not in judged:
                        judged[row[1]] = _owner_alive(self.folder, row[1])
                    if judged[row[1]]:
                        others.append(Claim(point, row[2], row[3], row[4]))
                        continue
                mine.append(point)
            started = datetime.now(timezone.utc).isoformat(timespec="seconds")
            connection.executemany(
                "INSERT OR REPLACE INTO claims (suite, point, owner, pid, host, started_at, lease_until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(suite, point, self.owner, self.pid, self.host, started, now + LEASE_SECONDS)
                 for point in mine],
            )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return mine, others

    def release(self) -> None:
        """Let go of every claim this run still holds."""
        self.connection.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))

    def _renew(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(LEASE_SECONDS / 4):
                if connection is None:
                    from seqbench.store import connect

                    connection = connect(self.store)
                connection.execute("UPDATE claims SET lease_until = ? WHERE owner = ?",
                                   (time.time() + LEASE_SECONDS, self.owner))
        except sqlite3.Error:
            pass  # the lock still speaks for this run; the lease only backs it up
        finally:
            if connection is not None:
                connection.close()

    def close(self) -> None:
        """Release the claims, stop renewing, drop the lock and its file."""
        self._stop.set()
        try:
            self.release()
        except sqlite3.Error:
            pass  # the lock goes below, which makes every claim left stale at once
        finally:
            self._renewer.join()
            self._lock_path.unlink(missing_ok=True)
            os.close(self._lock)
            try:
                self.folder.rmdir()  # only when no other run's lock is in it
            except OSError:
                pass
