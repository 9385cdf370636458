"""How much faster the tasks' vectorised generators are than a Python loop per example.

For `subsequence`, `adding` and `gp-pairs`, times the real harness path (a Split
materialised in chunks of 1024, one ``generate`` call per chunk) against a per-example
loop in the style of the original experiments: ``random.randint`` per element for
subsequence and adding, ``numpy`` multivariate-normal sampling per example for the GP
pairs. Prints examples/s of each and the speed-up; the target is at least 20x.
One-off set-up per task instance (subsequence's prefix table, gp-pairs' Cholesky
factor) is timed apart, and also shown charged to the timed examples.

    python benchmarks/task_generation.py [--count 100000] [--gp-count 20000]
        [--gp-loop-count 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from seqbench.data import Split
from seqbench.task import Task
from seqbench_tasks import Adding, GPPairs, Subsequence

TARGET_SPEEDUP = 20.0


def subsequence_loop(count: int, length: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The original notebook's generate_example, called once per example."""
    inputs, targets = [], []
    for _ in range(count):
        start = random.randint(0, 5)
        span = random.randint(2, length - 2 - start)
        tail = [random.randint(1, 9) for _ in range(length - 2)]
        head = tail[start : start + span]
        inputs.append([start, span] + tail)
        targets.append(head + [0 for _ in range(length - 2 - len(head))])
    return np.array(inputs), np.array(targets)


def adding_loop(count: int, length: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem one example at a time, one random call per element."""
    inputs, targets = [], []
    for _ in range(count):
        values = [random.random() for _ in range(length)]
        markers = [0.0] * length
        first = random.randint(0, length - 1)
        second = first
        while second == first:
            second = random.randint(0, length - 1)
        markers[first] = markers[second] = 1.0
        inputs.append(list(zip(values, markers)))
        targets.append(values[first] + values[second])
    return np.array(inputs, dtype=np.float32), np.array(targets)


def gp_pairs_loop(count: int, task: GPPairs) -> tuple[np.ndarray, np.ndarray]:
    """One multivariate-normal draw of the joint (A, B) per example, as the reference did."""
    rng = np.random.default_rng(0)
    mean, cov = task.joint_mean(), task.joint_covariance()
    n, context = task.length, task.context
    inputs, targets = [], []
    for _ in range(count):
        pair = rng.multivariate_normal(mean, cov)
        a, b = pair[:n], pair[n:]
        observed = np.arange(n) < context
        inputs.append(np.stack([task.grid, a, np.where(observed, b, 0.0), observed], axis=-1))
        targets.append(b[context:])
    return np.array(inputs, dtype=np.float32), np.array(targets, dtype=np.float32)


def best_seconds(action: Callable[[], object], repeats: int) -> float:
    """Wall seconds of the fastest of ``repeats`` runs (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


@dataclass
class Row:
    name: str
    count: int
    setup_s: float  # one-off per task instance (per point): tables, Cholesky factors
    vectorised_s: float  # ``count`` examples through the harness's Split, set-up done
    loop_count: int
    loop_s: float

    @property
    def speedup(self) -> float:
        return (self.count / self.vectorised_s) / (self.loop_count / self.loop_s)

    @property
    def speedup_with_setup(self) -> float:
        return (self.count / (self.setup_s + self.vectorised_s)) / (self.loop_count / self.loop_s)


def measure(name: str, make_task: Callable[[], Task], count: int, split: str,
            loop: Callable[[], object], loop_count: int, repeats: int) -> Row:
    """Set-up, steady-state vectorised and looped timings of one task."""
    setup = best_seconds(lambda: Split(make_task(), split, 1, seed=0).materialize(), repeats)
    task = make_task()
    Split(task, split, 1, seed=0).materialize()  # set-up done once, as in a point's process
    vectorised = best_seconds(lambda: Split(task, split, count, seed=0).materialize(), repeats)
    return Row(name, count, setup, vectorised, loop_count, best_seconds(loop, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="examples per timing")
    parser.add_argument("--gp-count", type=int, default=20_000,
                        help="gp-pairs examples, vectorised")
    parser.add_argument("--gp-loop-count", type=int, default=200, help="gp-pairs examples, looped")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    count, repeats = args.count, args.repeats
    gp = GPPairs()
    rows = [
        measure("subsequence L=10, train split", Subsequence, count, "train",
                lambda: subsequence_loop(count), count, repeats),
        measure("subsequence L=10, test split", Subsequence, count, "test",
                lambda: subsequence_loop(count), count, repeats),
        measure("adding T=100", lambda: Adding(seq_len=100), count, "train",
                lambda: adding_loop(count), count, repeats),
        measure(f"gp-pairs L={gp.length} context={gp.context}", GPPairs, args.gp_count, "train",
                lambda: gp_pairs_loop(args.gp_loop_count, gp), args.gp_loop_count, repeats),
    ]
    print(f"target: vectorised at least {TARGET_SPEEDUP:g}x the loop; best of {repeats} runs\n")
    print(f"{'task':<32} {'vectorised ex/s':>16} {'loop ex/s':>10} {'speed-up':>9} "
          f"{'set-up':>8} {'incl. set-up':>13}  target")
    for row in rows:
        verdict = "met" if row.speedup >= TARGET_SPEEDUP else "MISSED"
        print(f"{row.name:<32} {row.count / row.vectorised_s:>16,.0f} "
              f"{row.loop_count / row.loop_s:>10,.0f} {row.speedup:>8.1f}x "
              f"{row.setup_s * 1e3:>6.1f}ms {row.speedup_with_setup:>12.1f}x  {verdict}")
    print(f"\n'incl. set-up': the speed-up when one task instance's one-off set-up is "
          f"charged to these {count:,} examples ({args.gp_count:,} for gp-pairs).")


if __name__ == "__main__":
    main()
