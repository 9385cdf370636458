"""seqbench's training cost against a bare PyTorch loop: same model, data and epochs.

Both run in this one process, interleaved, each repeat alternating which goes first.
seqbench's side is the real pipeline (``seqbench.pipeline.run_point``): the shared
seqbench-torch loop, per-epoch validation scored by the harness, early-stopping
bookkeeping, best-weights copies, meters, test evaluation. The bare side is the loop a
researcher would write by hand for the same work: an LSTM(100) + linear head, Adam,
gradient clipping, a validation pass per epoch and a test pass, on the same examples
(taken from the same seqbench splits, so generating data is excluded from both).

Prints train+eval seconds of each and the ratio; the target is seqbench at most 3%
slower (ratio <= 1.03). Process start-up is not included: benchmarks/point_overhead.py
measures that fixed cost.

    python benchmarks/torch_overhead.py [--repeats 3] [--seq-len 50] [--train-size 8192] [--epochs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from torch import nn

from seqbench.data import Split
from seqbench.point import Point
from seqbench.pipeline import run_point
from seqbench.settings import RunSettings
from seqbench_tasks import Adding

TARGET_RATIO = 1.03


class BareLSTM(nn.Module):
    def __init__(self, hidden: int = 100) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(inputs)
        return self.head(outputs[:, -1]).squeeze(-1)


def point(args: argparse.Namespace) -> Point:
    run = RunSettings(
        epochs=args.epochs, train_size=args.train_size, eval_size=args.eval_size,
        batch_size=args.batch_size, device="cpu",
    )
    return Point(
        suite="overhead", task="adding", task_params={"seq_len": args.seq_len},
        model="torch:lstm", model_params={}, run=run, seed=0,
    )


def seqbench_seconds(args: argparse.Namespace) -> float:
    record = run_point(point(args))
    assert record.ok, record.error
    return record.timings["train_s"] + record.timings["eval_s"]


def tensors(task: Adding, split: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    examples = Split(task, split, size, seed=0).materialize()
    return torch.from_numpy(examples.inputs), torch.from_numpy(examples.targets).float()


def bare_seconds(args: argparse.Namespace) -> float:
    task = Adding(seq_len=args.seq_len)
    train_x, train_y = tensors(task, "train", args.train_size)
    val_x, val_y = tensors(task, "validation", args.eval_size)
    test_x, test_y = tensors(task, "test", args.eval_size)
    torch.manual_seed(0)
    model = BareLSTM()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    size = args.batch_size

    def evaluate(inputs: torch.Tensor, targets: torch.Tensor) -> float:
        model.eval()
        with torch.inference_mode():
            predictions = torch.cat([model(inputs[i : i + size]) for i in range(0, len(inputs), size)])
        return float(loss_fn(predictions, targets))

    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for i in range(0, len(order), size):
            batch = order[i : i + size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        evaluate(val_x, val_y)
    evaluate(test_x, test_y)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--train-size", type=int, default=8192)
    parser.add_argument("--eval-size", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    seqbench_times, bare_times = [], []
    bare_seconds(args)  # warm-up: first-call kernel selection and allocator growth
    for repeat in range(args.repeats):
        order = (seqbench_seconds, bare_seconds) if repeat % 2 == 0 else (bare_seconds, seqbench_seconds)
        for measure in order:
            (seqbench_times if measure is seqbench_seconds else bare_times).append(measure(args))
    ratios = [s / b for s, b in zip(seqbench_times, bare_times)]
    ratio = statistics.median(ratios)
    print(f"torch:lstm on adding T={args.seq_len}, {args.train_size} examples x {args.epochs} epochs, "
          f"batch {args.batch_size}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"  seqbench  train+eval: {' '.join(f'{t:.2f}s' for t in seqbench_times)}")
    print(f"  bare loop train+eval: {' '.join(f'{t:.2f}s' for t in bare_times)}")
    print(f"  ratio seqbench/bare: median {ratio:.3f} (each repeat: {' '.join(f'{r:.3f}' for r in ratios)}); "
          f"target <= {TARGET_RATIO} ({'met' if ratio <= TARGET_RATIO else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
