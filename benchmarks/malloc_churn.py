"""How much of a torch point's CPU training time is glibc's allocator, not the model.

Trains `torch:lstm` (or --model) on `adding` (T = 700 unless --seq-len, 1 epoch x
2,000, seed 0) in a `seqbench run` worker, once with the environment as it is and once
with glibc told to keep freed memory (`MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_` at 1 GiB:
large blocks come from the heap instead of fresh mmap'd pages, and freed ones are not
handed back to the kernel). An LSTM's backward pass frees and reallocates per-step
tensors of a few hundred KiB; with glibc's defaults each one is a new mapping whose
pages fault in zeroed, which shows up as system time and minor page faults.

For each condition (median of --repeats) it prints `time.train_s`, the training
phase's CPU seconds and peak RSS as the store has them, and the run's minor page
faults and system seconds (getrusage of the finished `seqbench run` and its worker).

    python benchmarks/malloc_churn.py [--model torch:lstm] [--seq-len 700] [--train-size 2000] [--repeats 3] [--out DIR]

Not a test (timings are noisy); seqbench sets none of these variables, see
docs/measurement.md for a recorded run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seqbench import results  # noqa: E402

SUITE = """\
[suite]
name = "malloc_churn"
seeds = [0]

[run]
epochs = 1
train_size = {train_size}
eval_size = 200
batch_size = 64
device = "cpu"

[task]
name = "adding"
seq_len = {seq_len}

[[model]]
name = "{model}"
lr = 3e-3
"""

KEEP = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
CONDITIONS = {"glibc defaults": {}, "freed memory kept": KEEP}


def run_once(suite: Path, store: Path, extra: dict[str, str]) -> dict[str, float]:
    env = {name: value for name, value in os.environ.items() if name not in KEEP}
    env.update(extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "seqbench", "run", str(suite), "--store", str(store), "--fresh"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = results.load(store).iloc[0]
    return {
        "train_s": float(row["time.train_s"]),
        "train_cpu_s": float(row["meter.resources.train.cpu_s"]),
        "peak_rss_mib": float(row["meter.resources.train.peak_rss_bytes"]) / 2**20,
        "minor_faults": float(after.ru_minflt - before.ru_minflt),
        "system_s": after.ru_stime - before.ru_stime,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="torch:lstm", help="a torch model that takes lr")
    parser.add_argument("--seq-len", type=int, default=700)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="folder for the stores (a temporary one if unset)")
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="malloc_churn_"))
    folder.mkdir(parents=True, exist_ok=True)
    suite = folder / "malloc_churn.toml"
    suite.write_text(SUITE.format(model=args.model, seq_len=args.seq_len, train_size=args.train_size))
    print(f"{args.model} on adding, T = {args.seq_len}, 1 epoch x {args.train_size}; "
          f"medians of {args.repeats}; {os.getloadavg()[0]:.1f} load average", flush=True)
    medians: dict[str, dict[str, float]] = {}
    for label, extra in CONDITIONS.items():
        runs = [run_once(suite, folder / f"{label.replace(' ', '_')}.sqlite", extra) for _ in range(args.repeats)]
        medians[label] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        shown = ", ".join(f"{run['train_s']:.2f}" for run in runs)
        figures = medians[label]
        print(f"  {label:>17}: train {figures['train_s']:.2f} s ({shown}), train CPU {figures['train_cpu_s']:.2f} s, "
              f"peak RSS {figures['peak_rss_mib']:.0f} MiB, minor faults {figures['minor_faults']:,.0f}, "
              f"system {figures['system_s']:.2f} s", flush=True)
    default, kept = medians["glibc defaults"], medians["freed memory kept"]
    print(f"  train time, defaults / kept = {default['train_s'] / kept['train_s']:.2f}x; "
          f"peak RSS kept / defaults = {kept['peak_rss_mib'] / default['peak_rss_mib']:.2f}x")


if __name__ == "__main__":
    main()
