"""What validating a suite costs where a task's input is large: a `polynomial` data file
and long `gp-pairs` sequences. Each case runs in a fresh process; its wall seconds and
peak memory (the child's maximum resident set) are printed.

- data file: writes --megabytes of the task's own generated lines (seed 0, in the
  original's format), builds `Polynomial(data_file=...)` as validation does for each
  grid point, then runs `seqbench run --dry-run` on a suite sweeping `run.batch_size`
  over --points values (the file read once per process while it is unchanged).
- gp-pairs: the task probe's work at each of --lengths (two examples made, answered and
  scored), for the grid and the original process.

    python benchmarks/validation_cost.py [--megabytes 64] [--points 100] [--lengths 1024 2048]

Not a test (timings are noisy); the figures recorded are in plugins/seqbench-tasks/README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WRITE_FILE = """
import sys
import numpy as np
from seqbench_tasks import Polynomial

task, target, written = Polynomial(), int(sys.argv[2]), 0
rng = np.random.default_rng(0)
with open(sys.argv[1], "w") as handle:
    while written < target:
        made = task.generate(100_000, rng, "train")
        text = "".join(f"{f}={e}\\n" for f, e in zip(task.decode(made.inputs), task.decode(made.targets)))
        text = text[: max(0, target - written)]
        text = text[: text.rfind("\\n") + 1]
        if not text:
            break
        handle.write(text)
        written += len(text)
"""

BUILD = """
import sys
from seqbench_tasks import Polynomial
Polynomial(data_file=sys.argv[1])
"""

PROBE_GP = """
import sys
import numpy as np
from seqbench_tasks.gp_pairs import GPPairs
length, process = int(sys.argv[1]), sys.argv[2]
task = GPPairs(length=length, process=None if process == "grid" else process,
               noise=1e-4 if process == "original" else 0.1)
examples = task.generate(2, np.random.default_rng(0), split="train")
task.score(task.solve(examples.inputs), examples.targets)
"""

SUITE = """
[suite]
name = "validation_cost"
[run]
epochs = 1
train_size = 64
eval_size = 64
[task]
name = "polynomial"
data_file = "{path}"
[sweep]
run.batch_size = {sizes}
[[model]]
name = "oracle"
"""


def _measured(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of one fresh process (its own
    rusage, from wait4: RUSAGE_CHILDREN keeps the largest child's)."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{args[:4]} exited {process.returncode}")
    return seconds, usage.ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=64.0)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "lines.txt"
        subprocess.run([sys.executable, "-c", WRITE_FILE, str(data), str(int(args.megabytes * 2**20))], check=True)
        size = data.stat().st_size / 2**20
        seconds, peak = _measured([sys.executable, "-c", BUILD, str(data)])
        print(f"polynomial data_file of {size:.1f} MiB: built in {seconds:.2f} s, peak {peak:.2f} GiB")
        suite = Path(folder) / "suite.toml"
        suite.write_text(SUITE.format(path=data, sizes=list(range(8, 8 + args.points))))
        seconds, peak = _measured([sys.executable, "-m", "seqbench", "run", str(suite), "--dry-run",
                                   "--store", str(Path(folder) / "store.sqlite")])
        print(f"  seqbench run --dry-run, {args.points} points: {seconds:.2f} s, peak {peak:.2f} GiB")
    for length in args.lengths:
        for process in ("grid", "original"):
            seconds, peak = _measured([sys.executable, "-c", PROBE_GP, str(length), process])
            print(f"gp-pairs probe at length {length} ({process}): {seconds:.2f} s, peak {peak:.2f} GiB")


if __name__ == "__main__":
    main()
