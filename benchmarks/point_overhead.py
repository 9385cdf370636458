"""The harness's fixed cost per point: process start, imports, plugin loading, the
pipeline around a do-nothing model, and the store write.

Runs the real `seqbench run` on suites of trivial oracle points (length 2, one example)
of two sizes and reports the slope: (wall(large) - wall(small)) / (large - small)
seconds per point, so the parent's own start-up is not counted. Target: <= 0.5 s.

    python benchmarks/point_overhead.py [--small 5] [--large 45] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.5

SUITE = """
[suite]
name = "overhead"
seeds = {seeds}
[run]
epochs = 1
train_size = 1
eval_size = 1
batch_size = 1
device = "cpu"
[task]
name = "adding"
seq_len = 2
[[model]]
name = "oracle"
"""


def wall_seconds(points: int, directory: Path) -> float:
    suite = directory / f"overhead_{points}.toml"
    suite.write_text(SUITE.format(seeds=list(range(points))))
    store = directory / f"store_{points}_{time.monotonic_ns()}.sqlite"
    command = [sys.executable, "-c", "from seqbench.cli import main; main()",
               "run", str(suite), "--store", str(store)]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def in_worker_seconds(directory: Path) -> tuple[float, float]:
    """Median start-up (imports, plugins) and pipeline seconds as the workers saw them."""
    from seqbench import results

    frames = [results.load(path) for path in directory.glob("store_*.sqlite")]
    startup = [v for f in frames for v in f["time.startup_s"]]
    pipeline = [v for f in frames for v in f["time.total_s"]]
    return statistics.median(startup), statistics.median(pipeline)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5)
    parser.add_argument("--large", type=int, default=45)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        slopes = []
        for _ in range(args.repeats):
            small = wall_seconds(args.small, directory)
            large = wall_seconds(args.large, directory)
            slopes.append((large - small) / (args.large - args.small))
        startup, pipeline = in_worker_seconds(directory)
    per_point = statistics.median(slopes)
    print(f"fixed cost per point: {per_point:.3f} s (median of {args.repeats}; "
          f"runs of {args.small} and {args.large} oracle points)")
    print(f"  of which in the worker: start-up after interpreter {startup:.3f} s, pipeline {pipeline:.3f} s")
    print(f"  target <= {TARGET_SECONDS} s: ratio {per_point / TARGET_SECONDS:.2f} "
          f"({'met' if per_point <= TARGET_SECONDS else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
