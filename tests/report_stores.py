"""Stores made of real runs for the report tests: `seqbench run` through the CLI, worker
processes, the real store, on suites whose sizes are already smoke-sized (--smoke itself
would keep only the first seed, and the figures' bands need several). One plugin model is installed for them, a
small NumPy learner that trains for several epochs (so the curves have a shape) and
copes with any sequence length (so length generalisation has data), unlike
``numpy:ridge``, which solves in one step at one length. Its features are scaled by
the training length, so it degrades away from that length, as real models do."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from seqbench import plugins
from seqbench.cli import main

POOLED_SGD = '''
from dataclasses import dataclass

import numpy as np

from seqbench import Model, hookimpl, param


@dataclass
class PooledSgd(Model):
    name = "numpy:pooled-sgd"
    description = "linear model on pooled features, scaled by the training length, trained by SGD"
    serves = frozenset({("continuous", "scalar")})

    lr: float = param(0.5, min=0.0, help="step size")
    max_len: int = param(1000, min=1, help="the longest sequence it accepts")

    def build(self, task, settings):
        self._device = settings.device
        self._length = task.signature.input_length
        self._weights = np.zeros(3)
        self._best = self._weights.copy()

    def _features(self, inputs):
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.shape[1] > self.max_len:
            raise ValueError(f"sequence length {inputs.shape[1]} is over max_len {self.max_len}")
        values, markers = inputs[..., 0], inputs[..., 1]
        pooled = [(values * markers).mean(1) * self._length, values.mean(1), np.ones(len(inputs))]
        return np.stack(pooled, axis=1)

    def fit(self, train, settings, on_epoch):
        rng = np.random.default_rng(settings.seed)
        for epoch in range(1, settings.epochs + 1):
            squared, seen = 0.0, 0
            for batch in train.batches(settings.batch_size, rng):
                features = self._features(batch.inputs)
                error = features @ self._weights - batch.targets
                self._weights = self._weights - self.lr * features.T @ error / len(error)
                squared += float(error @ error)
                seen += len(error)
            if on_epoch(epoch, squared / seen, seen).improved:
                self._best = self._weights.copy()
        self._weights = self._best

    def predict(self, inputs):
        return self._features(inputs) @ self._weights

    def devices(self):
        # A stand-in for a GPU model when a suite asks for CUDA (the energy report's
        # fake GPU); NumPy itself runs on the CPU.
        return ["cuda:0"] if self._device.startswith("cuda") else ["cpu"]


@hookimpl
def register_models(register):
    register(PooledSgd)
'''

SWEEP = """
[suite]
name = "sweep"
seeds = [0, 1]
[run]
epochs = 3
train_size = 256
eval_size = 64
batch_size = 32
device = "{device}"
eval_lengths = [5, 10, 20]
[task]
name = "adding"
[sweep]
task.seq_len = [5, 10]
{sweep}
[[model]]
name = "numpy:pooled-sgd"
max_len = {max_len}
[[model]]
name = "numpy:ridge"
[[model]]
name = "oracle"
"""


@contextlib.contextmanager
def pooled_sgd_installed(site: Path) -> Iterator[None]:
    """The plugin as a real distribution on sys.path and PYTHONPATH (for the workers)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "seqbench_pooled.py").write_text(textwrap.dedent(POOLED_SGD))
    info = site / "seqbench_pooled-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seqbench-pooled\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[seqbench]\nseqbench-pooled = seqbench_pooled\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(site))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
        importlib.invalidate_caches()
        plugins.reset()
        try:
            yield
        finally:
            sys.modules.pop("seqbench_pooled", None)
            plugins.reset()


def run_suite(directory: Path, text: str, store: Path, name: str = "suite.toml", code: int = 0) -> Path:
    """``seqbench run SUITE --store STORE``; checks the exit code."""
    suite = directory / name
    suite.write_text(textwrap.dedent(text))
    plugins.reset()
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store)])
    assert result.exit_code == code, result.output
    return store


def sweep_suite(device: str = "cpu", sweep: str = "", max_len: int = 1000) -> str:
    return SWEEP.format(device=device, sweep=sweep, max_len=max_len)
