"""What every seqbench-tensorflow model shares: the training hyper-parameters (the same
names and defaults as seqbench-torch's) and the bridge from seqbench's Model contract to
the shared loop, which imports TensorFlow only when a model is built."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

import numpy as np

from seqbench import FitSettings, Model, param
from seqbench.task import Task
from seqbench_tensorflow.runtime import missing_reason

__all__ = ["TFModel"]


@dataclass
class TFModel(Model):
    """Base of every TensorFlow architecture. Subclasses add their sizes as fields and
    name the network class (``network``: "module:Class" under seqbench_tensorflow.networks)."""

    framework = "tensorflow"
    network: ClassVar[str]

    lr: float = param(1e-3, min=0.0, help="learning rate")
    optimizer: Literal["adam", "adamw"] = param("adam", help="optimiser")
    weight_decay: float = param(0.0, min=0.0, help="decoupled weight decay (adamw) or L2 (adam)")
    clip: float = param(1.0, min=0.0, help="gradient-norm clipping; 0 turns it off")
    precision: Literal["fp32", "bf16", "fp16"] = param(
        "fp32", help="Keras mixed-precision policy: float32 weights, bf16/fp16 compute"
    )
    compile: bool = param(False, help="XLA-compile the training step (jit_compile)")

    @classmethod
    def unavailable(cls) -> str | None:
        return missing_reason()

    def network_options(self) -> dict[str, Any]:
        """The architecture's own sizes, passed to its network's constructor."""
        shared = {f.name for f in fields(TFModel)}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in shared}

    def build(self, task: Task, settings: FitSettings) -> None:
        from seqbench_tensorflow.loop import Trainer

        self._trainer = Trainer(self, task, settings)

    def fit(self, train, settings: FitSettings, on_epoch) -> None:
        self._trainer.fit(train, settings, on_epoch)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return self._trainer.predict(inputs)

    def synchronize(self) -> None:
        self._trainer.synchronize()

    def devices(self) -> list[str]:
        # TensorFlow numbers the GPUs CUDA shows it, in CUDA's (the worker's PCI) order.
        kind, _, index = self._trainer.device.strip("/").partition(":")
        return [f"cuda:{index}" if kind == "GPU" else "cpu"]
