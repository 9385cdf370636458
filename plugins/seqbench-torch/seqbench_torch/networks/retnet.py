"""``torch:retnet``: multi-scale retention, RetNet's sequence mixer.

Sun et al., "Retentive Network: A Successor to Transformer for Large Language Models"
(2023), Section 2 and microsoft/torchscale's ``MultiScaleRetention``: per head, queries
and keys rotated by their position (``e^{i n theta}`` on channel pairs, theta = 1 /
10000^(0..1), as the torchscale code: xPos's rotation; its length-extrapolating scale
is the decay's part here), then

    Retention(X) = (Q K^T * D) V,   D_nm = gamma^(n - m) for n >= m, else 0,

with a fixed decay per head, gamma_h = 1 - 2^(-5 - h): heads that remember for 32 to
2^(4 + heads) positions (the "multi-scale"; in float32 gamma is exactly 1 from the 20th
head on, h = 19: those heads do not decay at all). Each head's output is normalised on its
own (GroupNorm with a group per head), gated by swish(X W_G) and projected back:
``W_O (swish(X W_G) * GroupNorm(heads))``. Values and the gate are 2 d_model wide, as
in the paper. The block around it is the shared pre-norm one (LayerNorm, retention,
LayerNorm, a GELU MLP of 2 d_model: the paper's FFN), with no position code of its own.

Training uses the parallel form above (quadratic in length, like attention: the paper
trains so, or in chunks for long sequences, not implemented here). The paper's three
score normalisations are kept (keys scaled by 1 / sqrt(head width), each row of D by
1 / sqrt(its sum), each row of scores by 1 / max(|its sum|, 1)): each scales one
position's output of one head, which the GroupNorm undoes but for its eps, so they
change the numbers' range, not the model. ``recurrent_retention`` is the one-step-at-a-time form of
inference, ``S_n = gamma S_{n-1} + k_n^T v_n``, ``o_n = q_n S_n``, with the same
normalisations; the tests check the two agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.causal import CausalSequenceModel

__all__ = ["MultiScaleRetention", "decay_mask", "parallel_retention", "recurrent_retention", "retnet_network"]

VALUE_EXPAND = 2  # value and gate width as a multiple of d_model (the paper's)


def head_log_decays(heads: int) -> torch.Tensor:
    """log gamma_h, gamma_h = 1 - 2^(-5 - h)."""
    return torch.log(1 - 2.0 ** (-5 - torch.arange(heads, dtype=torch.float64))).float()


def decay_mask(length: int, log_decay: torch.Tensor) -> torch.Tensor:
    """D (heads, length, length), each row divided by the square root of its sum."""
    index = torch.arange(length, device=log_decay.device, dtype=log_decay.dtype)
    distance = index[:, None] - index[None, :]
    # exp of the clamped distance: the masked (future) entries would overflow at length.
    mask = torch.exp(distance.clamp(min=0) * log_decay[:, None, None]) * (distance >= 0)
    return mask / mask.sum(dim=-1, keepdim=True).sqrt()


def parallel_retention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, log_decay: torch.Tensor) -> torch.Tensor:
    """(Q K^T * D) V per head, normalised; q, k (B, H, T, dk), v (B, H, T, dv), log_decay (H,)."""
    scores = (q @ k.transpose(-1, -2)) * decay_mask(q.shape[2], log_decay)
    # The denominator only rescales rows, which the GroupNorm undoes: no gradient needed.
    scores = scores / scores.detach().sum(dim=-1, keepdim=True).abs().clamp(min=1)
    return scores @ v


def recurrent_retention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, log_decay: torch.Tensor) -> torch.Tensor:
    """The same, one position at a time from a (dk x dv) state per head: the form of
    RetNet's O(1)-per-token inference. The running key sum and decay mass give the
    normalisations' row sums."""
    batch, heads, length, key_width = q.shape
    decay = torch.exp(log_decay)[:, None]  # (H, 1)
    state = q.new_zeros(batch, heads, key_width, v.shape[-1])
    key_sum = q.new_zeros(batch, heads, key_width)
    mass = q.new_zeros(heads, 1)  # sum of gamma^i over the row: D's row sum
    outputs = []
    for t in range(length):
        k_t, v_t = k[:, :, t], v[:, :, t]
        state = decay[..., None] * state + k_t[..., None] * v_t[..., None, :]
        key_sum = decay * key_sum + k_t
        mass = decay * mass + 1
        q_t = q[:, :, t]
        read = torch.einsum("bhk,bhkv->bhv", q_t, state) / mass.sqrt()
        row_sum = (q_t * key_sum).sum(dim=-1, keepdim=True).abs() / mass.sqrt()
        outputs.append(read / row_sum.clamp(min=1))
    return torch.stack(outputs, dim=2)


def rotate_pairs(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Channel pairs (x0, x1) of x (..., T, d) turned by each position's angles (T, d)."""
    turned = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
    return x * torch.cos(angles) + turned * torch.sin(angles)


class MultiScaleRetention(nn.Module):
    """Multi-scale retention on ``(B, T, d_model)``: ``heads`` heads of d_model / heads
    query and key channels (even: rotated in pairs) and 2 d_model / heads value channels."""

    frequencies: torch.Tensor  # buffers, (key width,) and (heads,)
    log_decay: torch.Tensor

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        if d_model % heads or (d_model // heads) % 2:
            raise ValueError(
                f"heads ({heads}) must divide d_model ({d_model}) into an even width per head "
                f"(queries and keys rotate in channel pairs)"
            )
        self.heads, self.key_width = heads, d_model // heads
        value_width = VALUE_EXPAND * d_model
        self.query, self.key = nn.Linear(d_model, d_model, bias=False), nn.Linear(d_model, d_model, bias=False)
        self.value, self.gate = nn.Linear(d_model, value_width, bias=False), nn.Linear(d_model, value_width, bias=False)
        self.out = nn.Linear(value_width, d_model, bias=False)
        self.group_norm = nn.GroupNorm(heads, value_width)
        for projection in (self.query, self.key, self.value, self.gate):  # torchscale's initialisation
            nn.init.xavier_uniform_(projection.weight, gain=2**-2.5)
        nn.init.xavier_uniform_(self.out.weight)
        frequencies = 1.0 / 10000 ** torch.linspace(0, 1, self.key_width // 2)
        self.register_buffer("frequencies", frequencies.repeat_interleave(2), persistent=False)
        self.register_buffer("log_decay", head_log_decays(heads), persistent=False)

    def forward(self, x: torch.Tensor, recurrent: bool = False) -> torch.Tensor:
        """``recurrent``: the one-step-at-a-time form (for the tests; the same output)."""
        batch, length, _ = x.shape
        angles = torch.arange(length, device=x.device, dtype=torch.float32)[:, None] * self.frequencies

        def heads(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, length, self.heads, -1).transpose(1, 2)

        q = rotate_pairs(heads(self.query(x)), angles)
        k = rotate_pairs(heads(self.key(x)), angles) / math.sqrt(self.key_width)
        retention = recurrent_retention if recurrent else parallel_retention
        y = retention(q, k, heads(self.value(x)), self.log_decay)  # (B, H, T, dv)
        y = self.group_norm(y.transpose(1, 2).reshape(batch * length, -1)).view(batch, length, -1)
        return self.out(F.silu(self.gate(x)) * y)


def retnet_network(
    signature: Signature, task: Task, d_model: int, layers: int, heads: int, mlp_expand: int, readout: str
) -> CausalSequenceModel:
    return CausalSequenceModel(
        signature, task, lambda: MultiScaleRetention(d_model, heads), d_model, layers, mlp_expand, readout,
    )
