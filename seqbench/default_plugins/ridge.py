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

    def build(self, task: Task) -> None:
        features = task.signature.input_features
        pairs = np.triu_indices(features)
        self._pairs = pairs if self.features == "quadratic" else None
        self._weights: np.ndarray | None = None

    def _design(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        parts = [inputs]
        if self._pairs is not None:
            parts.append(inputs[..., self._pairs[0]] * inputs[..., self._pairs[1]])
        steps = np.concatenate(parts, axis=-1).reshape(len(inputs), -1)
        return np.concatenate([steps, np.ones((len(inputs), 1))], axis=1)

    def fit(self, train, settings: FitSettings, on_epoch: EpochCallback) -> None:
        # Normal equations accumulated batch by batch: memory stays bounded by the
        # feature count, not the training-set size.
        gram = rhs = None
        count = 0
        for batch in train.batches(settings.batch_size):
            design = self._design(batch.inputs)
            targets = np.asarray(batch.targets, dtype=np.float64)
            gram = design.T @ design if gram is None else gram + design.T @ design
            rhs = design.T @ targets if rhs is None else rhs + design.T @ targets
            count += len(batch)
        penalty = self.alpha * count * np.eye(len(gram))
        penalty[-1, -1] = 0.0  # the bias is not penalised
        self._weights = np.linalg.lstsq(gram + penalty, rhs, rcond=None)[0]
        squared = sum(
            float(np.sum((self.predict(b.inputs) - b.targets) ** 2))
            for b in train.batches(settings.batch_size)
        )
        on_epoch(1, squared / count, count)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        if self._weights is None:
            raise RuntimeError("numpy:ridge predicted before it was fitted")
        return self._design(inputs) @ self._weights


@hookimpl
def register_models(register) -> None:
    register(Ridge)
