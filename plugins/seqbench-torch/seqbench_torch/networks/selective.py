"""``torch:mamba``: the selective state-space model (Mamba's selective scan, "S6").

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (2023),
Algorithm 2 and the Mamba block (their Figure 3), in plain PyTorch: an input projection
to two branches; on one a short causal depthwise convolution, SiLU, and the selective
SSM whose step dt, input matrix B and output matrix C are *functions of the input*
(dt = softplus(Linear(x)), B = Linear(x), C = Linear(x); A = -exp(A_log) with S4D-Real
initialisation A_n = -(n + 1)); the other branch gates it through SiLU; an output
projection. Because dt, B and C change with each token, the state can ignore noise
tokens and keep data tokens: what selective copying needs and a time-invariant SSM
(S4D) cannot do.

The scan runs in chunks of ``chunk`` positions, each in parallel (cumulative sums of
the log-decays), the state carried from chunk to chunk: ``chunk`` Python steps fewer
than a loop over positions, memory O(batch x length x d_inner x state). Inside a chunk
the decays are exp(cum_t - cum_s) computed as exp(cum_t) * exp(-cum_s); to keep
exp(-cum_s) finite in float32, each step's log-decay is floored at -60 / chunk (a
decay of at most exp(-7.5) ~ 6e-4 per step for chunk 8, i.e. "forget now" either way).
``sequential_scan`` is the one-position-at-a-time reference the tests compare with.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.causal import CausalSequenceModel, causal_depthwise_conv

__all__ = ["SelectiveSSM", "mamba_network", "selective_scan", "sequential_scan"]

LOG_DECAY_BUDGET = 60.0  # the most -cum may reach within a chunk; exp(60) ~ 1e26 < float32 max


def selective_scan(
    x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, chunk: int
) -> torch.Tensor:
    """y_t = C_t h_t, h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t, for x, dt (b, L, d),
    A (d, n), B, C (b, L, n); returns y (b, L, d)."""
    batch, length, channels = x.shape
    state = x.new_zeros(batch, channels, A.shape[1])
    outputs = []
    floor = -LOG_DECAY_BUDGET / chunk
    for start in range(0, length, chunk):
        part = slice(start, start + chunk)
        step = dt[:, part, :, None]  # (b, c, d, 1)
        log_decay = (step * A).clamp(min=floor)  # (b, c, d, n), <= 0
        cum = torch.cumsum(log_decay, dim=1)
        drive = (step * x[:, part, :, None]) * B[:, part, None, :]  # dt_s x_s B_s
        inside = torch.cumsum(torch.exp(-cum) * drive, dim=1)
        states = torch.exp(cum) * (state[:, None] + inside)  # (b, c, d, n)
        outputs.append(torch.einsum("bcdn,bcn->bcd", states, C[:, part]))
        state = states[:, -1]
    return torch.cat(outputs, dim=1)


def sequential_scan(x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """The same recurrence one position at a time (the reference)."""
    state = x.new_zeros(x.shape[0], x.shape[2], A.shape[1])
    outputs = []
    for t in range(x.shape[1]):
        state = torch.exp(dt[:, t, :, None] * A) * state + dt[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
        outputs.append(torch.einsum("bdn,bn->bd", state, C[:, t]))
    return torch.stack(outputs, dim=1)


class SelectiveSSM(nn.Module):
    """One Mamba block on (B, L, d_model)."""

    uncounted = "the selective scan's state updates (dt x B outer products, decays, cumulative sums)"

    def __init__(
        self, d_model: int, state: int, expand: int, conv_width: int, chunk: int,
        dt_min: float = 1e-3, dt_max: float = 1e-1,
    ) -> None:
        super().__init__()
        inner = expand * d_model
        self.inner, self.state, self.chunk = inner, state, chunk
        self.dt_rank = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * inner)
        self.conv = causal_depthwise_conv(inner, conv_width)
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner)
        # dt starts log-uniform in [dt_min, dt_max]: the bias is softplus's inverse of it.
        dt = torch.exp(torch.rand(inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, d_model)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        length = u.shape[1]
        x, z = self.in_proj(u).chunk(2, dim=-1)
        x = F.silu(self.conv(x.transpose(1, 2))[..., :length].transpose(1, 2))
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.state, self.state], dim=-1)
        dt = F.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log.float())
        y = selective_scan(x, dt, A, B, C, self.chunk) + x * self.D
        return self.out_proj(y * F.silu(z))


def mamba_network(
    signature: Signature, task: Task, d_model: int, layers: int, state: int, expand: int,
    conv_width: int, chunk: int, mlp_expand: int, readout: str,
) -> CausalSequenceModel:
    return CausalSequenceModel(
        signature, task, lambda: SelectiveSSM(d_model, state, expand, conv_width, chunk),
        d_model, layers, mlp_expand, readout,
    )
