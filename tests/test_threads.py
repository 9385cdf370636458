"""run.threads: the usable cores (affinity, cgroup v1/v2 quota) divided among the points
running at once, applied in the worker before any framework loads, and recorded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from seqbench.cli import main
from seqbench.results import load
from seqbench.threads import (
    POINT_CPUS_VARIABLE,
    POINTS_AT_ONCE_VARIABLE,
    THREAD_VARIABLES,
    apply,
    cgroup_quota,
    idle_cores,
    resolve,
    usable_cores,
)


def cgroup(tmp_path, files: dict[str, str], own: str = "0::/") -> tuple:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    root.mkdir(exist_ok=True)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(own + "\n")
    return root, proc


def test_cgroup_v2_quota_of_the_process_or_an_ancestor_binds(tmp_path):
    root, proc = cgroup(
        tmp_path,
        {"cpu.max": "max 100000", "slurm/job_7/cpu.max": "250000 100000", "slurm/job_7/step_0/cpu.max": "max 100000"},
        own="0::/slurm/job_7/step_0",
    )
    assert cgroup_quota(root, proc) == 2.5
    assert usable_cores(affinity=8, quota=2.5) == 2  # a third thread would be throttled


def test_cgroup_v1_quota_and_no_quota(tmp_path):
    root, proc = cgroup(
        tmp_path,
        {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "150000", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000"},
        own="4:cpu,cpuacct:/docker/abc",
    )
    assert cgroup_quota(root, proc) == 1.5
    unlimited, proc = cgroup(tmp_path / "other", {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"})
    assert cgroup_quota(unlimited, proc) is None
    assert usable_cores(affinity=3, quota=None) == 3
    assert usable_cores(affinity=4, quota=0.5) == 1


QUIET = 12.0  # every core idle


@pytest.mark.parametrize(
    "setting, environ, idle, threads, policy",
    [
        (None, {}, QUIET, 8, None),  # unset is auto; a quiet machine keeps the libraries' wait policy
        ("auto", {POINTS_AT_ONCE_VARIABLE: "3"}, QUIET, 2, None),
        ("auto", {POINTS_AT_ONCE_VARIABLE: "16"}, QUIET, 1, None),
        ("auto", {POINT_CPUS_VARIABLE: "2"}, QUIET, 2, None),  # one Ray task's CPUs
        ("auto", {"OMP_NUM_THREADS": "3"}, QUIET, 3, None),  # a job script's limit caps it
        ("auto", {"OMP_NUM_THREADS": "64"}, QUIET, 8, None),
        # Other processes hold cores: only the idle ones (rounded), sleeping while they wait.
        ("auto", {}, 0.0, 1, None),
        ("auto", {}, 0.4, 1, None),
        ("auto", {}, 2.6, 3, "PASSIVE"),
        ("auto", {}, 7.6, 8, None),  # within half a core of the budget: all of it
        ("auto", {"OMP_WAIT_POLICY": "ACTIVE"}, 3.0, 3, "ACTIVE"),  # the user's own policy stays
        ("auto", {}, None, 8, None),  # no /proc/stat: the budget as computed
        (3, {POINTS_AT_ONCE_VARIABLE: "2"}, 0.0, 3, None),  # an integer is honoured as given
        ("framework", {}, 0.0, None, None),
    ],
)
def test_the_budget_each_setting_resolves_to(setting, environ, idle, threads, policy):
    budget = resolve(setting, environ, affinity=12, quota=8.0, quota_known=True, idle=lambda: idle)

    assert (budget.threads, budget.omp_wait_policy) == (threads, policy)


def test_the_idle_probe_is_skipped_when_one_thread_is_the_budget():
    def probe():
        raise AssertionError("probed")

    assert resolve("auto", {POINTS_AT_ONCE_VARIABLE: "8"}, affinity=8, quota=None, quota_known=True, idle=probe).threads == 1


def stat_text(per_cpu: dict[int, tuple[int, int]]) -> str:
    """/proc/stat with the given (busy, idle) ticks per CPU; busy split over user and system."""
    lines = ["cpu  1 2 3 4 5 0 0 0 0 0"]
    for cpu, (busy, idle) in per_cpu.items():
        lines.append(f"cpu{cpu} {busy - busy // 2} 0 {busy // 2} {idle} 0 0 0 0 0 0")
    lines.append("intr 12345 0 0")
    return "\n".join(lines) + "\n"


def test_idle_cores_reads_the_idle_share_of_this_process_cpus(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(stat_text({0: (100, 100), 1: (100, 100), 2: (100, 100)}))

    def tick(seconds):
        # Over the window: CPU 0 fully busy, CPU 1 idle, CPU 2 three-quarters idle.
        stat.write_text(stat_text({0: (110, 100), 1: (100, 110), 2: (102, 106)}))

    assert idle_cores(0.1, stat, cpus={0, 1, 2}, sleep=tick) == 1.75
    stat.write_text(stat_text({0: (100, 100), 1: (100, 100), 2: (100, 100)}))
    assert idle_cores(0.1, stat, cpus={0}, sleep=tick) == 0.0  # only its own CPUs count


def test_idle_cores_without_proc_stat_or_ticks_tells_nothing(tmp_path):
    assert idle_cores(0.0, tmp_path / "absent", cpus={0}, sleep=lambda s: None) is None
    stat = tmp_path / "stat"
    stat.write_text(stat_text({0: (100, 100)}))
    assert idle_cores(0.0, stat, cpus={0}, sleep=lambda s: None) is None  # no tick passed


def test_applying_a_budget_sets_every_library_and_framework_leaves_them(monkeypatch):
    environ: dict[str, str] = {"OMP_NUM_THREADS": "7", "MKL_NUM_THREADS": "9"}
    apply(resolve("auto", environ, affinity=4, quota=None, quota_known=True, idle=lambda: 2.0), environ)
    assert {environ[name] for name in THREAD_VARIABLES} == {"2"}
    assert environ["OMP_WAIT_POLICY"] == "PASSIVE"

    untouched = {"OMP_NUM_THREADS": "7"}
    apply(resolve("framework", {}, affinity=4, quota=None, quota_known=True), untouched)
    assert untouched["OMP_NUM_THREADS"] == "7" and "OMP_WAIT_POLICY" not in untouched


def test_the_worker_applies_the_budget_before_numpy_loads():
    # python -m seqbench.worker imports the package first: it must not bring NumPy.
    code = (
        "import sys, seqbench.worker, seqbench.threads;"
        "print('numpy' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


SUITE = """
[suite]
name = "threads"

[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "cpu"
{threads}

[task]
name = "adding"
seq_len = 3

[[model]]
name = "oracle"
"""


@pytest.mark.parametrize("value", ["0", '"many"', "true", "1.5", "1025", "100000"])
def test_a_bad_threads_setting_is_refused_in_one_line(value, write_suite, store_path):
    suite = write_suite(SUITE.format(threads=f"threads = {value}"))

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 2
    shown = value.replace('"', "'").replace("true", "True")
    assert result.output.strip().splitlines() == [
        f"Error: {suite}: [run] threads: expected 'auto' | 'framework' | int between 1 and 1024, got {shown}"
    ]
    assert not store_path.exists()


def test_a_point_records_the_budget_it_ran_with(write_suite, store_path, monkeypatch):
    for name in (*THREAD_VARIABLES, "OMP_WAIT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    suite = write_suite(SUITE.format(threads="threads = 1"))

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 0, result.output
    (row,) = load(store_path).to_dict("records")
    provenance = json.loads(row["provenance"])
    assert provenance["device"] == "cpu"
    assert provenance["threads"]["setting"] == "1" and provenance["threads"]["threads"] == 1
    assert provenance["threads"]["omp_wait_policy"] is None
