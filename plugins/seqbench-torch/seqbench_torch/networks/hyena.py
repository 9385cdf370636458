"""``torch:hyena``: a gated long convolution (the Hyena operator, order 2).

Poli et al., "Hyena Hierarchy: Towards Larger Convolutional Language Models" (ICML
2023), building on H3 (Fu et al. 2023): three projections of the input (x0, x1, v),
each through a short causal depthwise convolution; then y = x0 * (h * (x1 * v)), where
``h`` is a causal convolution as long as the sequence, applied by FFT. The filter is
*implicit*: a small MLP with sine activations maps a position code of t to one value
per channel, times an exponential decay window exp(-a_c t / L0) (a per channel,
spread between fast and slow), so it is defined at any length. Positions are
normalised by L0, the length the model was built for (input, plus answer slots for readout "end"); longer
sequences extrapolate the code beyond 1. The filter is the same for every input: data
enter only through the gates x0, x1, which is what Arora et al. (2023) find makes
such models need width that grows with the number of key-value pairs to recall.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.causal import CausalSequenceModel, causal_depthwise_conv
from seqbench_torch.networks.s4d import fft_causal_conv

__all__ = ["HyenaOperator", "hyena_network"]


class Sine(nn.Module):
    """sin(w x) with a learned frequency per feature (Hyena's filter activation)."""

    def __init__(self, width: int, frequency: float = 1.0) -> None:
        super().__init__()
        self.frequency = nn.Parameter(frequency * torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.frequency * x)


class ImplicitFilter(nn.Module):
    """h (channels, L) from an MLP on [t / L0, sin(2 pi k t / L0), cos(...)], k = 1..bands."""

    def __init__(self, channels: int, filter_width: int, bands: int, base_length: int) -> None:
        super().__init__()
        self.bands, self.base_length = bands, base_length
        features = 1 + 2 * bands
        self.mlp = nn.Sequential(
            nn.Linear(features, filter_width), Sine(filter_width),
            nn.Linear(filter_width, filter_width), Sine(filter_width),
            nn.Linear(filter_width, channels, bias=False),
        )
        # Hyena's modulation: decay rates spread so the window falls to 1e-2 between
        # 30% and 150% of the base length.
        target = math.log(1e-2)
        self.register_buffer("rates", torch.linspace(-target / 1.5, -target / 0.3, channels))

    def forward(self, length: int, device: torch.device) -> torch.Tensor:
        t = torch.arange(length, device=device, dtype=torch.float32)[:, None] / self.base_length
        k = torch.arange(1, self.bands + 1, device=device, dtype=torch.float32)
        code = torch.cat([t, torch.sin(2 * math.pi * k * t), torch.cos(2 * math.pi * k * t)], dim=1)
        h = self.mlp(code) * torch.exp(-t * self.rates)  # (L, channels)
        return h.transpose(0, 1)


class HyenaOperator(nn.Module):
    uncounted = "Hyena's FFT long convolution"

    def __init__(self, d_model: int, filter_width: int, bands: int, base_length: int, short_width: int = 3) -> None:
        super().__init__()
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.short = causal_depthwise_conv(3 * d_model, short_width)
        self.filter = ImplicitFilter(d_model, filter_width, bands, base_length)
        self.bias = nn.Parameter(torch.randn(d_model))  # the filter's skip term, as Hyena's
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        length = u.shape[1]
        projected = self.short(self.in_proj(u).transpose(1, 2))[..., :length]  # (B, 3d, L)
        x0, x1, v = projected.chunk(3, dim=1)
        v = v * x1
        v = fft_causal_conv(v, self.filter(length, u.device)) + v * self.bias[:, None]
        return self.out_proj((v * x0).transpose(1, 2))


def hyena_network(
    signature: Signature, task: Task, d_model: int, layers: int, filter_width: int, bands: int,
    mlp_expand: int, readout: str,
) -> CausalSequenceModel:
    base_length = signature.input_length + (signature.target_length if readout == "end" else 0)
    return CausalSequenceModel(
        signature, task, lambda: HyenaOperator(d_model, filter_width, bands, base_length),
        d_model, layers, mlp_expand, readout,
    )
