"""Speed-up of a CPU-bound sweep with two workers: `--jobs 2` and `--executor ray`
against `--jobs 1`.

The suite is `numpy:ridge` on the adding problem at a length and training size where
each point is several seconds of single-threaded least squares (every run gets
OMP/MKL/OPENBLAS_NUM_THREADS=1, so a point uses one core whichever executor runs it).
Each configuration runs the real `seqbench run` in a fresh store; the wall time is the
whole command's. Ray is timed twice: starting its own local instance (as
`--executor ray` does without an address), and joining an instance that is already
running (as on a cluster), so Ray's start-up is shown apart. Target: speed-up >= 1.7.

    python benchmarks/scale_speedup.py [--points 8] [--seq-len 200] [--train-size 40000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SPEEDUP = 1.7
WORKERS = 2
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

SUITE = """
[suite]
name = "scale"
seeds = {seeds}
[run]
epochs = 1
train_size = {train_size}
eval_size = 2000
batch_size = 2000
device = "cpu"
[task]
name = "adding"
seq_len = {seq_len}
[[model]]
name = "numpy:ridge"
"""


def timed_sweep(suite: Path, store: Path, *options: str) -> tuple[float, float]:
    """(wall seconds of `seqbench run`, sum of the points' own seconds)."""
    from seqbench import results

    command = [sys.executable, "-m", "seqbench", "run", str(suite), "--store", str(store), *options]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **SINGLE_THREADED})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(options) or '--jobs 1'} failed:\n{done.stdout}{done.stderr}")
    frame = results.load(store)
    assert set(frame["status"]) == {"ok"}, frame["error"]
    return wall, float(frame["time.total_s"].sum())


def start_ray() -> str:
    """A local Ray instance of WORKERS CPUs in this process; its address."""
    os.environ.update(SINGLE_THREADED, RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    import ray

    ray.init(address="local", num_cpus=WORKERS, object_store_memory=128 * 1024**2,
             include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    return ray.get_runtime_context().gcs_address


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=8, help="points in the sweep (seeds)")
    parser.add_argument("--seq-len", type=int, default=200)
    parser.add_argument("--train-size", type=int, default=40_000)
    parser.add_argument("--no-ray", action="store_true", help="time only the local executor")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        suite = directory / "scale.toml"
        suite.write_text(SUITE.format(seeds=list(range(args.points)), train_size=args.train_size,
                                      seq_len=args.seq_len))
        configurations = [("local --jobs 1", ("--jobs", "1")),
                          (f"local --jobs {WORKERS}", ("--jobs", str(WORKERS)))]
        if not args.no_ray:
            configurations.append(
                (f"ray, own local instance, --jobs {WORKERS}", ("--executor", "ray", "--jobs", str(WORKERS))))
        timings = {}
        for label, options in configurations:
            timings[label] = timed_sweep(suite, directory / f"{len(timings)}.sqlite", *options)
        if not args.no_ray:
            import ray

            address = start_ray()
            try:
                label = f"ray, running instance of {WORKERS} CPUs"
                timings[label] = timed_sweep(suite, directory / "joined.sqlite",
                                             "--executor", "ray", "--ray-address", address)
            finally:
                ray.shutdown()

    baseline = timings["local --jobs 1"][0]
    print(f"{args.points} points of numpy:ridge, adding T={args.seq_len}, {args.train_size} training "
          f"examples, one thread each; {os.cpu_count()} cores")
    print(f"{'configuration':<40} {'wall s':>8} {'points s':>9} {'speed-up':>9}")
    for label, (wall, points) in timings.items():
        print(f"{label:<40} {wall:>8.1f} {points:>9.1f} {baseline / wall:>8.2f}x")
    print("(points s: the points' own seconds added up; it grows when points share a core "
          "or memory bandwidth)")
    for label, (wall, _) in list(timings.items())[1:]:
        speedup = baseline / wall
        print(f"target >= {TARGET_SPEEDUP}x, {label}: {speedup:.2f}x "
              f"({'met' if speedup >= TARGET_SPEEDUP else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
