"""``torch:lstm``: an LSTM whose last output feeds a linear head (the adding-problem LSTM)."""

from __future__ import annotations

import torch
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.base import Network

__all__ = ["LSTMRegressor"]


class LSTMRegressor(Network):
    def __init__(self, signature: Signature, task: Task, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            signature.input_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden, 1)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        outputs, _ = self.lstm(inputs)
        return self.head(outputs[:, -1]).squeeze(-1)
