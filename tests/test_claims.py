"""Claims (seqbench/claims.py) against real SQLite, real locks and a real second
process: a run's leases keep being renewed after a renewal fails, and a claim whose
lease lapsed while its owner lives on this host is not taken over (either broke "two
runs never run a point twice": the second run reran points the first still had
queued)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from seqbench.claims import LEASE_SECONDS, STOPPED_GRACE_SECONDS, Claimant
from seqbench.store import Store

TICK = 0.1  # the renewer's interval, and so its busy timeout, in these tests


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    with Store(store_path) as opened:
        yield opened


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(TICK / 4)
    return True


def leases(path: Path) -> list[float]:
    connection = sqlite3.connect(path)
    try:
        return [lease for (lease,) in connection.execute("SELECT lease_until FROM claims ORDER BY point")]
    finally:
        connection.close()


def test_a_renewal_refused_by_a_held_write_lock_is_tried_again_at_the_next_tick(store):
    claimant = Claimant(store.connection, store.path, renew_every=TICK)
    try:
        assert claimant.claim("s", ["p"]) == (["p"], [])
        blocker = sqlite3.connect(store.path, isolation_level=None, timeout=5)
        blocker.execute("BEGIN EXCLUSIVE")  # held past the renewer's busy timeout
        try:
            assert wait_for(lambda: claimant.renew_error is not None), "no renewal was refused"
            assert "locked" in claimant.renew_error
            # The lease as a lapsed one would read; only a renewal after this moves it.
            blocker.execute("UPDATE claims SET lease_until = 0")
        finally:
            blocker.execute("COMMIT")
            blocker.close()

        assert wait_for(lambda: leases(store.path)[0] > time.time()), "the renewer stopped for good"
        assert leases(store.path)[0] > time.time() + LEASE_SECONDS - 5
        assert wait_for(lambda: claimant.renew_error is None)
    finally:
        claimant.close()


OWNER = """
import sys
import time
from seqbench.claims import Claimant
from seqbench.store import Store

store = Store(sys.argv[1])
claimant = Claimant(store.connection, store.path)
claimant.claim("s", ["p1", "p2"])
# As if its renewals had been refused for a while: the lease has lapsed (by sys.argv[2] s).
store.connection.execute("UPDATE claims SET lease_until = ?", (time.time() - float(sys.argv[2]),))
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_lapsed_lease_does_not_hand_over_the_points_of_an_owner_alive_on_this_host(store):
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(OWNER), str(store.path), "60"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    claimant = Claimant(store.connection, store.path, renew_every=60)
    try:
        assert owner.stdout is not None and owner.stdout.readline() == "ready\n"
        assert all(lease < time.time() for lease in leases(store.path))

        mine, others = claimant.claim("s", ["p1", "p2", "p3"])

        assert mine == ["p3"]
        assert [(claim.point, claim.pid) for claim in others] == [("p1", owner.pid), ("p2", owner.pid)]

        owner.kill()  # its lock goes with it: its points are taken at once
        owner.wait()
        assert claimant.claim("s", ["p1", "p2"]) == (["p1", "p2"], [])
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        claimant.close()


@pytest.mark.parametrize("lease_left, taken", [(-1.0, True), (LEASE_SECONDS, False)], ids=["lapsed", "running"])
def test_a_lock_held_for_a_run_on_another_host_yields_to_its_lease(store, lease_left, taken):
    """A shared file system may keep a dead client's lock: from another host, only the
    lease tells a live run from a dead one."""
    claimant = Claimant(store.connection, store.path, renew_every=60)
    lock = os.open(claimant.folder / "remote.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        store.connection.execute("INSERT INTO claims VALUES ('s', 'p', 'remote', 7, 'elsewhere', 'then', ?)",
                                 (time.time() + lease_left,))

        mine, others = claimant.claim("s", ["p"])

        assert (mine == ["p"]) is taken
        assert [claim.host for claim in others] == ([] if taken else ["elsewhere"])
    finally:
        os.close(lock)
        claimant.close()


def test_an_owner_on_this_host_whose_lease_lapsed_long_ago_has_stopped_and_its_points_are_taken(store):
    # A run stopped with SIGSTOP (Ctrl-Z, a suspended job) holds its lock but renews
    # nothing: past STOPPED_GRACE_SECONDS its points go to a run that is running.
    lapsed = str(STOPPED_GRACE_SECONDS + 60)
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(OWNER), str(store.path), lapsed],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    claimant = Claimant(store.connection, store.path, renew_every=60)
    try:
        assert owner.stdout is not None and owner.stdout.readline() == "ready\n"

        assert claimant.claim("s", ["p1", "p2"]) == (["p1", "p2"], [])
    finally:
        owner.kill()
        owner.wait()
        claimant.close()
