"""Data-generation throughput of every registered task: one harness chunk (the task's
``chunk_size`` examples, one ``generate`` call) per round, at the task's tiny length and half of it.
``extra_info.examples_per_s`` is the throughput at the mean time."""

from __future__ import annotations

import numpy as np

from cases import at_length


def test_generate_chunk(benchmark, task_case):
    task = at_length(*task_case)
    rng = np.random.default_rng(0)
    task.generate(8, rng, split="train")  # one-off set-up (tables, factorisations) is not timed
    chunk = task.chunk_size
    benchmark(task.generate, chunk, rng, "train")
    benchmark.extra_info.update(
        task=task.name,
        examples_per_call=chunk,
        examples_per_s=chunk / benchmark.stats.stats.mean,
        tokens_per_s=chunk * task.tokens_per_example() / benchmark.stats.stats.mean,
    )
