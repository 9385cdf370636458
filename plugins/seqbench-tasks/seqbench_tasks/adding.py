"""The adding problem (Le et al. 2015, §4.1).

Each example is T steps of (value, marker): values uniform in [0, 1), markers zero
except at exactly two positions. The target is the sum of the two marked values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Examples, Signature, Task, param


@dataclass
class Adding(Task):
    name = "adding"
    description = "sum the two marked values in a sequence of T (value, marker) steps"
    primary_metric = "mse"
    direction = "min"
    metrics = ("mse", "mae")
    length_param = "seq_len"

    seq_len: int = param(100, min=2, help="T: steps per sequence")

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="continuous", targets="scalar", input_length=self.seq_len, input_features=2
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        # Continuous values: independent streams never collide, whatever the split.
        length = self.seq_len
        values = rng.random((count, length), dtype=np.float32)
        first = rng.integers(0, length, size=count)
        # An offset in 1..T-1 makes the second position uniform over the other T-1.
        second = (first + rng.integers(1, length, size=count)) % length
        markers = np.zeros((count, length), dtype=np.float32)
        rows = np.arange(count)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        inputs = np.stack([values, markers], axis=-1)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        # float64 sum of the float32 values: the target is exact for the stored inputs.
        return np.sum(inputs[..., 0].astype(np.float64) * inputs[..., 1], axis=1)

    def score(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        errors = np.asarray(predictions, dtype=np.float64).reshape(-1) - targets.reshape(-1)
        return {"mse": float(np.mean(errors**2)), "mae": float(np.mean(np.abs(errors)))}
