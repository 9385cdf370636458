"""``--executor ray`` on a real local Ray instance: same rows as the local executor,
dead workers retried a bounded number of times, GPUs one per point, Ctrl-C cancels
cleanly and a resumed sweep runs only what is missing.

One Ray instance serves the module (started in this process, 2 CPUs and 2 declared
GPUs, a small object store); in-process sweeps use its connection and subprocess
sweeps join it with ``--ray-address``. The interrupted sweep starts a local instance
of its own, to show that Ctrl-C takes every Ray process down with it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
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

from flaky_plugin import SOURCE, attempts, overlapping_pairs
from seqbench.cli import main
from seqbench.executors.local import THREAD_VARIABLES
from seqbench.executors.ray import MAX_RETRIES
from seqbench.results import load

if importlib.util.find_spec("ray") is None:
    pytest.skip("the ray extra is not installed: pip install -e '.[ray]'", allow_module_level=True)

GRACE_SECONDS = 15.0
FINISHED_LINE = re.compile(r"^\[\s*\d+/\d+\] (ok|FAILED)\s+(.*?)(?:  |$)")

RUN = """\
[run]
epochs = 1
train_size = 64
eval_size = 32
batch_size = 16
device = "{device}"
"""


def suite_text(name: str, seeds: list[int], body: str, device: str = "cpu") -> str:
    run = RUN.format(device=device)
    return f'[suite]\nname = "{name}"\nseeds = {seeds}\n\n{run}\n' + textwrap.dedent(body)


@pytest.fixture(scope="module")
def testkit_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The flaky test model installed (a dist-info with an entry point) where this
    process, its subprocesses and the module's Ray workers all import it."""
    site = tmp_path_factory.mktemp("site-packages")
    (site / "seqbench_testkit.py").write_text(SOURCE)
    info = site / "seqbench_testkit-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seqbench-testkit\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[seqbench]\nseqbench-testkit = seqbench_testkit\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(site))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
        yield site


@pytest.fixture(scope="module")
def ray_address(testkit_site: Path) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, as seqbench's own
        patch.delenv("RAY_ADDRESS", raising=False)
        import ray

        # Ray reads that variable when first imported; an earlier test may have imported it.
        patch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
        ray.init(
            address="local", num_cpus=2, num_gpus=2, object_store_memory=80 * 1024**2,
            include_dashboard=False, log_to_driver=False, logging_level="ERROR",
        )
        try:
            address = ray.get_runtime_context().gcs_address
            assert address.startswith("127.0.0.1:"), address
            yield address
        finally:
            ray.shutdown()


def invoke(suite: Path, store: Path, *args: str):
    return CliRunner().invoke(main, ["run", str(suite), "--store", str(store), *args])


def rows(store: Path) -> dict[str, dict]:
    frame = load(store)
    return {row["point"]: row for row in frame.to_dict("records")}


SAME_ROWS = """\
[task]
name = "adding"

[sweep]
task.seq_len = [4, 8]

[[model]]
name = "oracle"

[[model]]
name = "numpy:ridge"
"""


def test_a_ray_sweep_stores_the_same_rows_as_the_local_executor(ray_address, write_suite, tmp_path):
    suite = write_suite(suite_text("same", [0, 1], SAME_ROWS))
    local = invoke(suite, tmp_path / "local.sqlite", "--jobs", "2")
    remote = invoke(suite, tmp_path / "ray.sqlite", "--executor", "ray")
    local_rows, ray_rows = rows(tmp_path / "local.sqlite"), rows(tmp_path / "ray.sqlite")

    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert len(ray_rows) == 8
    assert set(ray_rows) == set(local_rows)
    for point, row in ray_rows.items():
        assert row["status"] == "ok"
        metrics = {key: value for key, value in row.items() if key.startswith("metric.")}
        assert metrics == {key: local_rows[point][key] for key in metrics}, row["model"]
        assert row["primary_value"] == local_rows[point]["primary_value"]


DYING = """\
[task]
name = "adding"
seq_len = 2

[sweep]
model.failure = ["kill-point", "kill-ray-worker"]
model.failures = [1, 9]

[[model]]
name = "testkit:flaky"
log_dir = "{log_dir}"
"""


@pytest.fixture(scope="module")
def dying_sweep(ray_address, testkit_site, tmp_path_factory):
    """One sweep of four points whose first attempt (or every attempt) is SIGKILLed:
    the point's own process, or the Ray worker running it."""
    root = tmp_path_factory.mktemp("dying")
    log_dir = root / "attempts"
    log_dir.mkdir()
    suite = root / "dying.toml"
    suite.write_text(suite_text("dying", [0], DYING.format(log_dir=log_dir)))
    result = invoke(suite, root / "store.sqlite", "--executor", "ray")
    return result, attempts(log_dir), rows(root / "store.sqlite")


@pytest.mark.parametrize("failure", ["kill-point", "kill-ray-worker"])
def test_a_point_whose_worker_dies_once_is_retried_and_succeeds(dying_sweep, failure):
    _, runs, stored = dying_sweep
    tries = runs[f"{failure}-1-0-cpu"]
    (row,) = [row for row in stored.values() if row["model.failure"] == failure
              and row["model.failures"] == 1]

    assert len(tries) == 2
    assert tries[0]["pid"] != tries[1]["pid"]
    assert "end" in tries[1]
    assert row["status"] == "ok"
    assert row["primary_value"] == 0.0


@pytest.mark.parametrize("failure, error", [
    ("kill-point", "worker process died (killed by signal SIGKILL) before writing a result, "
                   f"on each of its {MAX_RETRIES + 1} attempts"),
    ("kill-ray-worker", f"the Ray worker running this point died, on each of its {MAX_RETRIES + 1} attempts"),
])
def test_a_point_whose_worker_keeps_dying_is_stored_failed_after_bounded_retries(
    dying_sweep, failure, error
):
    result, runs, stored = dying_sweep
    (row,) = [row for row in stored.values() if row["model.failure"] == failure
              and row["model.failures"] == 9]

    assert len(runs[f"{failure}-9-0-cpu"]) == MAX_RETRIES + 1
    assert row["status"] == "failed"
    assert row["error"] == error
    assert result.exit_code == 1
    assert "suite dying: 2 of 4 points failed" in result.output


GPUS = """\
[task]
name = "adding"
seq_len = 2

[[model]]
name = "testkit:flaky"
log_dir = "{log_dir}"
meet = 2
"""


def flaky_sweep(write_suite, tmp_path: Path, device: str) -> tuple[object, list[dict]]:
    log_dir = tmp_path / "attempts"
    log_dir.mkdir()
    suite = write_suite(suite_text("gpus", [0, 1], GPUS.format(log_dir=log_dir), device=device))
    result = invoke(suite, tmp_path / "store.sqlite", "--executor", "ray")
    return result, [entry for point in attempts(log_dir).values() for entry in point]


def test_gpu_points_running_at_once_each_get_a_ray_gpu_of_their_own(ray_address, write_suite, tmp_path):
    result, entries = flaky_sweep(write_suite, tmp_path, "auto")

    assert result.exit_code == 0, result.output
    assert sorted(entry["env"]["CUDA_VISIBLE_DEVICES"] for entry in entries) == ["0", "1"]
    assert overlapping_pairs(entries), "the two GPU points did not run at once"


def test_cpu_points_on_ray_see_no_gpu_and_one_thread(ray_address, write_suite, tmp_path):
    result, entries = flaky_sweep(write_suite, tmp_path, "cpu")

    assert result.exit_code == 0, result.output
    assert [entry["env"]["CUDA_VISIBLE_DEVICES"] for entry in entries] == ["", ""]
    assert {entry["env"][name] for entry in entries for name in THREAD_VARIABLES} == {"1"}


INTERRUPTED = """\
[task]
name = "adding"
seq_len = 2

[[model]]
name = "oracle"

[[model]]
name = "testkit:flaky"
log_dir = "{log_dir}"
failure = "hang"
failures = 1
"""


def seqbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqbench", *args]


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (every process a sweep started
    inherits it: Ray's, its workers', the points')."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and marker.encode() in environ:
            found.append(int(entry.name))
    return found


def still_alive(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + GRACE_SECONDS
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.fixture(scope="module")
def interrupted_then_resumed(ray_address, testkit_site, tmp_path_factory):
    """A sweep on its own local Ray instance, interrupted (SIGINT, as Ctrl-C sends) once
    its three oracle points are stored and its three other points hang; then resumed
    on the module's instance."""
    # A short TMPDIR: Ray's socket paths under it must stay within 107 characters.
    root = Path(os.path.realpath(tmp_path_factory.mktemp("sigint")))
    temporary = Path("/tmp") / f"sbray-{os.getpid()}"
    temporary.mkdir(exist_ok=True)
    log_dir = root / "attempts"
    log_dir.mkdir()
    suite = root / "interrupted.toml"
    suite.write_text(suite_text("interrupted", [0, 1, 2], INTERRUPTED.format(log_dir=log_dir)))
    store = root / "store.sqlite"
    marker = f"TMPDIR={temporary}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(temporary)}
    process = subprocess.Popen(
        seqbench("run", str(suite), "--store", str(store), "--executor", "ray", "--jobs", "3"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal would
    )
    try:
        finished = []
        assert process.stdout is not None
        while len(finished) < 3:
            line = process.stdout.readline()
            assert line, "the sweep ended before three points finished"
            finished += [line] if FINISHED_LINE.match(line) else []
        deadline = time.monotonic() + 60
        while sum(len(tries) for tries in attempts(log_dir).values()) < 3:
            assert time.monotonic() < deadline, "the hanging points never started"
            time.sleep(0.05)
        hanging = [tries[0]["pid"] for tries in attempts(log_dir).values()]
        running_before = processes_with(marker)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    orphans = still_alive(processes_with(marker) + hanging)
    stored_before = rows(store)
    resumed = subprocess.run(
        seqbench("run", str(suite), "--store", str(store), "--executor", "ray",
                 "--ray-address", ray_address),
        capture_output=True, text=True, env=env, timeout=120,
    )
    yield {
        "code": process.returncode, "stdout": "".join(finished) + stdout, "stderr": stderr,
        "running_before": running_before, "orphans": orphans, "stored_before": stored_before,
        "resumed": resumed, "store": store, "attempts": attempts(log_dir), "address": ray_address,
    }
    for pid in orphans:  # only when a test failed: leave nothing running
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(temporary, ignore_errors=True)


def test_ctrl_c_stops_a_ray_sweep_and_keeps_what_finished(interrupted_then_resumed):
    run = interrupted_then_resumed
    before = run["stored_before"]

    assert run["code"] == 130
    assert run["stderr"].splitlines()[-1] == "interrupted: finished points are stored; run again to resume"
    assert sorted(row["model"] for row in before.values()) == ["oracle"] * 3
    assert {row["status"] for row in before.values()} == {"ok"}


def test_ctrl_c_leaves_no_ray_or_point_process_behind(interrupted_then_resumed):
    run = interrupted_then_resumed

    assert len(run["running_before"]) > 3, "the sweep's Ray processes were not found"
    assert run["orphans"] == []


def test_resume_after_ctrl_c_runs_only_the_missing_points(interrupted_then_resumed):
    run = interrupted_then_resumed
    resumed = run["resumed"]
    ran = [m.group(2) for line in resumed.stdout.splitlines() if (m := FINISHED_LINE.match(line))]
    stored = sqlite3.connect(run["store"]).execute("SELECT point, status FROM runs").fetchall()

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "suite interrupted: 6 points, 3 already done (--fresh reruns them), running 3" in resumed.stdout
    assert sorted(ran) == [f"adding testkit:flaky seed={seed}" for seed in (0, 1, 2)]
    assert sorted(status for _, status in stored) == ["ok"] * 6
    assert len({point for point, _ in stored}) == 6
    assert all(len(tries) == 2 for tries in run["attempts"].values())


def test_a_ray_sweep_prints_only_seqbench_lines(interrupted_then_resumed):
    run = interrupted_then_resumed
    expected = re.compile(r"^(suite interrupted: .*|\[\s*\d+/\d+\] (ok|FAILED) .*|results: .*)$")

    for output in (run["stdout"], run["resumed"].stdout):
        assert [line for line in output.splitlines() if not expected.match(line)] == []
    assert run["stderr"].splitlines()[0].startswith("ray: started a local Ray instance: 3 CPU(s)")
    assert run["resumed"].stderr.splitlines() == [
        f"ray: connected to the Ray cluster at {run['address']}: 2 CPU(s), 2 GPU(s)"
    ]


# SIGTERM as Slurm stops a job: ray.init installs a SIGTERM handler of its own that
# calls sys.exit, which the sweep had reported as a broken executor (exit 2).
@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_sweep_on_a_cluster_cancels_its_tasks_and_leaves_the_cluster_up(
    ray_address, write_suite, tmp_path, stop, code
):
    import ray

    log_dir = tmp_path / "attempts"
    log_dir.mkdir()
    hang = INTERRUPTED.replace('[[model]]\nname = "oracle"\n\n', "")
    suite = write_suite(suite_text("cancelled", [0, 1], hang.format(log_dir=log_dir)))
    process = subprocess.Popen(
        seqbench("run", str(suite), "--store", str(tmp_path / "store.sqlite"),
                 "--executor", "ray", "--ray-address", ray_address),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while len(attempts(log_dir)) < 2:  # both points hang, one on each of the cluster's CPUs
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.05)
        hanging = [tries[0]["pid"] for tries in attempts(log_dir).values()]
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    deadline = time.monotonic() + GRACE_SECONDS
    while ray.available_resources().get("CPU") != 2 and time.monotonic() < deadline:
        time.sleep(0.1)

    assert process.returncode == code, stderr
    if stop == signal.SIGTERM:
        assert stderr.strip().splitlines()[-1].startswith("stopped by SIGTERM: "), stderr
    assert still_alive(hanging) == []
    assert ray.available_resources().get("CPU") == 2  # the tasks are gone, the cluster is not


def test_a_sweep_abandoned_midway_cancels_its_ray_tasks(ray_address, write_suite, tmp_path):
    # As in a notebook: the driver lives on after the sweep stops, so nothing but the
    # executor's cancel would stop the tasks it submitted.
    import ray

    from seqbench.executors.ray import RayExecutor
    from seqbench.suite import load_suite

    log_dir = tmp_path / "attempts"
    log_dir.mkdir()
    suite = write_suite(suite_text("abandoned", [0, 1], INTERRUPTED.format(log_dir=log_dir)))
    oracle_first = sorted(load_suite(suite).points, key=lambda point: point.model != "oracle")[1:]
    with RayExecutor() as executor:
        sweep = executor.run(oracle_first)
        first = next(sweep)
        deadline = time.monotonic() + 60
        while len(attempts(log_dir)) < 2:
            assert time.monotonic() < deadline, "the hanging points never started"
            time.sleep(0.05)
        hanging = [tries[0]["pid"] for tries in attempts(log_dir).values()]
        sweep.close()
    deadline = time.monotonic() + GRACE_SECONDS
    while ray.available_resources().get("CPU") != 2 and time.monotonic() < deadline:
        time.sleep(0.1)

    assert first.model == "oracle" and first.ok
    assert still_alive(hanging) == []
    assert ray.available_resources().get("CPU") == 2
    assert ray.is_initialized()  # the connection it did not open is left open
