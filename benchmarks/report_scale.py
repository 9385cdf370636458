"""How fast `seqbench report` stays on a large store: the table and the figures.

Fills a store with synthetic run records shaped like real ones (adding problem, four
models, ten lengths × five batch sizes, seeds to fill, five epochs of curves, three
eval lengths, GPU energy from the nvml meter, some failed points) through the store
API, then times, in this process:

- ``seqbench report`` as a table (load the store, pick the columns, render);
- ``seqbench report --plot`` (load runs, curves and length metrics, every figure, the
  Markdown and HTML summary), each file timed as it is written;
- the complete exports (``--format csv`` and ``json``: every column) and
  ``seqbench export`` of the whole store's suite to a bundle.

    python benchmarks/report_scale.py [--runs 100000] [--store PATH] [--keep]

Target: the table in a few seconds at 100,000 runs. Filling the store is not timed.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from seqbench.store import Store

TABLE_TARGET_S = 5.0
MODELS = ("torch:lstm", "torch:attention", "numpy:ridge", "oracle")
LENGTHS = (50, 100, 200, 400, 700, 1000, 1500, 2000, 3000, 4000)
BATCHES = (32, 64, 128, 256, 512)
EPOCHS = 5
EVAL_LENGTHS = [100, 1000, 4000]
PHASES = ("data", "train", "eval")
PROVENANCE = {
    "seqbench": "0.1.0", "frameworks": {"numpy": "2.4.6", "torch": "2.13.0"},
    "python": "3.11.7", "platform": "Linux-x86_64", "cpu": "synthetic", "cpu_count": 16,
    "host": "bench", "suite_file": "suites/scale.toml", "suite_hash": "0" * 64,
    "git_commit": None, "gpus": ["NVIDIA H100 80GB HBM3"], "gpu_driver": "550.54.15",
    "cuda_driver": "12.4", "gpu_unavailable": None,
}


def _mse(model: str, length: int, rng: random.Random) -> float:
    if model == "oracle":
        return 0.0
    difficulty = {"torch:lstm": 3e-4, "torch:attention": 2e-5, "numpy:ridge": 1e-3}[model]
    return difficulty * (length / 50) ** 1.2 * math.exp(rng.gauss(0, 0.3))


def _nvml(seconds: float, watts: float) -> dict:
    energy = seconds * watts
    return {
        "gpus": "0", "seconds": seconds, "energy_j": energy, "energy_method": "counter",
        "integrated_energy_j": energy * 1.01, "idle_power_w": 60.0,
        "energy_above_idle_j": energy - 60.0 * seconds, "mean_power_w": watts,
        "peak_power_w": watts * 1.2, "utilization_gpu_mean_pct": 80.0,
        "utilization_gpu_peak_pct": 100.0, "utilization_memory_mean_pct": 40.0,
        "memory_peak_bytes": 2**31, "samples": int(seconds * 10) + 2,
        # As the meter writes them: a GPU to itself, phases long enough for the counter.
        "counter_interval_s": 0.1, "counter_updates": seconds / 0.1, "short_phase": seconds < 0.5,
        "other_processes": 0, "other_pids": None, "other_processes_note": None,
    }


def record(index: int, model: str, length: int, batch: int, seed: int, rng: random.Random) -> dict:
    run = {"epochs": EPOCHS, "train_size": 20_000, "eval_size": 2_000, "batch_size": batch,
           "device": "cuda", "eval_lengths": EVAL_LENGTHS}
    failed = model == "torch:lstm" and length == 4000 and batch == 512
    train_s = 0.0 if model == "oracle" else 2e-3 * length * (512 / batch) ** 0.7 * rng.uniform(0.9, 1.1)
    eval_s = 1e-5 * length * rng.uniform(0.9, 1.1)
    timings = {"data_s": 1e-4 * length, "train_s": train_s, "eval_s": eval_s,
               "total_s": train_s + eval_s + 0.5, "epochs": 0 if model == "oracle" else EPOCHS}
    watts = 250.0 if model.startswith("torch") else 70.0
    mse = _mse(model, length, rng)
    base = {
        "suite": "scale", "point": f"{index:016x}", "task": "adding", "model": model, "seed": seed,
        "config": {"task": {"name": "adding", "params": {"seq_len": length}},
                   "model": {"name": model, "params": {}}, "run": run, "seed": seed},
        "started_at": "2026-01-01T00:00:00.000+00:00", "finished_at": "2026-01-01T00:00:01.000+00:00",
    }
    if failed:
        return {**base, "status": "failed", "error": "RuntimeError: CUDA out of memory",
                "timings": {"total_s": 1.0}}
    curves = [] if model == "oracle" else [
        {"epoch": epoch, "train_loss": mse * 4 / epoch, "val_mse": mse * 3 / epoch,
         "seconds": train_s / EPOCHS, "examples_per_s": 20_000 * EPOCHS / max(train_s, 1e-9)}
        for epoch in range(1, EPOCHS + 1)
    ]
    return {
        **base, "status": "ok", "primary_metric": "mse", "direction": "min",
        "metrics": {"mse": mse, "mae": math.sqrt(mse)}, "timings": timings,
        "measurements": {"nvml": {phase: _nvml(timings[f"{phase}_s"] + 1e-3, watts) for phase in PHASES}},
        "curves": curves,
        "length_metrics": [
            {"length": at, "metrics": {"mse": mse * (at / length) ** 2 if model != "oracle" else 0.0}}
            for at in EVAL_LENGTHS
        ],
    }


def fill(path: Path, runs: int) -> None:
    grid = [(m, t, b) for t in LENGTHS for b in BATCHES for m in MODELS]
    rng = random.Random(0)
    with Store(path) as store:
        for index in range(runs):
            model, length, batch = grid[index % len(grid)]
            store.write(record(index, model, length, batch, index // len(grid), rng), PROVENANCE)
            if index and index % 10_000 == 0:
                print(f"  filled {index:,} runs", file=sys.stderr)


def timed(label: str, action):
    start = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - start
    print(f"  {label:<40} {seconds:8.2f} s")
    return value, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--store", type=Path, default=None,
                        help="Use this store; filled with --runs runs first if it does not exist.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (store, report).")
    args = parser.parse_args()

    from seqbench.report.files import load_groups, write_report
    from seqbench.bundle import write_bundle
    from seqbench.report.runs import render, report_frame, report_table
    from seqbench.report.selection import select

    directory = Path(tempfile.mkdtemp(prefix="report_scale_"))
    store = args.store or directory / "scale.sqlite"
    if not store.exists():
        print(f"filling {store} with {args.runs:,} runs (not timed)", file=sys.stderr)
        fill(store, args.runs)
    out = directory / "report"
    out.mkdir()

    print(f"seqbench report on {store}")
    print("table (what `seqbench report` prints):")
    notes: list[str] = []  # as the command line: what it says on stderr (report.caveats) is part of the time
    frame, load_s = timed("load the runs, choose the columns", lambda: report_frame(store, notes=notes))
    _, render_s = timed("render the table", lambda: render(frame, "table"))
    print(f"  {'table, total':<40} {load_s + render_s:8.2f} s   ({len(frame):,} runs; target < {TABLE_TARGET_S:.0f} s)")

    print("figures (what `seqbench report --plot` writes):")
    start = time.perf_counter()
    groups, _ = timed("load runs, length metrics, provenance", lambda: load_groups(select(store, None, None)))
    clock = [time.perf_counter()]
    names = []

    def lap(line: str) -> None:
        # write_report reports each file as it is written: time from the previous one.
        now = time.perf_counter()
        name = Path(line.split()[-1] if line.startswith("[") else line.split()[1]).name
        names.append(name)
        print(f"  {name:<40} {now - clock[0]:8.2f} s")
        clock[0] = now

    write_report(groups, out, ["png"], lap)
    total = time.perf_counter() - start
    print(f"  {'--plot, total':<40} {total:8.2f} s")

    print("exports (every column):")
    complete, _ = timed("load every column", lambda: report_table(store, None, None, "csv"))
    for fmt in ("csv", "json"):
        timed(f"render {fmt}", lambda: render(complete, fmt))
    print(f"  ({len(complete):,} runs, {len(complete.columns)} columns)")
    suite = select(store, None, None)[0][0].suite
    timed(f"seqbench export {suite}", lambda: write_bundle(store, [suite], directory / "bundle.sqlite"))
    print("(the first figure's time includes loading the curves and aggregating every figure's data)")
    if args.keep:
        print(f"kept: {directory}")
    else:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
