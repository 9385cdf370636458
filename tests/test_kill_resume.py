"""A sweep killed with SIGKILL at random moments and resumed: every point is in the store
exactly once, none lost, none duplicated, and no worker process outlives its parent.

The real ``python -m seqbench run`` runs in a subprocess. Each kill waits for a seeded
random number of finished points (so the sweep always makes progress), then a seeded
random delay (so the kill lands anywhere in a point's life: a worker starting,
computing, writing its record, or the parent writing to the store). The first kill
waits for no point at all, so it can land during start-up or while the store is created.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from seqbench.suite import Suite, load_suite
from worker_processes import live_workers

SEED = 20240611
KILLS = 5
JOBS = "2"
ORPHAN_GRACE_SECONDS = 5.0
FINISHED_LINE = re.compile(r"^\[\s*\d+/\d+\] (ok|FAILED)\s+(.*?)(?:  |$)")

# 10 lengths x 3 seeds = 30 oracle points, each a fraction of a second.
KILL_SUITE = """\
[suite]
name = "killed"
seeds = [0, 1, 2]

[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "cpu"

[task]
name = "adding"

[sweep]
task.seq_len = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]

[[model]]
name = "oracle"
"""

SMALL_SUITE = (
    KILL_SUITE.replace('name = "killed"', 'name = "small"')
    .replace("seeds = [0, 1, 2]", "seeds = [0, 1]")
    .replace("[2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", "[2, 3]")
)


def seqbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqbench", *args]


def child_env(temporary: Path) -> dict[str, str]:
    # Workers keep their result file under TMPDIR, so their command lines name it:
    # that is how the orphan check finds this test's workers and no one else's.
    temporary.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(temporary)}


def wait_for_no_workers(marker: str) -> list[int]:
    """Workers still alive after the grace period (empty when all died)."""
    deadline = time.monotonic() + ORPHAN_GRACE_SECONDS
    while (alive := live_workers(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def finished_labels(output: str) -> list[str]:
    return [m.group(2) for line in output.splitlines() if (m := FINISHED_LINE.match(line))]


def stored_points(store: Path, suite: str) -> list[tuple[str, str]]:
    """(point, status) of every row of ``suite``; empty before the store exists."""
    if not store.exists():
        return []
    connection = sqlite3.connect(store)
    try:
        return connection.execute(
            "SELECT point, status FROM runs WHERE suite = ?", (suite,)
        ).fetchall()
    except sqlite3.OperationalError:  # killed before the schema was created
        return []
    finally:
        connection.close()


@dataclass
class KillScenario:
    suite: Suite
    store: Path
    killed_outputs: list[str] = field(default_factory=list)
    workers_seen_at_kill: int = 0
    orphans: list[int] = field(default_factory=list)
    ok_after_each_kill: list[set[str]] = field(default_factory=list)
    missing_before_final: set[str] = field(default_factory=set)
    final_output: str = ""
    final_code: int | None = None


def _kill_once(command: list[str], env: dict[str, str], points_to_wait: int,
               delay: float, marker: str, scenario: KillScenario) -> None:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        finished = 0
        while finished < points_to_wait:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            finished += bool(FINISHED_LINE.match(line))
        time.sleep(delay)
        scenario.workers_seen_at_kill += len(live_workers(marker))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        seen.append(process.stdout.read())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    scenario.killed_outputs.append("".join(seen))
    scenario.orphans += wait_for_no_workers(marker)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KillScenario]:
    """Run the 30-point suite, SIGKILL it KILLS times, then let a last run finish it."""
    root = tmp_path_factory.mktemp("kill")
    suite_path = root / "killed.toml"
    suite_path.write_text(KILL_SUITE)
    temporary = root / "tmp"
    env = child_env(temporary)
    scenario = KillScenario(suite=load_suite(suite_path), store=root / "store.sqlite")
    command = seqbench("run", str(suite_path), "--store", str(scenario.store), "--jobs", JOBS)
    rng = random.Random(SEED)

    for kill in range(KILLS):
        points_to_wait = 0 if kill == 0 else rng.randint(1, 3)
        delay = rng.uniform(0.0, 0.4)
        _kill_once(command, env, points_to_wait, delay, str(temporary), scenario)
        scenario.ok_after_each_kill.append(
            {point for point, status in stored_points(scenario.store, "killed") if status == "ok"}
        )

    done = scenario.ok_after_each_kill[-1]
    scenario.missing_before_final = {p.hash for p in scenario.suite.points} - done
    final = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    scenario.final_output, scenario.final_code = final.stdout, final.returncode
    yield scenario
    for pid in scenario.orphans:  # only if the test failed; don't leave them running
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_every_point_is_stored_exactly_once_after_kills_and_resume(killed_and_resumed):
    rows = stored_points(killed_and_resumed.store, "killed")
    counts = Counter(point for point, _ in rows)

    assert set(counts) == {point.hash for point in killed_and_resumed.suite.points}
    assert len(rows) == len(killed_and_resumed.suite.points) == 30
    assert [point for point, n in counts.items() if n > 1] == []


def test_every_point_succeeds_once_resumed_after_kills(killed_and_resumed):
    rows = stored_points(killed_and_resumed.store, "killed")

    assert killed_and_resumed.final_code == 0, killed_and_resumed.final_output
    assert {status for _, status in rows} == {"ok"}


def test_points_reported_finished_before_a_kill_stay_in_the_store(killed_and_resumed):
    by_label = {point.label(): point.hash for point in killed_and_resumed.suite.points}
    reported = {
        by_label[label] for output in killed_and_resumed.killed_outputs
        for label in finished_labels(output)
    }
    after = killed_and_resumed.ok_after_each_kill

    assert reported, "no point finished before a kill: the scenario tested nothing"
    assert reported <= after[-1]
    assert all(earlier <= later for earlier, later in zip(after, after[1:]))


def test_resume_after_kills_runs_only_the_missing_points(killed_and_resumed):
    scenario = killed_and_resumed
    total, missing = len(scenario.suite.points), len(scenario.missing_before_final)
    by_label = {point.label(): point.hash for point in scenario.suite.points}
    ran = [by_label[label] for label in finished_labels(scenario.final_output)]

    assert 0 < missing < total
    assert (
        f"suite killed: {total} points, {total - missing} already done "
        f"(--fresh reruns them), running {missing}"
    ) in scenario.final_output
    assert sorted(ran) == sorted(scenario.missing_before_final)


def test_killed_run_leaves_no_worker_process_behind(killed_and_resumed):
    assert killed_and_resumed.workers_seen_at_kill > 0, "no kill caught a worker running"
    assert killed_and_resumed.orphans == []


SLEEPER = """
import os
import time
from dataclasses import dataclass
from pathlib import Path

from seqbench import Model, hookimpl


@dataclass
class Sleeper(Model):
    name = "sleepy:forever"
    serves = frozenset({("continuous", "scalar")})

    def fit(self, train, settings, on_epoch):
        Path(os.environ["SLEEPER_STARTED"]).touch()
        time.sleep(3600)


@hookimpl
def register_models(register):
    register(Sleeper)
"""


SLEEPER_SUITE = """\
[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "cpu"

[task]
name = "adding"
seq_len = 2

[[model]]
name = "sleepy:forever"
"""


def test_killing_the_sweep_kills_the_worker_it_was_waiting_for(
    install_plugin, write_suite, store_path, tmp_path, monkeypatch
):
    install_plugin("seqbench-sleepy", SLEEPER)
    started = tmp_path / "sleeper-started"
    monkeypatch.setenv("SLEEPER_STARTED", str(started))
    suite = write_suite(SLEEPER_SUITE)
    temporary = tmp_path / "tmp"
    process = subprocess.Popen(
        seqbench("run", str(suite), "--store", str(store_path)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(temporary),
    )
    try:
        while not started.exists():  # the worker is inside fit, sleeping
            assert process.poll() is None, "the sweep ended before its worker started"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

        assert wait_for_no_workers(str(temporary)) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in live_workers(str(temporary)):  # only if the test failed
            os.kill(pid, signal.SIGKILL)


def test_ctrl_c_stops_the_sweep_cleanly_and_keeps_what_finished(
    install_plugin, write_suite, store_path, tmp_path, monkeypatch
):
    # An oracle point finishes first, then the sweep is interrupted while a worker sleeps.
    install_plugin("seqbench-sleepy", SLEEPER)
    started = tmp_path / "sleeper-started"
    monkeypatch.setenv("SLEEPER_STARTED", str(started))
    suite = write_suite(SLEEPER_SUITE.replace('[[model]]', '[[model]]\nname = "oracle"\n\n[[model]]', 1))
    temporary = tmp_path / "tmp"
    process = subprocess.Popen(
        seqbench("run", str(suite), "--store", str(store_path)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(temporary),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal would
    )
    try:
        while not started.exists():
            assert process.poll() is None, "the sweep ended before its worker started"
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert stderr.strip().splitlines() == ["interrupted: finished points are stored; run again to resume"]
    assert [model for model, status in stored_models(store_path)] == ["oracle"]
    assert wait_for_no_workers(str(temporary)) == []


def stored_models(store: Path) -> list[tuple[str, str]]:
    connection = sqlite3.connect(store)
    try:
        return connection.execute("SELECT model, status FROM runs ORDER BY id").fetchall()
    finally:
        connection.close()


def test_store_passes_integrity_check_after_kills(killed_and_resumed):
    connection = sqlite3.connect(killed_and_resumed.store)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        connection.close()


@pytest.fixture
def small_suite(write_suite, store_path, tmp_path):
    """A finished 4-point suite: its path, store, environment, and the run command."""
    path = write_suite(SMALL_SUITE, name="small.toml")
    env = child_env(tmp_path / "tmp")
    command = seqbench("run", str(path), "--store", str(store_path), "--jobs", JOBS)
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    return command, env, store_path


def _rows(store: Path) -> list[tuple[int, str, str]]:
    connection = sqlite3.connect(store)
    try:
        return connection.execute("SELECT id, point, recorded_at FROM runs ORDER BY id").fetchall()
    finally:
        connection.close()


def test_fresh_reruns_every_point_without_duplicates(small_suite):
    command, env, store = small_suite
    before = _rows(store)

    fresh = subprocess.run(
        [*command, "--fresh"], capture_output=True, text=True, env=env, timeout=120
    )
    after = _rows(store)

    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "suite small: 4 points, running 4" in fresh.stdout
    assert len(finished_labels(fresh.stdout)) == 4
    assert sorted(point for _, point, _ in after) == sorted(point for _, point, _ in before)
    assert min(run_id for run_id, _, _ in after) > max(run_id for run_id, _, _ in before)


def test_resume_of_a_finished_suite_runs_nothing(small_suite):
    command, env, store = small_suite
    before = _rows(store)

    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    assert again.returncode == 0, again.stdout + again.stderr
    assert (
        "suite small: 4 points, 4 already done (--fresh reruns them), nothing to run"
        in again.stdout
    )
    assert finished_labels(again.stdout) == []
    assert _rows(store) == before



def test_a_later_sweep_removes_point_directories_a_killed_sweep_left(tmp_path, monkeypatch):
    import tempfile

    from seqbench.executors.subprocess_worker import LOCK_NAME, POINT_DIR_PREFIX, remove_stale_point_dirs

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # The killed sweep's lock went with it: nobody holds its lock file.
    stale = tmp_path / f"{POINT_DIR_PREFIX}abc"
    stale.mkdir()
    (stale / LOCK_NAME).touch()
    (stale / "worker.log").write_text("log")
    remove_stale_point_dirs()
    assert not stale.exists()
