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
everything that was not stored. A claim whose owner's lock is held by a run on this
host is live for ``STOPPED_GRACE_SECONDS`` (8 minutes) past its lease: the lease can
lapse while the owner lives (its renewals refused by a write lock held past the busy
timeout), and taking its points then ran again what it still had queued; a lease
lapsed longer than that belongs to a run that stopped running (SIGSTOP, Ctrl-Z, a
suspended job), whose points another run takes, as before. A lease, renewed by the owner every
``RENEW_SECONDS``, covers owners the lock cannot judge: a file system without locks,
and a run on another host (a shared file system may keep a dead client's lock); past
its lease such a claim is stale. A renewal that fails is noted (``renew_error``) and
tried again at the next tick; the renewer never stops before ``close``.

A run stopped past that grace finds, when it runs again, that another run took its
points: so each point is confirmed (``keep``) just before it starts, and a point this
run no longer holds is not started (``Lost``). A point already running when it was
taken runs in both; whichever record is written last is the point's one row.
"""

from __future__ import annotations

import enum
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

__all__ = ["Claimant", "Claim", "Lost", "LEASE_SECONDS", "RENEW_SECONDS", "STOPPED_GRACE_SECONDS", "claims_folder"]

LEASE_SECONDS = 120.0
RENEW_SECONDS = LEASE_SECONDS / 4
# How long confirming a point's claim waits for another writer's lock before the point
# starts unconfirmed (``Claimant.keep``).
KEEP_BUSY_MS = 1_000
# How long past its lease a live owner on this host keeps its claims (``_holds``).
STOPPED_GRACE_SECONDS = 4 * LEASE_SECONDS


@dataclass(frozen=True)
class Claim:
    """Another run's hold on a point."""

    point: str
    pid: int
    host: str
    started_at: str


@dataclass(frozen=True)
class Lost:
    """A point this run claimed and another run took while this run's lease had lapsed:
    ``by`` holds it now, or (None) it was stored meanwhile."""

    point: str
    by: Claim | None


def claims_folder(store: Path) -> Path:
    return store.parent / (store.name + ".claims")


class _Owner(enum.Enum):
    """What an owner's lock file says of it."""

    ALIVE = "its lock is held"
    GONE = "its lock can be taken, or its file is gone"
    UNKNOWN = "the lock cannot be judged here"


def _owner_state(folder: Path, owner: str) -> _Owner:
    """Whether ``owner`` holds its lock file (the kernel keeps the lock exactly as long
    as the process that took it lives)."""
    # ``owner`` is read from the store, which may be hostile: an owner of ``../x`` or
    # ``/x`` would take, and unlink, a lock file outside the folder.
    lock = folder / f"{safe_name(owner)}.lock"
    try:
        # Not through a link planted in the folder: its target is no owner's lock.
        descriptor = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        return _Owner.GONE  # released, or removed by a run that found it stale
    except OSError:
        return _Owner.UNKNOWN  # the lease decides
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _Owner.ALIVE
    except OSError:
        return _Owner.UNKNOWN  # locks unsupported here: the lease decides
    else:
        lock.unlink(missing_ok=True)  # its owner is gone: tidy up
        return _Owner.GONE
    finally:
        os.close(descriptor)


def _holds(state: _Owner, same_host: bool, lease_until: float, now: float) -> bool:
    """Whether a claim still holds its point: a lock held on this host is a live run for
    STOPPED_GRACE_SECONDS past its lease (renewals refused by a busy store are retried
    every tick, so a lease that lapsed that long ago belongs to a run that stopped
    running, SIGSTOP or Ctrl-Z, whose points another run may take); a lock taken or gone
    is a dead one, on any host; otherwise (no lock to judge, or a lock held from another
    host, which a shared file system may keep for a dead client) the lease decides."""
    if state is _Owner.GONE:
        return False
    if state is _Owner.ALIVE and same_host:
        return lease_until + STOPPED_GRACE_SECONDS > now
    return lease_until > now


class Claimant:
    """This run as an owner of claims in one store: its lock file, held from
    construction to ``close``, and a thread renewing its leases every ``renew_every``
    seconds (tests shorten it)."""

    def __init__(self, connection: sqlite3.Connection, store: Path, renew_every: float = RENEW_SECONDS) -> None:
        self.connection = connection
        self.renew_every = renew_every
        # The last renewal's failure (``sqlite3.OperationalError: database is locked``),
        # None once one succeeds: the renewer notes it and tries again at its next tick.
        self.renew_error: str | None = None
        self.store = store
        self.owner = uuid.uuid4().hex
        # As ``Store.write`` stamps ``recorded_at``: a record stamped since was written meanwhile.
        self.began = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
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
            judged: dict[str, _Owner] = {}
            for point in wanted:
                if point in done:
                    continue
                holder = self._holder(held.get(point), now, judged)
                if holder is not None:
                    others.append(holder)
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

    def keep(self, suite: str, point: str, skip_done: bool = True) -> Lost | None:
        """Just before ``point`` starts: None if this run holds it (its lease renewed; or
        taken again where no live run holds it and no run stored it since this run
        began, nor, with ``skip_done``, as succeeded at all), else what became of it. A
        lease this run renewed lately is only read: no run can take the point before it
        has started. A store that cannot answer (a write lock held past the busy
        timeout) answers None: the point starts, as it did before claims were confirmed."""
        now = time.time()
        connection = self.connection
        try:
            row = connection.execute("SELECT owner, lease_until FROM claims WHERE suite = ? AND point = ?",
                                     (suite, point)).fetchone()
            if row is not None and row[0] == self.owner and row[1] > now + LEASE_SECONDS / 2:
                return None
            # Briefly: a point waiting on another writer's lock would wait the store's
            # whole busy timeout (60 s) at every start; not confirmed, it starts.
            waited = connection.execute("PRAGMA busy_timeout").fetchone()[0]
            connection.execute(f"PRAGMA busy_timeout = {KEEP_BUSY_MS}")
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    lost = self._keep(suite, point, skip_done, time.time())
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            finally:
                connection.execute(f"PRAGMA busy_timeout = {int(waited)}")
        except sqlite3.Error:
            return None
        return lost

    def _keep(self, suite: str, point: str, skip_done: bool, now: float) -> Lost | None:
        """``keep``'s decision, inside its write transaction."""
        connection = self.connection
        row = connection.execute(
            "SELECT point, owner, pid, host, started_at, lease_until FROM claims WHERE suite = ? AND point = ?",
            (suite, point)).fetchone()
        if row is not None and row[1] == self.owner:
            connection.execute("UPDATE claims SET lease_until = ? WHERE suite = ? AND point = ?",
                               (now + LEASE_SECONDS, suite, point))
            return None
        holder = self._holder(row, now, {})
        if holder is not None:
            return Lost(point, holder)
        # Nobody holds it. A run that took it and stored it let go with that write: a
        # record since this run began (or, resuming, any that succeeded) is that one's.
        if row is None and connection.execute(
                "SELECT 1 FROM runs WHERE suite = ? AND point = ? AND (recorded_at >= ? OR (? AND status = 'ok'))",
                (suite, point, self.began, skip_done)).fetchone():
            return Lost(point, None)
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        connection.execute(
            "INSERT OR REPLACE INTO claims (suite, point, owner, pid, host, started_at, lease_until)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (suite, point, self.owner, self.pid, self.host, started, now + LEASE_SECONDS))
        return None

    def _holder(self, row: tuple | None, now: float, judged: dict[str, _Owner]) -> Claim | None:
        """The claim of another run that holds ``row``'s point (suite's claims row:
        point, owner, pid, host, started_at, lease_until), None if none does; each
        owner's lock is judged once in ``judged``."""
        if row is None or row[1] == self.owner:
            return None
        if row[1] not in judged:
            judged[row[1]] = _owner_state(self.folder, row[1])
        if _holds(judged[row[1]], row[3] == self.host, row[5], now):
            return Claim(row[0], row[2], row[3], row[4])
        return None

    def release(self) -> None:
        """Let go of every claim this run still holds."""
        self.connection.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))

    def _renew(self) -> None:
        """Push this run's leases on every ``renew_every`` seconds until ``close``. A
        renewal that fails (a write lock held past the busy timeout) is noted and tried
        again, on a new connection, at the next tick: stopping for good let the leases
        lapse while this run lived."""
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.renew_every):
                try:
                    if connection is None:
                        connection = self._renewal_connection()
                    connection.execute("UPDATE claims SET lease_until = ? WHERE owner = ?",
                                       (time.time() + LEASE_SECONDS, self.owner))
                except Exception as error:  # any failure: the next tick tries again
                    self.renew_error = f"{type(error).__name__}: {error}"
                    if connection is not None:
                        connection.close()
                        connection = None
                else:
                    self.renew_error = None
        finally:
            if connection is not None:
                connection.close()

    def _renewal_connection(self) -> sqlite3.Connection:
        from seqbench.store import connect

        connection = connect(self.store)
        # Waiting for a write lock past the next tick only delays that tick's own try.
        connection.execute(f"PRAGMA busy_timeout = {max(1, int(self.renew_every * 1000))}")
        return connection

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
