"""``torch:oracle``: the exact answer as a fixed torch graph — the Batuketa "perfect
model" — for tasks with a closed form here; any other task's exact solve otherwise."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from seqbench.task import Signature, Task
from seqbench_torch.networks.base import Network

__all__ = ["TorchOracle", "GRAPHS"]


def _adding(task: Task) -> Callable[[torch.Tensor], torch.Tensor]:
    # float64 so the sum is exact for the stored float32 values, as the task's own is.
    return lambda inputs: (inputs[..., 0].double() * inputs[..., 1].double()).sum(dim=1)


GRAPHS: dict[str, Callable[[Task], Callable[[torch.Tensor], torch.Tensor]]] = {"adding": _adding}


class TorchOracle(Network):
    def __init__(self, signature: Signature, task: Task) -> None:
        super().__init__()
        self.task = task
        builder = GRAPHS.get(task.name)
        self.graph = builder(task) if builder is not None else None

    @property
    def is_graph(self) -> bool:
        return self.graph is not None

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        if self.graph is not None:
            return self.graph(inputs)
        solved = np.asarray(self.task.solve(inputs.cpu().numpy()))
        return torch.from_numpy(solved).to(inputs.device)
