"""Why torch's default threads train fast in some sweeps and slowly in others under CPU
contention: where the kernel places the worker's threads.

Runs `torch:attention` on `adding` (as benchmarks/threads_contention.py does) with
`run.threads = "framework"` for --seeds seeds, one point after another, while --busy
processes spin; a sampler reads, every 0.1 s, the CPU each thread of the running worker
and of each spinner last ran on (/proc/PID/task/TID/stat, field 39). Prints per point:
training time, CPU time, and the share of samples in which the worker's two busiest
threads were on the same CPU (and the spinners together on another), then the rank
correlation of that share with training time.

    python benchmarks/threads_placement.py [--busy 2] [--seeds 8] [--out DIR]

Linux only (/proc). Not a test; see docs/measurement.md for recorded runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from busy_cpu import busy_processes, framework_environment  # noqa: E402

SUITE = """\
[suite]
name = "threads_placement"
seeds = {seeds}

[run]
epochs = 2
train_size = 4000
eval_size = 500
batch_size = 64
device = "cpu"
threads = "framework"

[task]
name = "adding"
seq_len = 50

[[model]]
name = "torch:attention"
"""

Thread = tuple[int, int, int]  # (thread id, CPU ticks so far, CPU it last ran on)


def threads_of(pid: int) -> list[Thread]:
    found = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                # Fields after the command name's closing parenthesis: utime and stime
                # are the 12th and 13th, the CPU last run on the 37th (fields 14, 15, 39).
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found.append((int(tid), int(fields[11]) + int(fields[12]), int(fields[36])))
    return found


def workers() -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                    if b"seqbench.worker" in cmdline.read():
                        found.append(int(name))
            except OSError:
                continue
    return found


class PlacementSampler(threading.Thread):
    """Every 0.1 s: each worker's threads and where each spinner ran."""

    def __init__(self, spinners: list[int]) -> None:
        super().__init__(daemon=True)
        self.spinners = spinners
        self.samples: dict[int, list[tuple[list[Thread], list[int]]]] = defaultdict(list)
        self.first_seen: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            spun = [threads[0][2] for threads in map(threads_of, self.spinners) if threads]
            for pid in workers():
                self.first_seen.setdefault(pid, time.monotonic())
                self.samples[pid].append((threads_of(pid), spun))
            time.sleep(0.1)


def together(samples: list[tuple[list[Thread], list[int]]]) -> tuple[float, float, int]:
    """(share of samples with the two busiest threads on one CPU, share with every spinner
    on the other CPU as well, samples counted)."""
    first = {tid: ticks for tid, ticks, _ in samples[0][0]}
    last = {tid: ticks for tid, ticks, _ in samples[-1][0]}
    busiest = sorted(last, key=lambda tid: last[tid] - first.get(tid, 0), reverse=True)[:2]
    same = apart = counted = 0
    for threads, spun in samples:
        cpus = {tid: cpu for tid, _, cpu in threads}
        if len(busiest) < 2 or not all(tid in cpus for tid in busiest):
            continue
        counted += 1
        a, b = (cpus[tid] for tid in busiest)
        if a == b:
            same += 1
            apart += bool(spun) and all(cpu != a for cpu in spun)
    return (same / counted, apart / counted, counted) if counted else (float("nan"), float("nan"), 0)


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranked = [0.0] * len(values)
    for rank, index in enumerate(order):
        ranked[index] = float(rank)
    return ranked


def spearman(x: list[float], y: list[float]) -> float:
    rx, ry = ranks(x), ranks(y)
    mean = (len(x) - 1) / 2
    covariance = sum((a - mean) * (b - mean) for a, b in zip(rx, ry))
    spread = sum((a - mean) ** 2 for a in rx)
    return covariance / spread if spread else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="spinning processes")
    parser.add_argument("--seeds", type=int, default=8, help="points, run one after another")
    parser.add_argument("--out", type=Path, default=None, help="folder for the store (a temporary one if unset)")
    args = parser.parse_args(argv)
    if not Path("/proc/self/task").is_dir():
        print("threads_placement: needs Linux's /proc", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="threads-placement-"))
    out.mkdir(parents=True, exist_ok=True)
    suite, store = out / "threads_placement.toml", out / "threads_placement.sqlite"
    suite.write_text(SUITE.format(seeds=list(range(args.seeds))))
    with busy_processes(args.busy) as spinners:
        sampler = PlacementSampler(spinners)
        sampler.start()
        try:
            subprocess.run([sys.executable, "-m", "seqbench", "run", str(suite), "--store", str(store), "--fresh"],
                           env=framework_environment(), check=True, stdout=subprocess.DEVNULL)
        finally:
            sampler.done.set()
    from seqbench.results import load

    runs = load(store).sort_values("id")  # --jobs 1: stored in the order the workers ran
    pids = sorted(sampler.first_seen, key=sampler.first_seen.__getitem__)
    if len(pids) != len(runs):
        print(f"threads_placement: saw {len(pids)} workers for {len(runs)} points; rerun", file=sys.stderr)
        return 1
    print(f"torch:attention on adding, T = 50, run.threads = framework, {args.busy} busy process(es); "
          f"os.cpu_count() = {os.cpu_count()}")
    shares, seconds = [], []
    for pid, (_, run) in zip(pids, runs.iterrows()):
        same, apart, counted = together(sampler.samples[pid])
        shares.append(same)
        seconds.append(float(run["time.train_s"]))
        print(f"  seed {run['seed']}: train {run['time.train_s']:5.1f} s, CPU {run['meter.resources.train.cpu_s']:5.1f} s;"
              f" busiest two threads on one CPU in {same:4.0%} of {counted} samples"
              f" ({apart:4.0%} with the spinners on the other)")
    print(f"  rank correlation, share on one CPU vs training time: {spearman(shares, seconds):+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
