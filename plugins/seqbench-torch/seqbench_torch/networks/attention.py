"""The adding problem's attention networks (Batuketa).

``torch:attention`` (``CausalAttention``): a linear embedding to d_model, single-head
self-attention with a causal (history) mask, and an MLP head on the last position,
which may attend to every earlier one. seqbench's own sizing (d_model 64, hidden 64:
16,897 weights at any T); it is not the original's network.

``torch:batuketa-attention`` (``BatuketaAttention``): the original's network exactly
(gbordyugov/batuketa, ``batuketa/models.py``, ``attention_model``): no embedding, the
model width is the input's features (d_model = 2: the number and its marker), a single
head whose Q, K and V are each one Dense(2), scores scaled by 1/sqrt(2) under the history
mask, then all T outputs flattened (2T values, ``tf.reshape(att_output, (-1, d_model *
seq_len))``) into one Dense(1): a position-specific linear map, so the network is sized
by its T. 3 x (2 x 2 + 2) + (2T + 1) weights: 219 at T = 100. Weights start as Keras's
Dense does (Glorot uniform, zero biases).

Both attention matrices are T x T: quadratic in the length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.base import Network

__all__ = ["CausalAttention", "BatuketaAttention"]


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


def _keras_dense(layer: nn.Linear) -> nn.Linear:
    """``layer`` initialised as Keras's Dense: Glorot-uniform weights, zero biases."""
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class BatuketaAttention(Network):
    def __init__(self, signature: Signature, task: Task) -> None:
        super().__init__()
        width = signature.input_features  # the original's d_model: 2, the number and the marker
        self.length = signature.input_length
        self.query = _keras_dense(nn.Linear(width, width))
        self.key = _keras_dense(nn.Linear(width, width))
        self.value = _keras_dense(nn.Linear(width, width))
        self.sum = _keras_dense(nn.Linear(width * self.length, 1))

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        if inputs.shape[1] != self.length:
            raise ValueError(
                f"torch:batuketa-attention reads out every position through weights sized for "
                f"T = {self.length}; it cannot read sequences of length {inputs.shape[1]}"
            )
        attended = F.scaled_dot_product_attention(
            self.query(inputs), self.key(inputs), self.value(inputs), is_causal=True
        )
        return self.sum(attended.flatten(1)).squeeze(-1)
