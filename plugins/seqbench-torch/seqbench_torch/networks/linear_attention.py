"""``torch:linear-attention``: causal linear attention.

Katharopoulos, Vyas, Pappas & Fleuret, "Transformers are RNNs: Fast Autoregressive
Transformers with Linear Attention" (ICML 2020): softmax(q k^T) is replaced by the
kernel phi(q) phi(k)^T with phi(x) = elu(x) + 1, so causal attention is a running sum,

    y_t = phi(q_t)^T S_t / (phi(q_t)^T z_t),  S_t = sum_{s<=t} phi(k_s) v_s^T,  z_t = sum_{s<=t} phi(k_s),

a recurrence with a (head_dim x head_dim) state per head: constant memory per step,
which is why it needs width to recall more (Arora et al. 2023). Computed in parallel
with a cumulative sum over positions. Attention has no sense of order, so the
embeddings carry the fixed sinusoidal position code.
"""

from __future__ import annotations

import torch
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.causal import CausalSequenceModel

__all__ = ["CausalLinearAttention", "linear_attention_network"]


class CausalLinearAttention(nn.Module):
    uncounted = "linear attention's state outer products phi(k) v^T and cumulative sums"

    def __init__(self, d_model: int, heads: int, eps: float = 1e-6) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"heads ({heads}) must divide d_model ({d_model})")
        self.heads, self.eps = heads, eps
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, width // self.heads).unbind(dim=2)
        q, k = nn.functional.elu(q) + 1, nn.functional.elu(k) + 1  # (B, L, heads, d)
        state = torch.cumsum(torch.einsum("blhd,blhe->blhde", k, v), dim=1)  # S_t
        normaliser = torch.cumsum(k, dim=1)  # z_t
        numerator = torch.einsum("blhd,blhde->blhe", q, state)
        denominator = torch.einsum("blhd,blhd->blh", q, normaliser)[..., None] + self.eps
        return self.out((numerator / denominator).reshape(batch, length, width))


def linear_attention_network(
    signature: Signature, task: Task, d_model: int, layers: int, heads: int, mlp_expand: int, readout: str
) -> CausalSequenceModel:
    return CausalSequenceModel(
        signature, task, lambda: CausalLinearAttention(d_model, heads), d_model, layers, mlp_expand, readout,
        positions=True,
    )
