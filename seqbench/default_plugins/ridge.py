"""``numpy:ridge``: least squares on per-step polynomial features, a framework-free baseline.

It makes the harness testable without torch or TensorFlow, and it is a fair floor for
learned models on continuous-input scalar tasks: it learns the adding problem's
value*marker products only if it is given quadratic features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from seqbench.hookspecs import hookimpl
from seqbench.model import EpochCallback, FitSettings, Model
from seqbench.params import param
from seqbench.task import Task


@dataclass
class Ridge(Model):
    name = "numpy:ridge"
    description = "ridge regression on the flattened inputs, with per-step products of features"
    framework = "numpy"
    serves = frozenset({("continuous", "scalar")})

    alpha: float = param(1e-3, min=0.0, help="L2 penalty on the weights")
    features: Literal["linear", "quadratic"] = param(
        "quadratic", help="linear: raw inputs; quadratic: plus products of each step's features"
    )

    def build(self, task: Task, settings: FitSettings) -> None:
        features = task.signature.input_features
        pairs = np.triu_indices(features)
        self._pairs = pairs if self.features == "quadratic" else None
        self._weights: np.ndarray | None = None
        self._bias = 0.0

    def _design(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        parts = [inputs]
        if self._pairs is not None:
            parts.append(inputs[..., self._pairs[0]] * inputs[..., self._pairs[1]])
        return np.concatenate(parts, axis=-1).reshape(len(inputs), -1)

    def fit(self, train, settings: FitSettings, on_epoch: EpochCallback) -> None:
        # The bias is left unpenalised by centring. With fewer examples than features
        # the dual (kernel) form is solved, else the normal equations accumulated batch
        # by batch: memory stays bounded by min(examples, features) squared.
        designs, targets = [], []
        for batch in train.batches(settings.batch_size):
            designs.append(self._design(batch.inputs))
            targets.append(np.asarray(batch.targets, dtype=np.float64))
            if sum(len(d) for d in designs) > designs[0].shape[1]:
                break
        count = sum(len(d) for d in designs)
        if count > designs[0].shape[1]:
            mean_x, mean_y, weights = self._solve_primal(train, settings.batch_size)
        else:
            mean_x, mean_y, weights = self._solve_dual(np.concatenate(designs), np.concatenate(targets))
        self._weights, self._bias = weights, mean_y - mean_x @ weights
        squared = sum(
            float(np.sum((self.predict(b.inputs) - b.targets) ** 2))
            for b in train.batches(settings.batch_size)
        )
        on_epoch(1, squared / len(train), len(train))

    def _solve_primal(self, train, batch_size: int) -> tuple[np.ndarray, float, np.ndarray]:
        gram: np.ndarray | None = None
        rhs: np.ndarray | None = None
        sum_x: np.ndarray | None = None
        sum_y, count = 0.0, 0
        for batch in train.batches(batch_size):
            design = self._design(batch.inputs)
            target = np.asarray(batch.targets, dtype=np.float64)
            if gram is None or rhs is None or sum_x is None:
                gram, rhs, sum_x = design.T @ design, design.T @ target, design.sum(axis=0)
            else:
                gram += design.T @ design
                rhs += design.T @ target
                sum_x += design.sum(axis=0)
            sum_y += float(target.sum())
            count += len(batch)
        # run.train_size is at least 1, so there was a batch.
        assert gram is not None and rhs is not None and sum_x is not None
        mean_x, mean_y = sum_x / count, sum_y / count
        centred_gram = gram - count * np.outer(mean_x, mean_x)
        centred_rhs = rhs - count * mean_x * mean_y
        system = centred_gram + self.alpha * count * np.eye(len(gram))
        return mean_x, mean_y, _solve(system, centred_rhs)

    def _solve_dual(self, design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        mean_x, mean_y = design.mean(axis=0), float(target.mean())
        centred = design - mean_x
        kernel = centred @ centred.T + self.alpha * len(design) * np.eye(len(design))
        return mean_x, mean_y, centred.T @ _solve(kernel, target - mean_y)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        if self._weights is None:
            raise RuntimeError("numpy:ridge predicted before it was fitted")
        return self._design(inputs) @ self._weights + self._bias


def _solve(system: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:  # alpha = 0 and too few examples: singular
        return np.linalg.lstsq(system, rhs, rcond=None)[0]


@hookimpl
def register_models(register) -> None:
    register(Ridge)
