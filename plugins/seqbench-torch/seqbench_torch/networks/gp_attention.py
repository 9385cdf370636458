"""``torch:gp-attention``: attention over GP sequence pairs, a mean and a variance per
point to infer (the oremnirv/attention experiment's model, in spirit).

Input per position (the gp-pairs layout): the grid coordinate x, A's value, B's value
where observed (else 0) and the observed mask. The coordinate is encoded by sinusoids
of learned frequencies, so attention scores can depend on the distance x_i - x_j (the
kernel's argument) rather than on raw x; the values and the mask are embedded linearly
and added. Self-attention layers without a causal mask see all of A and B's context.
Each position from ``context`` on reads out a mean and a variance (softplus plus a
small floor, so always positive): outputs (N, length - context, 2).

Nothing here is sized by the sequence length, so the model runs at any length (the
coordinates beyond the trained range are extrapolation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.base import Network

__all__ = ["GPAttention", "MIN_VARIANCE"]

MIN_VARIANCE = 1e-4  # keeps the Gaussian NLL finite when a variance would collapse
VALUE_FEATURES = slice(1, 4)  # A, B where observed, observed mask


class GPAttention(Network):
    def __init__(
        self,
        signature: Signature,
        task: Task,
        d_model: int,
        heads: int,
        layers: int,
        ff_dim: int,
        dropout: float,
    ) -> None:
        super().__init__()
        # Targets are the last target_length positions: B after its observed context.
        self.context = signature.input_length - signature.target_length
        self.coordinate = _FourierFeatures(d_model, shortest=_spacing(task), longest=_span(task, signature))
        self.values = nn.Linear(signature.input_features - 1, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=ff_dim, dropout=dropout, batch_first=True
        )
        # Every sequence is full length (no padding mask), so nested tensors never apply.
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 2)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        embedded = self.coordinate(inputs[..., 0]) + self.values(inputs[..., VALUE_FEATURES])
        encoded = self.encoder(embedded)[:, self.context :]
        mean, spread = self.head(encoded).unbind(dim=-1)
        return torch.stack([mean, F.softplus(spread) + MIN_VARIANCE], dim=-1)


class _FourierFeatures(nn.Module):
    """sin and cos of learned frequencies times x, the frequencies starting log-spaced
    between one period over the whole sequence and two grid steps (Nyquist)."""

    def __init__(self, width: int, shortest: float, longest: float) -> None:
        super().__init__()
        count = max(width // 2, 1)
        periods = torch.logspace(math.log10(longest), math.log10(2 * shortest), count)
        self.frequencies = nn.Parameter(2 * math.pi / periods)
        self.mix = nn.Linear(2 * count, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = x.unsqueeze(-1) * self.frequencies
        return self.mix(torch.cat([angles.sin(), angles.cos()], dim=-1))


def _spacing(task: Task) -> float:
    """The grid step of the coordinate feature (gp-pairs' ``spacing``; 1 if unnamed)."""
    return float(getattr(task, "spacing", 1.0))


def _span(task: Task, signature: Signature) -> float:
    return max(_spacing(task) * signature.input_length, 2 * _spacing(task))
