"""``torch:oracle``: the exact answer as a fixed torch graph — the Batuketa "perfect
model" — for tasks with a closed form here (adding, gp-pairs); any other task's exact
solve otherwise (the token tasks, whose answers are not a tensor computation)."""

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


def _gp_pairs(task: Task) -> Callable[[torch.Tensor], torch.Tensor]:
    """The exact Gaussian conditional of B's hidden points: a fixed linear map of the
    observed values (the task's own precomputed weights, offset and variance), in
    float64 like the task's solve. Another length (length generalisation) uses that
    length's conditional, from the task's own ``conditional_at``."""
    tables: dict[tuple[int, torch.device], tuple[torch.Tensor, ...]] = {}

    def conditional(length: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        if (length, device) not in tables:
            solved = task.conditional_at(length)
            tables[length, device] = tuple(
                torch.as_tensor(array, dtype=torch.float64, device=device)
                for array in (solved.weights, solved.offset, solved.variance)
            )
        return tables[length, device]

    def graph(inputs: torch.Tensor) -> torch.Tensor:
        weights, offset, variance = conditional(inputs.shape[1], inputs.device)
        inputs = inputs.double()
        observed = torch.cat([inputs[..., 1], inputs[:, : task.context, 2]], dim=1)
        mean = offset + observed @ weights
        return torch.stack([mean, variance.expand_as(mean)], dim=-1)

    return graph


GRAPHS: dict[str, Callable[[Task], Callable[[torch.Tensor], torch.Tensor]]] = {
    "adding": _adding,
    "gp-pairs": _gp_pairs,
}


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
