"""``torch:attention``: single-head self-attention with a causal (history) mask, as in
the Batuketa experiment. The last position, which may attend to every earlier one,
reads out the answer. The attention matrix is T x T: quadratic in the length."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.base import Network

__all__ = ["CausalAttention"]


class CausalAttention(Network):
    def __init__(self, signature: Signature, task: Task, d_model: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Linear(signature.input_features, d_model)
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.head = nn.Sequential(nn.Linear(d_model, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        embedded = self.embed(inputs)
        attended = F.scaled_dot_product_attention(
            self.query(embedded), self.key(embedded), self.value(embedded), is_causal=True
        )
        return self.head(attended[:, -1]).squeeze(-1)
