"""A CPU budget per point: how many threads a point's frameworks may use, applied in
the worker before any framework is imported.

``run.threads = "auto"`` (the default) is the cores this process may really use — its
CPU affinity (``sched_getaffinity``: taskset, Slurm's binding) capped by its cgroup's
CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``; Docker's ``--cpus``, Kubernetes'
limits) — divided among the points running at once (``--jobs``), or one Ray task's
CPUs, and never more than an ``OMP_NUM_THREADS`` already in the environment (a job
script's, or the user's). ``os.cpu_count()`` is neither: it counts the host's cores.

"auto" also looks at what other processes leave free: just before the frameworks load,
the worker reads how idle its CPUs were over a tenth of a second (``/proc/stat``) and
takes no more threads than there are idle cores (at least one). On a quiet machine that
is the whole budget, with the libraries' own wait policy — as fast as the frameworks'
defaults. On a busy one it is fewer threads, and where more than one remains OpenMP's
wait policy becomes PASSIVE: an idle OpenMP thread then sleeps instead of spinning for
its next task, since a spinning thread steals the very core its peers need
(benchmarks/threads_contention.py measures it). An explicit integer sets the threads
and leaves the wait policy alone; ``"framework"`` leaves everything to the frameworks'
own defaults.

This module imports nothing beyond the standard library: the worker uses it before
NumPy, torch or TensorFlow load (their thread pools read the environment once).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, MutableMapping

__all__ = [
    "ThreadBudget",
    "THREAD_VARIABLES",
    "POINTS_AT_ONCE_VARIABLE",
    "POINT_CPUS_VARIABLE",
    "BUDGET_VARIABLE",
    "check_threads",
    "usable_cores",
    "cgroup_quota",
    "idle_cores",
    "resolve",
    "apply",
    "applied",
    "prepare_worker",
    "worker_budget",
]

# The thread-count variables the native libraries under NumPy, torch and TensorFlow read.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# Set by executors for their workers: how many points run at once on this machine, and
# the CPUs a Ray task was given.
POINTS_AT_ONCE_VARIABLE = "SEQBENCH_POINTS_AT_ONCE"
POINT_CPUS_VARIABLE = "SEQBENCH_POINT_CPUS"
# Set by ``apply``: the budget, for framework plugins (torch.set_num_threads, TF's
# intra/inter-op pools) and for the record.
BUDGET_VARIABLE = "SEQBENCH_THREADS"
RECORD_VARIABLE = "SEQBENCH_THREAD_BUDGET"  # the whole budget, as JSON, for the record

SETTINGS = ("auto", "framework")


def check_threads(value: Any) -> Any:
    """``run.threads``: "auto" (also when unset, None), "framework" or a positive
    integer; raises ValueError with the allowed values otherwise."""
    if value is None:
        return "auto"
    if value in SETTINGS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f'expected "auto", "framework" or a positive integer, got {value!r}')


def cgroup_quota(root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPUs this process's cgroup may use per period (2.5 = two and a half cores),
    or None without a quota. Reads the process's own cgroup, then its ancestors (a
    quota on any of them binds)."""
    quotas = []
    for directory in _cgroup_dirs(root, proc_cgroup):
        quota = _v2_quota(directory / "cpu.max")
        if quota is None:
            quota = _v1_quota(directory / "cpu.cfs_quota_us", directory / "cpu.cfs_period_us")
        if quota is not None:
            quotas.append(quota)
    return min(quotas) if quotas else None


def _cgroup_dirs(root: Path, proc_cgroup: Path) -> list[Path]:
    """The process's cgroup directories (v2 unified, v1 cpu controller) and each
    ancestor up to ``root``; inside a container the namespace root is ``root`` itself."""
    relative: list[str] = []
    try:
        for line in proc_cgroup.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "" or "cpu" in controllers.split(","):
                relative.append(path)
    except (OSError, ValueError):
        pass
    bases = [root, root / "cpu", root / "cpu,cpuacct"]
    found: list[Path] = []
    for base in bases:
        for path in relative or ["/"]:
            parts = [part for part in path.split("/") if part]
            for depth in range(len(parts), -1, -1):
                candidate = base.joinpath(*parts[:depth])
                if candidate.is_dir() and candidate not in found:
                    found.append(candidate)
    return found


def _v2_quota(cpu_max: Path) -> float | None:
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return int(quota) / int(period)


def _v1_quota(quota_file: Path, period_file: Path) -> float | None:
    try:
        quota = int(quota_file.read_text())
        period = int(period_file.read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def _affinity_set() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _affinity() -> int:
    cpus = _affinity_set()
    return len(cpus) if cpus is not None else (os.cpu_count() or 1)  # not Linux: the host's count


def usable_cores(affinity: int | None = None, quota: float | None = None) -> int:
    """Cores this process may use: its affinity, capped by its cgroup quota (a quota of
    1.5 cores gives 1: a second thread would be throttled half the time)."""
    affinity = _affinity() if affinity is None else affinity
    if quota is None:
        return max(1, affinity)
    return max(1, min(affinity, math.floor(quota)))


# How long "auto" watches the CPUs before choosing: /proc/stat counts in 1/100 s ticks,
# so a tenth of a second tells idle from busy cores to about a tenth of a core, and
# costs each point no more than that.
PROBE_SECONDS = 0.1
PROC_STAT = Path("/proc/stat")


def _cpu_ticks(stat: Path, cpus: set[int] | None) -> dict[int, tuple[int, int]] | None:
    """(idle, total) ticks per CPU in ``cpus`` (all when None), from /proc/stat."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    ticks: dict[int, tuple[int, int]] = {}
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        try:
            cpu = int(name[3:])
            # user nice system idle iowait irq softirq steal (guest time is inside user)
            fields = [int(value) for value in rest.split()[:8]]
        except ValueError:
            continue
        if len(fields) < 5 or (cpus is not None and cpu not in cpus):
            continue
        ticks[cpu] = (fields[3] + fields[4], sum(fields))
    return ticks or None


def idle_cores(seconds: float = PROBE_SECONDS, stat: Path = PROC_STAT, cpus: set[int] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> float | None:
    """How many of this process's CPUs other processes left idle over the next
    ``seconds`` (2.0: two whole cores free), or None where /proc/stat cannot tell (not
    Linux, or no tick passed). The caller sleeps meanwhile, so it does not count itself."""
    cpus = _affinity_set() if cpus is None else cpus
    before = _cpu_ticks(stat, cpus)
    sleep(seconds)
    after = _cpu_ticks(stat, cpus)
    if before is None or after is None:
        return None
    idle = 0.0
    counted = False
    for cpu, (idle_after, total_after) in after.items():
        if cpu not in before:
            continue
        idle_before, total_before = before[cpu]
        elapsed = total_after - total_before
        if elapsed <= 0:
            continue
        counted = True
        idle += min(1.0, max(0.0, (idle_after - idle_before) / elapsed))
    return round(idle, 2) if counted else None


@dataclass(frozen=True)
class ThreadBudget:
    """What a point was allowed, and why: stored in the record's provenance."""

    setting: str  # "auto", "framework", or the integer asked for
    threads: int | None  # None: the frameworks chose
    affinity: int
    cgroup_quota: float | None
    points_at_once: int
    ray_cpus: float | None
    environment_cap: int | None  # an OMP_NUM_THREADS the sweep was started with
    omp_wait_policy: str | None  # None: the libraries' own
    idle_cores: float | None = None  # what "auto" saw other processes leave free

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(setting: Any, environ: Mapping[str, str] | None = None, *, affinity: int | None = None,
            quota: float | None = None, quota_known: bool = False,
            idle: Callable[[], float | None] = idle_cores) -> ThreadBudget:
    """The budget ``run.threads = setting`` gives a point started with ``environ``.
    ``idle`` is called (no arguments) for the cores other processes leave free, only
    when "auto" would give more than one thread."""
    environ = os.environ if environ is None else environ
    setting = check_threads(setting)
    affinity = _affinity() if affinity is None else affinity
    quota = quota if quota_known else cgroup_quota()
    points = max(1, _int(environ.get(POINTS_AT_ONCE_VARIABLE)) or 1)
    ray_cpus = _float(environ.get(POINT_CPUS_VARIABLE))
    cap = _int(environ.get("OMP_NUM_THREADS"))
    wait_policy = environ.get("OMP_WAIT_POLICY")
    free: float | None = None
    if setting == "framework":
        threads = None
    elif setting == "auto":
        if ray_cpus:
            threads = max(1, math.floor(ray_cpus))
        else:
            threads = max(1, usable_cores(affinity, quota) // points)
        if cap is not None and cap >= 1:
            # Someone (a job script, the user) already limited OpenMP: never more.
            threads = min(threads, cap)
        if threads > 1:
            free = idle()
            if free is not None and free < threads - 0.5:
                # Other processes hold cores: a thread per busy core would wait for a
                # core it cannot get. Keep the idle ones (rounded), and let the threads
                # that remain sleep rather than spin while they wait — unless the user
                # chose a wait policy, which is theirs to keep.
                threads = max(1, math.floor(free + 0.5))
                if threads > 1:
                    wait_policy = wait_policy or "PASSIVE"
    else:
        threads = int(setting)
    return ThreadBudget(
        setting=str(setting),
        threads=threads,
        affinity=affinity,
        cgroup_quota=quota,
        points_at_once=points,
        ray_cpus=ray_cpus,
        environment_cap=cap,
        omp_wait_policy=wait_policy,
        idle_cores=free,
    )


def apply(budget: ThreadBudget, environ: MutableMapping[str, str] | None = None) -> None:
    """Put ``budget`` in the environment, for the native libraries loaded after this
    and for the framework plugins (``applied()``)."""
    environ = os.environ if environ is None else environ
    if budget.threads is not None:
        for name in THREAD_VARIABLES:
            environ[name] = str(budget.threads)
    if budget.omp_wait_policy is not None:
        environ["OMP_WAIT_POLICY"] = budget.omp_wait_policy
    environ[BUDGET_VARIABLE] = "" if budget.threads is None else str(budget.threads)


def applied(environ: Mapping[str, str] | None = None) -> int | None:
    """The thread count this worker's budget set, or None (frameworks choose, or no
    budget was applied: a model used outside a worker)."""
    environ = os.environ if environ is None else environ
    return _int(environ.get(BUDGET_VARIABLE))


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def prepare_worker(run: Mapping[str, Any]) -> ThreadBudget:
    """What a worker does first, before any framework loads: number GPUs as NVML does
    (PCI bus order, so an index means the same GPU to CUDA and to the meter) and apply
    the point's thread budget."""
    os.environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    budget = resolve(run.get("threads"))
    apply(budget)
    os.environ[RECORD_VARIABLE] = json.dumps(budget.to_dict())
    return budget


def worker_budget() -> dict[str, Any] | None:
    """The budget ``prepare_worker`` applied in this process, or None (none was)."""
    text = os.environ.get(RECORD_VARIABLE)
    return json.loads(text) if text else None
