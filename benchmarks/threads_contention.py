"""Training time of a torch point under CPU contention, by thread budget.

Trains `torch:attention` on `adding` (T = 50 unless --seq-len) once per `run.threads`
setting — "framework" (torch's own default: a thread per core, OpenMP threads that
spin while they wait), the usable core count given explicitly (the same threads as
"auto", without its passive wait policy), "auto", and 1 — first while --busy
processes spin on the CPU (other people's work on a shared machine), then on the
machine as it is. Each setting is a `seqbench run` point in its own worker; prints
`time.train_s` per setting (the median of --repeats sweeps, each value listed) and the
ratio framework / auto of the medians.

    python benchmarks/threads_contention.py [--busy 2] [--train-size 4000] [--epochs 2] [--repeats 3] [--out DIR]

The figures depend on the machine and on what else runs on it: the script prints
`uptime` before each condition. Not a test (timings are noisy); see
docs/measurement.md for recorded runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from busy_cpu import busy_processes, framework_environment  # noqa: E402
from seqbench.threads import usable_cores  # noqa: E402

SUITE = """\
[suite]
name = "threads_contention"
seeds = [0]

[run]
epochs = {epochs}
train_size = {train_size}
eval_size = 500
batch_size = 64
device = "cpu"

[task]
name = "adding"
seq_len = {seq_len}

[sweep]
run.threads = {settings}

[[model]]
name = "torch:attention"
"""

def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"load average {os.getloadavg()}"


def run_condition(suite: Path, store: Path, busy: int) -> dict[str, float]:
    """train seconds per run.threads setting, with ``busy`` spinning processes around."""
    with busy_processes(busy):
        print(f"  {uptime()}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "seqbench", "run", str(suite), "--store", str(store), "--fresh"],
            env=framework_environment(), check=True, stdout=subprocess.DEVNULL,
        )
    from seqbench.results import load

    runs = load(store)
    seconds = {str(setting): float(value) for setting, value in zip(runs["run.threads"], runs["time.train_s"])}
    for setting, provenance in zip(runs["run.threads"], runs["provenance"]):
        if str(setting) == "auto":
            budget = json.loads(provenance)["threads"]
            print(f"  auto applied {budget['threads']} thread(s), wait policy {budget['omp_wait_policy'] or 'default'},"
                  f" having seen {budget['idle_cores']} idle core(s)", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="spinning processes in the loaded condition")
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--train-size", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="folder for the stores (a temporary one if unset)")
    parser.add_argument("--skip-quiet", action="store_true", help="only the loaded condition")
    parser.add_argument("--repeats", type=int, default=3, help="sweeps per condition; the median is compared")
    args = parser.parse_args(argv)
    cores = usable_cores()
    settings = ["framework", cores, "auto", 1] if cores > 1 else ["framework", "auto"]
    out = args.out or Path(tempfile.mkdtemp(prefix="threads-contention-"))
    out.mkdir(parents=True, exist_ok=True)
    suite = out / "threads_contention.toml"
    listed = "[" + ", ".join(f'"{s}"' if isinstance(s, str) else str(s) for s in settings) + "]"
    suite.write_text(SUITE.format(epochs=args.epochs, train_size=args.train_size, seq_len=args.seq_len, settings=listed))
    print(f"torch:attention on adding, T = {args.seq_len}, {args.epochs} epochs x {args.train_size}; "
          f"{cores} usable core(s), os.cpu_count() = {os.cpu_count()}")
    conditions = [("loaded", args.busy)] + ([] if args.skip_quiet else [("as is", 0)])
    for name, busy in conditions:
        print(f"{name}: {busy} busy process(es)")
        sweeps = [run_condition(suite, out / f"{name.replace(' ', '_')}_{repeat}.sqlite", busy)
                  for repeat in range(args.repeats)]
        medians = {str(s): statistics.median(sweep[str(s)] for sweep in sweeps) for s in settings}
        for setting in settings:
            each = ", ".join(f"{sweep[str(setting)]:.1f}" for sweep in sweeps)
            print(f"  run.threads = {str(setting):>9}: train {medians[str(setting)]:6.1f} s (median of {each})")
        ratio = medians["framework"] / medians["auto"]
        print(f"  framework / auto = {ratio:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
