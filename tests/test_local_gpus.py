"""``--executor local --jobs N`` on a GPU machine: each running point gets a GPU of its
own through CUDA_VISIBLE_DEVICES (by UUID), CPU points see none, threads stay limited.

The GPUs are the fake NVML's (tests/fake_nvml), seen by the sweep and by its real
worker subprocesses alike; each worker logs the environment it actually received
(tests/flaky_plugin.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fake_nvml import use_fake_nvml
from flaky_plugin import SOURCE, attempts, overlapping_pairs
from seqbench.cli import main
from seqbench.executors.local import THREAD_VARIABLES
from seqbench.meters.idle import CACHE_VARIABLE
from seqbench.results import load
from seqbench.threads import usable_cores

UUID_A = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
UUID_B = "GPU-bbbbbbbb-0000-0000-0000-000000000000"
# Mixed models, in NVML's (PCI) order; CUDA's default order would put the faster first.
NAMES = ("NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3")

SUITE = """\
[suite]
name = "gpus"
seeds = {seeds}

[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "auto"

[task]
name = "adding"
seq_len = 2

[[model]]
name = "testkit:flaky"
log_dir = "{log_dir}"
hold_s = 0.1
meet = {meet}
"""


@pytest.fixture
def gpu_sweep(install_plugin, write_suite, store_path, tmp_path, monkeypatch):
    """``gpu_sweep(gpus, *run_args, seeds=4, devices=None, visible=None, meet=1)``: run
    the suite on ``gpus`` fake GPUs; returns the CLI result and each point's logged
    attempts. With ``meet`` = 2, each point waits in fit until another one is there too."""
    install_plugin("seqbench-testkit", SOURCE)
    for name in (*THREAD_VARIABLES, "CUDA_VISIBLE_DEVICES", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "idle.json"))
    monkeypatch.setenv("SEQBENCH_GPU_IDLE_SECONDS", "0.1")
    log_dir = tmp_path / "attempts"
    log_dir.mkdir()

    def sweep(gpus: int, *run_args: str, seeds: int = 4, devices: list[str] | None = None,
              visible: str | None = None, meet: int = 1) -> tuple[Result, dict[str, list[dict]]]:
        text = SUITE.format(log_dir=log_dir, seeds=list(range(seeds)), meet=meet)
        if devices:
            text += f"\n[sweep]\nrun.device = {devices!r}\n".replace("'", '"')
        suite = write_suite(text)
        if visible is not None:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        with use_fake_nvml(monkeypatch) as configure:
            configure(*[{"uuid": uuid, "name": name} for uuid, name in zip((UUID_A, UUID_B), NAMES)][:gpus],
                      **({} if gpus else {"library": "missing"}))
            result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path), *run_args])
        return result, attempts(log_dir)

    return sweep


def env_of(runs: dict[str, list[dict]], name: str, device: str = "auto") -> list[str | None]:
    return [entry["env"][name] for key, entries in runs.items() if key.endswith(device) for entry in entries]


def test_points_running_at_once_each_get_a_gpu_of_their_own(gpu_sweep, store_path):
    result, runs = gpu_sweep(2, "--jobs", "2", meet=2)
    entries = [entry for point in runs.values() for entry in point]
    pairs = overlapping_pairs(entries)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert sorted(env_of(runs, "CUDA_VISIBLE_DEVICES")) == [UUID_A, UUID_A, UUID_B, UUID_B]
    assert set(env_of(runs, "CUDA_DEVICE_ORDER")) == {"PCI_BUS_ID"}
    assert pairs, "no two points ran at once: the test showed nothing"
    assert all(a["env"]["CUDA_VISIBLE_DEVICES"] != b["env"]["CUDA_VISIBLE_DEVICES"] for a, b in pairs)
    # NVML in each worker measured the GPU the sweep handed it, and no other.
    rows = load(store_path).to_dict("records")
    assert sorted(row["meter.nvml.train.gpus"] for row in rows) == [UUID_A, UUID_A, UUID_B, UUID_B]
    for row in rows:
        name = NAMES[(UUID_A, UUID_B).index(row["meter.nvml.train.gpus"])]
        assert row["meter.nvml.train.gpu_names"] == name
        assert json.loads(row["provenance"])["device"] == "cuda:0"


def test_gpus_named_by_uuid_in_cuda_visible_devices_are_handed_out_one_each(gpu_sweep):
    result, runs = gpu_sweep(2, "--jobs", "2", seeds=2, visible=f"{UUID_B},{UUID_A}", meet=2)

    assert result.exit_code == 0, result.output
    assert sorted(env_of(runs, "CUDA_VISIBLE_DEVICES")) == [UUID_A, UUID_B]


def test_fewer_gpus_than_jobs_runs_one_point_per_gpu_and_says_so(gpu_sweep):
    # An index in CUDA_VISIBLE_DEVICES is read in PCI order (NVML's) and handed on as its UUID.
    result, runs = gpu_sweep(2, "--jobs", "2", seeds=2, visible="1")

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"note: --jobs 2 but 1 GPU(s) visible ({UUID_B}): at most 1 GPU point(s) run at once, "
        "each on its own GPU"
    ]
    assert env_of(runs, "CUDA_VISIBLE_DEVICES") == [UUID_B, UUID_B]
    assert overlapping_pairs([entry for point in runs.values() for entry in point]) == []


def test_cpu_points_fill_the_slots_gpu_points_cannot_use(gpu_sweep):
    # One GPU, two jobs: a CPU point runs beside the GPU point (they meet in fit).
    result, runs = gpu_sweep(1, "--jobs", "2", seeds=1, devices=["auto", "cpu"], meet=2)
    (gpu_point,) = [entry for key, point in runs.items() if key.endswith("auto") for entry in point]
    (cpu_point,) = [entry for key, point in runs.items() if key.endswith("cpu") for entry in point]

    assert result.exit_code == 0, result.output
    assert overlapping_pairs([gpu_point, cpu_point]) != []
    assert gpu_point["env"]["CUDA_VISIBLE_DEVICES"] == UUID_A


def test_cpu_points_see_no_gpu_and_limited_threads(gpu_sweep, store_path):
    result, runs = gpu_sweep(2, "--jobs", "2", seeds=2, devices=["cpu"])
    share = str(max(1, usable_cores() // 2))

    assert result.exit_code == 0, result.output
    assert env_of(runs, "CUDA_VISIBLE_DEVICES", "cpu") == ["", ""]
    for name in THREAD_VARIABLES:
        assert all(int(value) <= int(share) for value in env_of(runs, name, "cpu"))
    rows = load(store_path).to_dict("records")
    assert {row["meter.nvml.unavailable"] for row in rows} == {"point ran on cpu"}
    threads = [json.loads(row["provenance"])["threads"] for row in rows]
    assert [(t["setting"], t["threads"], t["points_at_once"]) for t in threads] == [
        ("auto", expected_threads(int(share), t["idle_cores"]), 2) for t in threads
    ]
    # The wait policy each worker had is the one its record names.
    assert sorted(env_of(runs, "OMP_WAIT_POLICY", "cpu"), key=str) == sorted(
        (t["omp_wait_policy"] for t in threads), key=str
    )


def expected_threads(budget: int, idle: float | None) -> int:
    """What "auto" gives a point whose share of the cores is ``budget`` when it saw
    ``idle`` cores free (seqbench.threads.resolve, restated)."""
    if budget == 1 or idle is None or idle >= budget - 0.5:
        return budget
    return max(1, math.floor(idle + 0.5))


def recorded_threads(store_path) -> list[dict]:
    return [json.loads(row["provenance"])["threads"] for row in load(store_path).to_dict("records")]


def test_without_gpus_points_keep_the_environment_and_get_limited_threads(gpu_sweep, store_path):
    result, runs = gpu_sweep(0, "--jobs", "2", seeds=2)
    share = max(1, usable_cores() // 2)

    assert result.exit_code == 0, result.output
    assert env_of(runs, "CUDA_VISIBLE_DEVICES") == [None, None]
    budgets = recorded_threads(store_path)
    assert sorted(env_of(runs, "OMP_NUM_THREADS")) == sorted(
        str(expected_threads(share, b["idle_cores"])) for b in budgets
    )


def test_one_job_at_a_time_sees_every_gpu_and_every_usable_core(gpu_sweep, store_path):
    result, runs = gpu_sweep(2, seeds=1)

    assert result.exit_code == 0, result.output
    assert env_of(runs, "CUDA_VISIBLE_DEVICES") == [None]
    # Every usable core, unless other processes on this (shared) machine held some.
    (budget,) = recorded_threads(store_path)
    assert env_of(runs, "OMP_NUM_THREADS") == [str(expected_threads(usable_cores(), budget["idle_cores"]))]


def test_a_point_pinned_to_a_later_gpu_is_refused_with_several_jobs(gpu_sweep, store_path):
    result, runs = gpu_sweep(2, "--jobs", "2", seeds=1, devices=["cuda:1"])

    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "Error: suite gpus: run.device = 'cuda:1' names one GPU, but with --jobs 2 each point is "
        "given its own GPU, which it sees as cuda:0; use device = \"cuda\" or \"auto\", or --jobs 1"
    ]
    assert runs == {}
    assert not Path(store_path).exists()
