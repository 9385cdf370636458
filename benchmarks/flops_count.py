"""What counting a point's FLOPs costs, by the size of the batch counted on.

After training, the harness counts a model's FLOPs on the training split's first batch
of the run's ``batch_size``, at most 64 examples (``seqbench.devices.FLOPS_BATCH``), and
one prediction on the validation and the test split's first batch.
The torch counter steps through every dispatched product in Python, so a count costs
wall time outside every phase (kept as ``meter.flops.count_s``). For each case this
builds the model untrained, as a point does, and times ``seqbench.devices.count_flops``
at each batch size (median of --repeats, after one count that pays the first-call
imports), and prints each size's time against 64's.

    python benchmarks/flops_count.py [--sizes 16 64 256] [--repeats 3] [--threads 1]

Untrained: a transformer's greedy decoding runs to the longest target unless every row
has emitted its end token, which an untrained model rarely does, so its prediction count
is the longest a trained model's can be. Not a test (timings are noisy).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (label, task, task params, model, model params): the shipped reproductions' models.
CASES: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
    ("torch:transformer, polynomial (suites/reproductions/polynomial.toml's model)",
     "polynomial", {}, "torch:transformer", {}),
    ("torch:lstm (hidden 100), adding T = 1500 (adding_lstm.toml's longest)",
     "adding", {"seq_len": 1500}, "torch:lstm", {"hidden": 100}),
    ("torch:attention, adding T = 1000", "adding", {"seq_len": 1000}, "torch:attention", {}),
]


def _timed_counts(task_name: str, task_params: dict[str, Any], model_name: str,
                  model_params: dict[str, Any], sizes: list[int], repeats: int) -> dict[int, float]:
    from seqbench import registry
    from seqbench.data import Split
    from seqbench.devices import count_flops
    from seqbench.settings import RunSettings

    task = registry.tasks().get(task_name)(**task_params)
    model = registry.models().get(model_name)(**model_params)
    model.build(task, RunSettings(device="cpu").fit_settings(0))
    split = Split(task, "train", max(sizes), 0)
    # A point's count also prices one prediction on the validation and test splits'
    # first batches (their lengths may differ from training's): counted here too.
    validation, test = (Split(task, name, max(sizes), 0) for name in ("validation", "test"))
    for held_out in (split, validation, test):
        held_out.prepare()
    timings = {"train_s": 1.0, "eval_s": 1.0, "epochs": 1, "train_examples": max(sizes)}

    def count(size: int) -> float:
        started = time.perf_counter()
        entry = count_flops(model, split, size, validation=validation, test=test,
                            timings=timings, measurements={})
        if entry is None or "error" in entry:
            raise SystemExit(f"{model_name}: no count ({entry})")
        return time.perf_counter() - started

    count(min(sizes))  # the first count imports what counting needs (torch._dynamo: about 1 s)
    return {size: statistics.median(count(size) for _ in range(repeats)) for size in sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256],
                        help="batch sizes to count on (the harness caps them at 64; here they are not)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as on a loaded CPU)")
    args = parser.parse_args()

    import torch

    import seqbench.devices as devices

    torch.set_num_threads(args.threads)
    devices.FLOPS_BATCH = max(args.sizes)  # time the sizes asked for, past the harness's cap
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")
    for label, task, task_params, model, model_params in CASES:
        seconds = _timed_counts(task, task_params, model, model_params, sorted(args.sizes), args.repeats)
        base = seconds.get(64)
        shown = ", ".join(
            f"{size}: {value:.2f} s" + (f" ({value / base:.2f}x 64's)" if base and size != 64 else "")
            for size, value in seconds.items())
        print(f"{label}\n  {shown}")


if __name__ == "__main__":
    main()
