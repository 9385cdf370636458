"""Issue 18, classes 8 and 10 (processes and signals): what a point starts ends with it,
point directories are judged by their lock (never by a PID), a signal stops a sweep
resumably with one line, a closed stdout does not stop it, concurrent runs of one
suite do not run a point twice, and an out-of-memory kill says so."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

SPAWNER = """
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from seqbench import Model, hookimpl


@dataclass
class Spawner(Model):
    name = "spawner:sleep"
    serves = frozenset({("continuous", "scalar")})

    def fit(self, train, settings, on_epoch):
        child = subprocess.Popen(["sleep", "600"])
        Path(os.environ["SPAWNED_PID"]).write_text(str(child.pid))
        time.sleep(600)


@hookimpl
def register_models(register):
    register(Spawner)
"""

RUN = '[run]\nepochs = 1\ntrain_size = 16\neval_size = 16\nbatch_size = 16\ndevice = "cpu"\n'
TASK = '[task]\nname = "adding"\nseq_len = 2\n'


def seqbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqbench", *args]


def running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_process_a_point_started_does_not_outlive_the_points_timeout(
    install_plugin, write_suite, store_path, tmp_path, monkeypatch
):
    install_plugin("seqbench-spawner", SPAWNER)
    spawned = tmp_path / "spawned.pid"
    monkeypatch.setenv("SPAWNED_PID", str(spawned))
    suite = write_suite(RUN.replace("[run]\n", "[run]\ntimeout = 2\n") + TASK
                        + '[[model]]\nname = "spawner:sleep"\n')

    result = subprocess.run(seqbench("run", str(suite), "--store", str(store_path)),
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "timed out after 2 s" in result.stdout
    pid = int(spawned.read_text())
    deadline = time.monotonic() + 5
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = running(pid)
    if alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "the point's `sleep 600` outlived the point"


def test_point_directories_are_removed_by_their_lock_never_by_a_pid(tmp_path, monkeypatch):
    import tempfile

    from seqbench.executors.subprocess_worker import (LOCK_NAME, POINT_DIR_PREFIX,
                                                      remove_stale_point_dirs)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # A live sweep in another PID namespace: its PID (in the name, as earlier versions
    # wrote it) is not visible here, but it holds its point directory's lock.
    live = tmp_path / f"{POINT_DIR_PREFIX}4194303-live"
    stale = tmp_path / f"{POINT_DIR_PREFIX}{os.getpid()}-stale"
    for directory in (live, stale):
        directory.mkdir()
        (directory / LOCK_NAME).touch()
        (directory / "record.json").write_text("{}")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\n"
         f"f = open({str(live / LOCK_NAME)!r})\nfcntl.flock(f, fcntl.LOCK_EX)\n"
         "print('held', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        remove_stale_point_dirs()
        assert live.exists(), "a live sweep's point directory was deleted"
        assert not stale.exists(), "a directory nobody holds was kept"
    finally:
        holder.kill()
        holder.wait()
    remove_stale_point_dirs()  # its holder is gone now
    assert not live.exists()


def test_a_running_points_directory_holds_its_lock_until_the_point_ends(tmp_path, monkeypatch):
    import tempfile

    from seqbench.executors.subprocess_worker import LOCK_NAME, WorkerProcess
    from seqbench.suite import load_suite

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + TASK + '[[model]]\nname = "oracle"\n')
    worker = WorkerProcess(load_suite(suite).points[0])
    lock = Path(worker.result_path).parent / LOCK_NAME
    with lock.open() as other:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    worker.wait()
    assert worker.record().ok
    assert not lock.parent.exists()


GATED = """
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqbench import Model, hookimpl


@dataclass
class Gated(Model):
    name = "gated:wait"
    serves = frozenset({("continuous", "scalar")})

    def fit(self, train, settings, on_epoch):
        Path(os.environ["GATED_STARTED"]).touch()
        while not Path(os.environ["GATED_OPEN"]).exists():
            time.sleep(0.02)
        on_epoch(1, 1.0, len(train))

    def predict(self, inputs):
        return np.zeros(len(inputs))


@hookimpl
def register_models(register):
    register(Gated)
"""


@pytest.fixture
def gated(install_plugin, tmp_path, monkeypatch):
    """(started, gate): a ``gated:wait`` point touches ``started`` in fit, then waits
    until ``gate`` exists."""
    install_plugin("seqbench-gated", GATED)
    started, gate = tmp_path / "gated-started", tmp_path / "gate-open"
    monkeypatch.setenv("GATED_STARTED", str(started))
    monkeypatch.setenv("GATED_OPEN", str(gate))
    return started, gate


def wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, "the sweep ended before its point started"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def stored_rows(store: Path) -> list[tuple[str, str, str]]:
    connection = sqlite3.connect(store)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return connection.execute("SELECT model, point, status FROM runs ORDER BY id").fetchall()
    finally:
        connection.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_sweep_with_one_line_and_it_resumes(gated, write_suite, store_path, signum):
    started, gate = gated
    suite = write_suite(RUN + TASK + '[[model]]\nname = "oracle"\n\n[[model]]\nname = "gated:wait"\n')
    command = seqbench("run", str(suite), "--store", str(store_path))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(started, process)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert stderr.strip().splitlines() == [
        f"stopped by {name}: finished points are stored; run again to resume"]
    assert [(model, status) for model, _, status in stored_rows(store_path)] == [("oracle", "ok")]
    if signum == signal.SIGTERM:  # resumable: the rest runs, nothing twice
        from click.testing import CliRunner

        from seqbench.cli import main

        gate.touch()
        again = CliRunner().invoke(main, command[3:])
        assert again.exit_code == 0, again.output
        assert "1 already done" in again.output
        assert [m for m, _, _ in stored_rows(store_path)] == ["oracle", "gated:wait"]


def test_a_closed_stdout_does_not_stop_the_sweep(write_suite, store_path):
    suite = write_suite(RUN + TASK + '[[model]]\nname = "oracle"\n')
    process = subprocess.Popen(seqbench("run", str(suite), "--store", str(store_path)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().startswith("suite ")
    process.stdout.close()  # as `| head -1` does
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert stderr.strip().splitlines() == [
        "seqbench: standard output was closed (its reader ended); the sweep goes on, "
        "its output discarded; results go to the store as always"]
    assert [status for _, _, status in stored_rows(store_path)] == ["ok"]


def test_two_runs_of_one_suite_at_once_never_run_a_point_twice(gated, write_suite, store_path):
    from click.testing import CliRunner

    from seqbench.cli import main

    started, gate = gated
    # The timeout only bounds a failure: were the second run to run a point, it would
    # wait for a gate that opens only after it ends.
    suite = write_suite("[suite]\nseeds = [0, 1]\n" + RUN.replace("[run]\n", "[run]\ntimeout = 20\n")
                        + TASK + '[[model]]\nname = "gated:wait"\n')
    command = seqbench("run", str(suite), "--store", str(store_path))
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(started, first)  # the first run holds both points, one of them running
        second = CliRunner().invoke(main, command[3:])  # a second run, in this process
        gate.touch()
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    assert second.exit_code == 0, second.output
    assert f"2 being run by another run (pid {first.pid} on host " in second.output
    assert "nothing to run" in second.output
    assert first.returncode == 0, out + err
    rows = stored_rows(store_path)
    assert len(rows) == 2 and len({point for _, point, _ in rows}) == 2
    connection = sqlite3.connect(store_path)
    assert connection.execute("SELECT count(*) FROM claims").fetchone() == (0,)
    connection.close()


def test_a_killed_runs_claims_do_not_hold_back_the_resume(write_suite, store_path):
    from click.testing import CliRunner

    from seqbench.claims import claims_folder
    from seqbench.cli import main
    from seqbench.store import Store
    from seqbench.suite import load_suite

    suite = write_suite(RUN + TASK + '[[model]]\nname = "oracle"\n')
    Store(store_path).close()
    # A run killed with -9 (in another PID namespace: its pid means nothing here) left
    # its claim, with a lease still running, and its lock file, which nobody holds.
    connection = sqlite3.connect(store_path)
    connection.execute("INSERT INTO claims VALUES ('suite', ?, 'dead', 4194303, 'elsewhere',"
                       " '2026-01-01T00:00:00+00:00', 1e12)", (load_suite(suite).points[0].hash,))
    connection.commit()
    connection.close()
    claims_folder(store_path).mkdir()
    (claims_folder(store_path) / "dead.lock").touch()

    again = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert again.exit_code == 0, again.output
    assert "running 1" in again.output
    assert [status for _, _, status in stored_rows(store_path)] == ["ok"]
    assert not claims_folder(store_path).exists()


OOM = """
import os
import signal
import time
from dataclasses import dataclass

from seqbench import Model, hookimpl


@dataclass
class Hog(Model):
    name = "hog:oom"
    serves = frozenset({("continuous", "scalar")})

    def fit(self, train, settings, on_epoch):
        hog = b"x" * (160 * 2**20)  # written, so resident
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would


@hookimpl
def register_models(register):
    register(Hog)
"""


def test_a_sigkill_near_the_memory_limit_is_reported_as_likely_out_of_memory(
    install_plugin, write_suite, store_path, monkeypatch
):
    from click.testing import CliRunner

    from seqbench.cli import main
    from seqbench.executors import memory

    install_plugin("seqbench-hog", OOM)
    # The real limit here is the machine's memory; a worker killed past 80% of a
    # 200 MiB limit is what an out-of-memory kill in a small container looks like.
    monkeypatch.setattr(memory, "memory_limit", lambda: 200 * 2**20)
    suite = write_suite(RUN + TASK + '[[model]]\nname = "hog:oom"\n')

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 1, result.output
    error = sqlite3.connect(store_path).execute("SELECT error FROM runs").fetchone()[0]
    assert "killed by SIGKILL — likely out of memory (peak RSS " in error
    assert " of a 200 MiB limit)" in error
    peak = int(error.split("peak RSS ")[1].split(" MiB")[0])
    # At least the 160 MiB the model wrote; no upper bound: on Linux a child's ru_maxrss
    # starts at its parent's RSS when it was spawned (this test's process may hold
    # TensorFlow from an earlier test: 1.4 GiB seen in CI).
    assert peak >= 160


SLOW_TASK = """
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from seqbench import Examples, Signature, Task, hookimpl


@dataclass
class Slow(Task):
    name = "slow"
    primary_metric = "mse"
    metrics = ("mse",)

    @property
    def signature(self):
        return Signature(inputs="continuous", targets="scalar", input_length=2)

    def generate(self, count, rng, split="train"):
        # Suite validation makes two examples (the probe): the test stops it there.
        Path(os.environ["SLOW_STARTED"]).touch()
        time.sleep(60)
        return Examples(np.zeros((count, 2, 1)), np.zeros(count))

    def solve(self, inputs):
        return np.zeros(len(inputs))

    def score(self, predictions, targets):
        return {"mse": 0.0}


@hookimpl
def register_tasks(register):
    register(Slow)
"""


def test_a_run_stopped_while_it_validates_says_nothing_was_written(install_plugin, write_suite, store_path,
                                                                    tmp_path, monkeypatch):
    install_plugin("seqbench-slow", SLOW_TASK)
    started = tmp_path / "slow-started"
    monkeypatch.setenv("SLOW_STARTED", str(started))
    suite = write_suite('[task]\nname = "slow"\n[[model]]\nname = "oracle"\n')
    process = subprocess.Popen(seqbench("run", str(suite), "--store", str(store_path)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(started, process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 128 + signal.SIGTERM
    assert stderr.strip().splitlines() == ["stopped by SIGTERM: nothing was run or written"]
    assert not store_path.exists()
