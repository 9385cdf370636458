"""What every seqbench-torch model shares: the training hyper-parameters and the
bridge from seqbench's Model contract to the shared loop (imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Literal

import numpy as np

from seqbench import FitSettings, Model, param
from seqbench.settings import RunSettings
from seqbench.task import Task

__all__ = ["TorchModel"]


@dataclass
class TorchModel(Model):
    """Base of every torch architecture, and the public way in for anyone's network.

    A subclass is a seqbench model: a dataclass with ``name``, ``serves`` (the signature
    kinds its network handles) and its own hyper-parameters as ``param`` fields. It names
    its network factory in ``network``, by import path ``"package.module:Factory"`` (any
    importable module: a string keeps torch out of ``seqbench models``), or as the
    factory itself. The loop calls ``Factory(signature, task, **sizes)``, where
    ``sizes`` are the subclass's own fields, and expects an ``nn.Module`` whose
    ``forward(inputs, targets)`` gives training outputs (logits (N, T, vocab) for token
    targets, (N,) for scalars, (N, T, 2) for gaussians) and whose ``predict(inputs)``
    (``seqbench_torch.networks.base.Network`` defaults it to ``forward``) gives the
    evaluation outputs (token ids for token targets). Everything else is this loop's:
    Adam/AdamW, clipping, AMP, torch.compile, seeding, early stopping, best weights.
    """

    framework = "torch"
    network: ClassVar[str | Callable[..., Any]]

    lr: float = param(1e-3, min=0.0, help="learning rate")
    optimizer: Literal["adam", "adamw"] = param("adam", help="optimiser")
    weight_decay: float = param(0.0, min=0.0, help="decoupled weight decay (adamw) or L2 (adam)")
    clip: float = param(1.0, min=0.0, help="gradient-norm clipping; 0 turns it off")
    precision: Literal["fp32", "bf16", "fp16"] = param(
        "fp32", help="autocast precision; bf16 and fp16 need CUDA"
    )
    compile: bool = param(False, help="torch.compile the network")

    def validate(self, task: Task, run: RunSettings) -> None:
        """Refused before anything runs: reduced precision where the point runs on the
        CPU (the loop would refuse it there, after the sweep had started)."""
        if self.precision != "fp32" and run.device == "cpu":
            raise ValueError(
                f"precision {self.precision!r} needs a CUDA device, but this point runs on the CPU "
                f"(run.device, or no GPU here for 'auto'); allowed on the CPU: precision = 'fp32'"
            )

    def network_options(self) -> dict[str, Any]:
        """The architecture's own sizes, passed to its network's constructor."""
        from dataclasses import fields

        shared = {f.name for f in fields(TorchModel)}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in shared}

    def build(self, task: Task, settings: FitSettings) -> None:
        from seqbench_torch.loop import Trainer

        self._trainer = Trainer(self, task, settings)

    def fit(self, train, settings: FitSettings, on_epoch) -> None:
        self._trainer.fit(train, settings, on_epoch)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return self._trainer.predict(inputs)

    def synchronize(self) -> None:
        self._trainer.synchronize()

    def devices(self) -> list[str]:
        return [self._trainer.device_name()]

    def flops(self, inputs: np.ndarray, targets: np.ndarray) -> dict[str, Any] | None:
        from seqbench_torch.flops import count_flops

        return count_flops(self._trainer, inputs, targets)

    def predict_flops(self, inputs: np.ndarray) -> float | None:
        """Model FLOPs of one prediction per example on this batch, without a training
        step's count: what the harness asks of the validation and test batches."""
        from seqbench_torch.flops import count_prediction

        return count_prediction(self._trainer, inputs)
