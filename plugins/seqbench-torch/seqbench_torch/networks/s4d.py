"""``torch:s4d``: the diagonal state-space model S4D.

Gu, Gupta, Goel & Ré, "On the Parameterization and Initialization of Diagonal State
Space Models" (NeurIPS 2022), following the minimal ``s4d.py`` of the state-spaces
repository: per channel, ``state // 2`` complex modes with S4D-Lin initialisation
(A = -1/2 + i*pi*n), zero-order-hold discretisation with a learned step (log-uniform
in [dt_min, dt_max]), the kernel K = 2 Re(sum_n C_n (exp(dt A_n) - 1) / A_n exp(dt A_n l))
applied as a causal convolution by FFT, a skip D, GELU and a GLU output projection.
The kernel is the same at every position: a linear *time-invariant* system, which is
what Gu & Dao (2023) show cannot select tokens by content (selective copying).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.causal import CausalSequenceModel

__all__ = ["S4D", "s4d_network", "fft_causal_conv"]


def fft_causal_conv(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y[..., t] = sum_{s <= t} kernel[..., s] u[..., t - s]`` for u (B, H, L), kernel
    (H, L), by FFT padded to 2L (no wrap-around)."""
    length = u.shape[-1]
    size = 2 * length
    y = torch.fft.irfft(torch.fft.rfft(u.float(), n=size) * torch.fft.rfft(kernel.float(), n=size), n=size)
    return y[..., :length].to(u.dtype)


class S4D(nn.Module):
    """One S4D layer on (B, L, H)."""

    uncounted = "S4D's FFT convolution (about 5 x 2L log2(2L) FLOPs per channel, per FFT)"

    def __init__(self, d_model: int, state: int, dt_min: float = 1e-3, dt_max: float = 1e-1) -> None:
        super().__init__()
        modes = max(1, state // 2)
        log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.C = nn.Parameter(torch.view_as_real(torch.randn(d_model, modes, dtype=torch.cfloat)))
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(d_model, modes)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(modes, dtype=torch.float32).repeat(d_model, 1))
        self.D = nn.Parameter(torch.randn(d_model))
        self.activation = nn.GELU()
        self.output = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GLU(dim=-1))

    def kernel(self, length: int) -> torch.Tensor:
        """K (H, L) of the discretised system."""
        dt = torch.exp(self.log_dt)
        C = torch.view_as_complex(self.C)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dtA = A * dt[:, None]
        steps = torch.arange(length, device=dtA.device)
        C = C * (torch.exp(dtA) - 1.0) / A
        return 2 * torch.einsum("hn,hnl->hl", C, torch.exp(dtA[:, :, None] * steps)).real

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.transpose(1, 2)  # (B, H, L)
        y = fft_causal_conv(u, self.kernel(u.shape[-1])) + u * self.D[:, None]
        return self.output(self.activation(y).transpose(1, 2))


def s4d_network(
    signature: Signature, task: Task, d_model: int, layers: int, state: int, mlp_expand: int, readout: str
) -> CausalSequenceModel:
    return CausalSequenceModel(signature, task, lambda: S4D(d_model, state), d_model, layers, mlp_expand, readout)
