"""A run whose claims another run took while it was stopped (SIGSTOP, Ctrl-Z past its
lease and the same-host grace) starts none of the points it lost (it ran every one of
them again, timed under the other run's load), and a record the store cannot take for
a reason other than SQLite's or the OS's (an int past 64 bits) is kept beside the store
while the sweep goes on (it crashed the run, leaving every queued point unrun).

Real SQLite, real locks, real ``seqbench run`` processes; a lapsed lease is written into
the store, as tests/test_claims.py does, rather than waited for."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from seqbench.claims import LEASE_SECONDS, STOPPED_GRACE_SECONDS, Claimant, Lost
from seqbench.cli import main
from seqbench.record import Record
from seqbench.store import Store
from seqbench.suite import load_suite

LAPSED = time.time() - LEASE_SECONDS - STOPPED_GRACE_SECONDS - 60  # a run stopped that long
RUN = '[run]\nepochs = 1\ntrain_size = 16\neval_size = 16\nbatch_size = 16\ndevice = "cpu"\n'
TASK = '[task]\nname = "adding"\n'


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    with Store(store_path) as opened:
        yield opened


def claims(path: Path) -> list[tuple[str, str, float]]:
    """(point, owner, lease_until) of every claim."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT point, owner, lease_until FROM claims ORDER BY point").fetchall()
    finally:
        connection.close()


def lapse(path: Path, owner: str) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("UPDATE claims SET lease_until = ? WHERE owner = ?", (LAPSED, owner))
        connection.commit()
    finally:
        connection.close()


# Another run on this host: it takes what it can of suite "s", says "took", and holds its
# claims until its stdin closes; with "store", it then stores what it took (through
# Store.write, as a finished point's record is); with "release", it lets go at once.
OTHER_RUN = """
import sys
from seqbench.claims import Claimant
from seqbench.record import Record
from seqbench.store import Store

store = Store(sys.argv[1])
claimant = Claimant(store.connection, store.path)
mine, _ = claimant.claim("s", sys.argv[3:])
print("took " + " ".join(mine), flush=True)
if sys.argv[2] == "store":
    for point in mine:
        store.write(Record(suite="s", point=point, task="t", model="m", seed=0, config={}, status="ok"), {})
    print("stored", flush=True)
sys.stdin.read()
claimant.close()
"""


@pytest.fixture
def other_run(store: Store) -> Iterator:
    """``other_run(then, *points)``: a second run (a real process with its own lock) that
    takes ``points``; ``then`` is "hold", "store" or "release"."""
    started: list[subprocess.Popen] = []

    def start(then: str, *points: str) -> subprocess.Popen:
        command = [sys.executable, "-c", textwrap.dedent(OTHER_RUN), str(store.path), then, *points]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline() == f"took {' '.join(points)}\n"
        if then == "store":
            assert process.stdout.readline() == "stored\n"
        if then == "release":
            process.communicate(timeout=30)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_point_this_run_holds_on_a_fresh_lease_is_kept_without_waiting_for_the_write_lock(store):
    claimant = Claimant(store.connection, store.path, renew_every=60)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        claimant.claim("s", ["p"])
        blocker.execute("BEGIN IMMEDIATE")  # another run writing: a point's start must not wait for it
        began = time.monotonic()

        assert claimant.keep("s", "p") is None

        assert time.monotonic() - began < 1
    finally:
        blocker.close()
        claimant.close()


def test_a_lapsed_claim_meets_a_locked_store_briefly_and_the_point_starts(store):
    # Renewals fail while another run holds the write lock, so the lease lapses; the
    # confirmation then needs the lock too. It waited out the store's 60 s busy timeout
    # at every point's start; now it gives up after KEEP_BUSY_MS and the point starts.
    claimant = Claimant(store.connection, store.path, renew_every=60)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        claimant.claim("s", ["p"])
        lapse(store.path, claimant.owner)
        before = store.connection.execute("PRAGMA busy_timeout").fetchone()[0]
        blocker.execute("BEGIN IMMEDIATE")
        began = time.monotonic()

        assert claimant.keep("s", "p") is None

        assert time.monotonic() - began < 20  # not the 60 s of the store's own timeout
        assert store.connection.execute("PRAGMA busy_timeout").fetchone()[0] == before
    finally:
        blocker.close()
        claimant.close()


def test_a_lapsed_claim_nobody_took_is_renewed_as_its_point_starts(store):
    # The run was stopped, but no other run came: its points are still its own, and the
    # point starting now holds a full lease again (its renewer may not have ticked yet).
    claimant = Claimant(store.connection, store.path, renew_every=60)
    try:
        claimant.claim("s", ["p"])
        lapse(store.path, claimant.owner)

        assert claimant.keep("s", "p") is None

        [(point, owner, lease)] = claims(store.path)
        assert (point, owner) == ("p", claimant.owner)
        assert lease > time.time() + LEASE_SECONDS - 5
    finally:
        claimant.close()


def test_a_point_another_live_run_took_is_lost_to_that_run(store, other_run):
    claimant = Claimant(store.connection, store.path, renew_every=60)
    try:
        claimant.claim("s", ["p1", "p2"])
        lapse(store.path, claimant.owner)
        other = other_run("hold", "p1", "p2")  # the stopped run's points go to a running one

        lost = claimant.keep("s", "p1")

        assert isinstance(lost, Lost) and lost.point == "p1"
        assert lost.by is not None and (lost.by.point, lost.by.pid) == ("p1", other.pid)
        assert claimant.owner not in {owner for _, owner, _ in claims(store.path)}, "taken back from a live run"
    finally:
        claimant.close()


def test_a_point_the_other_run_took_and_stored_is_lost_as_stored(store, other_run):
    claimant = Claimant(store.connection, store.path, renew_every=60)
    try:
        claimant.claim("s", ["p"])
        lapse(store.path, claimant.owner)
        other_run("store", "p")  # its record's write let go of the claim

        assert claimant.keep("s", "p") == Lost("p", None)
        assert claims(store.path) == []
    finally:
        claimant.close()


def test_a_point_the_other_run_took_and_let_go_unrun_is_taken_back(store, other_run):
    claimant = Claimant(store.connection, store.path, renew_every=60)
    try:
        claimant.claim("s", ["p"])
        lapse(store.path, claimant.owner)
        other_run("release", "p")  # stopped (Ctrl-C) before it ran it: nobody holds it

        assert claimant.keep("s", "p") is None
        assert [(point, owner) for point, owner, _ in claims(store.path)] == [("p", claimant.owner)]
    finally:
        claimant.close()


LOGGED = """
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqbench import Model, hookimpl, param


@dataclass
class Logged(Model):
    name = "logged:wait"
    serves = frozenset({("continuous", "scalar")})
    tag: int = param(0)

    def fit(self, train, settings, on_epoch):
        # Which run started which point: the run is the worker's parent.
        with open(os.environ["STARTS_LOG"], "a") as log:
            log.write(f"{os.getppid()} {self.tag}\\n")
        while not Path(os.environ["GATE"]).exists():
            time.sleep(0.02)
        on_epoch(1, 1.0, len(train))

    def predict(self, inputs):
        return np.zeros(len(inputs))


@hookimpl
def register_models(register):
    register(Logged)
"""


def starts(log: Path) -> list[tuple[int, int]]:
    """(run's pid, tag) of every point started, in order."""
    if not log.exists():
        return []
    return [(int(pid), int(length)) for pid, length in (line.split() for line in log.read_text().splitlines())]


def wait_until_started(log: Path, run: subprocess.Popen, length: int) -> None:
    deadline = time.monotonic() + 60
    while (run.pid, length) not in starts(log):
        assert run.poll() is None, f"the run ended before it started tag {length}"
        assert time.monotonic() < deadline, f"the run never started tag {length}"
        time.sleep(0.02)


def test_a_run_whose_claims_were_taken_while_it_was_stopped_starts_none_of_the_points_it_lost(
    install_plugin, write_suite, store_path, tmp_path
):
    install_plugin("seqbench-logged", LOGGED)
    log = tmp_path / "starts.log"
    suite = write_suite("[suite]\nname = \"s\"\n" + RUN.replace("[run]\n", "[run]\ntimeout = 30\n") + TASK
                        + "seq_len = 2\n[sweep]\nmodel.tag = [2, 3, 4]\n" + '[[model]]\nname = "logged:wait"\n')
    command = [sys.executable, "-m", "seqbench", "run", str(suite), "--store", str(store_path)]

    def run(gate: str) -> subprocess.Popen:
        env = {**os.environ, "STARTS_LOG": str(log), "GATE": str(tmp_path / gate)}
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    first = run("first-gate")
    second: subprocess.Popen | None = None
    try:
        wait_until_started(log, first, 2)  # tags 3 and 4 wait their turn
        first.send_signal(signal.SIGSTOP)  # Ctrl-Z ...
        connection = sqlite3.connect(store_path)
        owner = connection.execute("SELECT DISTINCT owner FROM claims").fetchall()
        connection.close()
        lapse(store_path, owner[0][0])  # ... for longer than its lease and the grace
        second = run("second-gate")  # takes all three, running the first
        wait_until_started(log, second, 2)
        first.send_signal(signal.SIGCONT)
        (tmp_path / "first-gate").touch()
        first_out, first_err = first.communicate(timeout=60)
        (tmp_path / "second-gate").touch()
        second_out, second_err = second.communicate(timeout=60)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait()

    # The point running when its claim went ran in both; nothing after it.
    assert [length for pid, length in starts(log) if pid == first.pid] == [2], first_out + first_err
    assert sorted(length for pid, length in starts(log) if pid == second.pid) == [2, 3, 4]
    assert first.returncode == 0, first_out + first_err
    assert second.returncode == 0, second_out + second_err
    [taken] = [line for line in first_out.splitlines() if "not started here" in line]
    assert taken.startswith("suite s: this run's claims lapsed (it was stopped, or could not renew them) and "
                            "other runs took 2 points, not started here: 2 being run by another run "
                            f"(pid {second.pid} on host "), first_out
    connection = sqlite3.connect(store_path)
    try:
        rows = connection.execute("SELECT point, status FROM runs").fetchall()
        assert len(rows) == 3 and len({point for point, _ in rows}) == 3
        assert {status for _, status in rows} == {"ok"}
        assert connection.execute("SELECT count(*) FROM claims").fetchone() == (0,)
    finally:
        connection.close()


# An executor that yields each point's real record (run in this process, oracle), the
# second one carrying an epoch no SQLite INTEGER holds, as a plugin may report.
HUGE = """
import dataclasses

from seqbench import hookimpl
from seqbench.executors import Executor
from seqbench.pipeline import run_point


class Huge(Executor):
    name = "huge"

    def run(self, points):
        for index, point in enumerate(points):
            record = run_point(point)
            if index == 1:
                record = dataclasses.replace(record, curves=[{"epoch": 10**400, "train_loss": 0.0}])
            yield record


@hookimpl
def register_executors(register):
    register(Huge)
"""


def test_a_record_sqlite_cannot_hold_is_kept_beside_the_store_and_the_sweep_goes_on(
    install_plugin, write_suite, store_path
):
    install_plugin("seqbench-huge", HUGE)
    suite = write_suite("[suite]\nname = \"s\"\nseeds = [0, 1, 2]\n" + RUN + TASK + "seq_len = 2\n"
                        + '[[model]]\nname = "oracle"\n')

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path), "--executor", "huge"])

    assert result.exit_code == 1, result.output  # one point not stored counts as failed
    assert "Traceback" not in result.output
    finished = [line.split()[1] for line in result.output.splitlines() if line.startswith("[")]
    assert finished == ["ok", "UNSAVED", "ok"], result.output
    assert "1 not stored (kept in " in result.output
    [kept] = (store_path.parent / (store_path.name + ".unsaved")).glob("*.json")
    assert json.loads(kept.read_text())["record"]["curves"] == [{"epoch": 10**400, "train_loss": 0.0}]
    stderr = [line for line in result.output.splitlines() if line.startswith("seqbench: could not store")]
    # Not tried again (2.5 s of pauses) as if the store were busy: it would fail the same way.
    assert len(stderr) == 1 and "after 1 try (OverflowError: " in stderr[0], result.output
    assert f"kept in {kept}; the sweep goes on" in stderr[0]
    connection = sqlite3.connect(store_path)
    try:
        assert connection.execute("SELECT status FROM runs").fetchall() == [("ok",), ("ok",)]
    finally:
        connection.close()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 10**400], ids=["nan", "inf", "huge-int"])
def test_the_kept_copy_of_a_record_writes_any_value_a_plugin_reported(store, write_suite, value, capsys):
    from seqbench.runner import _store

    point = load_suite(write_suite(RUN + TASK + '[[model]]\nname = "oracle"\n')).points[0]
    # The write fails on the int (OverflowError), the kept copy must still take the rest.
    record = dataclasses.replace(Record.failed(point, "x"), metrics={"mse": value},
                                 curves=[{"epoch": 10**400, "train_loss": value}])

    assert _store(store, record, {"note": value}) == "kept"

    [kept] = (store.path.parent / (store.path.name + ".unsaved")).glob("*.json")
    assert json.loads(kept.read_text())["record"]["curves"][0]["epoch"] == 10**400
    assert "the sweep goes on" in capsys.readouterr().err


def test_a_record_even_json_cannot_write_is_reported_lost_in_one_line(store, write_suite, capsys):
    from seqbench.runner import _store

    point = load_suite(write_suite(RUN + TASK + '[[model]]\nname = "oracle"\n')).points[0]
    # Past the digits str() of an int writes: json.dumps raises ValueError.
    record = dataclasses.replace(Record.failed(point, "x"), curves=[{"epoch": 10**5000, "train_loss": 0.0}])

    assert _store(store, record, {}) == "lost"

    [line] = capsys.readouterr().err.splitlines()
    assert "after 1 try (OverflowError: " in line
    assert "could not be kept beside it either (ValueError: " in line and line.endswith("the sweep goes on")


def test_ray_asks_before_it_submits_each_point_and_submits_none_it_may_not_start(write_suite, monkeypatch):
    """With --jobs the points Ray has not been given yet wait in the driver: each is asked
    as a slot frees, after the points before it finished (a stopped run learns there that
    its claims went). Without --jobs every point is submitted at once, and a task Ray
    holds is not asked again (docs/architecture.md)."""
    pytest.importorskip("ray")
    from seqbench.executors.ray import RayExecutor

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    points = load_suite(write_suite('[suite]\nseeds = [0, 1, 2]\n' + RUN + TASK + "seq_len = 2\n"
                                    + '[[model]]\nname = "oracle"\n')).points
    events: list[str] = []

    def may_start(point) -> bool:
        events.append(f"asked {point.seed}")
        return point.seed != 1  # another run took it

    with RayExecutor(jobs=1) as executor:
        for record in executor.run(points, may_start=may_start):
            events.append(f"{record.status} {record.seed}")

    assert events == ["asked 0", "ok 0", "asked 1", "asked 2", "ok 2"]
