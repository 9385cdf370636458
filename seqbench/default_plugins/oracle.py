"""The ``oracle`` model: the task's exact answer, through the same path as every model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench.hookspecs import hookimpl
from seqbench.model import EpochCallback, FitSettings, Model
from seqbench.task import Task


@dataclass
class Oracle(Model):
    name = "oracle"
    description = "the task's exact solution in NumPy: the floor of error and of harness cost"
    framework = "numpy"
    serves_every_task = True

    def build(self, task: Task, settings: FitSettings) -> None:
        self._task = task

    def fit(self, train, settings: FitSettings, on_epoch: EpochCallback) -> None:
        """Nothing to learn: no epochs, no curve."""

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return self._task.solve(inputs)


@hookimpl
def register_models(register) -> None:
    register(Oracle)
