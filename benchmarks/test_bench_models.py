"""Per-step training latency and per-batch prediction latency of every registered model
on every task it serves, at the task's tiny length and half of it.

A training step is ``fit`` over one batch for one epoch (so it includes the loop's
per-call set-up, as the first step of every epoch does); a prediction is ``predict`` on
one batch. The model's device is synchronised inside the timed call. Models are built
on ``--seqbench-device`` (default cpu).
"""

from __future__ import annotations

import dataclasses

from cases import at_length
from seqbench.data import Split
from seqbench.model import EpochOutcome
from seqbench.testing import tiny_model, tiny_settings

BATCH = 32


def keep_going(epoch: int, loss: float, examples: int) -> EpochOutcome:
    return EpochOutcome(stop=False, improved=False)


def describe(model, task, settings) -> dict:
    return {
        "model": model.name, "task": task.name, "batch_size": BATCH,
        "signature": task.signature.describe(), "device": settings.device,
    }


def built(model_case, device: str):
    model_name, task_name, length = model_case
    task = at_length(task_name, length)
    model = tiny_model(model_name)
    settings = dataclasses.replace(tiny_settings(epochs=1, batch_size=BATCH), device=device)
    model.build(task, settings)
    return model, task, settings


def test_train_step(benchmark, model_case, device):
    model, task, settings = built(model_case, device)
    batch = Split(task, "train", BATCH, seed=0)
    batch.prepare()

    def step() -> None:
        model.fit(batch, settings, keep_going)
        model.synchronize()

    benchmark.extra_info.update(describe(model, task, settings))
    benchmark(step)


def test_predict_batch(benchmark, model_case, device):
    model, task, settings = built(model_case, device)
    model.fit(Split(task, "train", 2 * BATCH, seed=0), settings, keep_going)
    inputs = Split(task, "test", BATCH, seed=0).materialize().inputs

    def predict() -> None:
        model.predict(inputs)
        model.synchronize()

    benchmark.extra_info.update(describe(model, task, settings))
    benchmark(predict)
