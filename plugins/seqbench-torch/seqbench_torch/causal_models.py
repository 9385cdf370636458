"""The causal token-sequence architectures (torch only; no TensorFlow twins yet).

Each is a ``TorchModel`` whose ``network`` names its factory by import path, exactly as
a third-party plugin's model would (docs/plugins.md, "Networks on seqbench-torch's
loop"). No torch import here. Defaults are small CPU sizes; the papers' sizes are in
each network module's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqbench import param
from seqbench.architectures import MAX_LAYERS, MAX_WIDTH
from seqbench.settings import RunSettings
from seqbench.task import Task
from seqbench_torch.base import TorchModel

__all__ = [
    "TorchS4D", "TorchMamba", "TorchLinearAttention", "TorchHyena", "TorchCausalTransformer", "TorchRWKV",
    "TorchRetNet",
]

TOKENS_TOKENS = frozenset({("tokens", "tokens")})
SMOKE = {"d_model": 16, "layers": 1}


@dataclass
class CausalArchitecture(TorchModel):
    """What every causal stack declares: width, depth, MLP and where the answer is read."""

    serves = TOKENS_TOKENS
    smoke = SMOKE

    d_model: int = param(64, min=1, max=MAX_WIDTH, help="model width")
    layers: int = param(2, min=1, max=MAX_LAYERS, help="residual blocks (mixer + MLP)")
    mlp_expand: int = param(2, min=0, max=MAX_LAYERS, help="MLP width as a multiple of d_model; 0: no MLP")
    readout: Literal["end", "last"] = param(
        "end",
        help="answer at target_length slots after the input (end), or at the input's own last "
        "target_length positions (last: the synthetic tasks' answer slots)",
    )

    def validate(self, task: Task, run: RunSettings) -> None:
        """Also refused up front: reading more answers at the input's end than it has
        positions (the network would refuse it when built, in every point)."""
        super().validate(task, run)
        signature = task.signature
        if self.readout == "last" and (signature.target_length or 0) > signature.input_length:
            raise ValueError(
                f"readout 'last' reads the answer at the input's last positions, but task "
                f"{task.name!r} has longer targets ({signature.target_length}) than inputs "
                f"({signature.input_length}); allowed here: readout = 'end'"
            )


@dataclass
class TorchS4D(CausalArchitecture):
    name = "torch:s4d"
    description = "diagonal state-space model S4D (Gu et al. 2022): a time-invariant long convolution by FFT"
    network = "seqbench_torch.networks.s4d:s4d_network"
    smoke = {**SMOKE, "state": 8}

    state: int = param(64, min=2, max=MAX_WIDTH, help="state size N per channel (N/2 complex modes)")


@dataclass
class TorchMamba(CausalArchitecture):
    name = "torch:mamba"
    description = "selective state-space model, Mamba's selective scan in plain torch (Gu & Dao 2023)"
    network = "seqbench_torch.networks.selective:mamba_network"
    smoke = {**SMOKE, "state": 4}

    mlp_expand: int = param(0, min=0, max=MAX_LAYERS, help="MLP width as a multiple of d_model; 0 (Mamba's): no MLP")
    state: int = param(16, min=1, max=MAX_WIDTH, help="state size N per channel")
    expand: int = param(2, min=1, max=MAX_LAYERS, help="inner width as a multiple of d_model")
    conv_width: int = param(4, min=1, max=MAX_WIDTH, help="short causal convolution width")
    chunk: int = param(8, min=1, max=MAX_WIDTH, help="positions scanned in parallel per chunk")


@dataclass
class TorchLinearAttention(CausalArchitecture):
    name = "torch:linear-attention"
    description = "causal linear attention, phi(x) = elu(x) + 1 (Katharopoulos et al. 2020)"
    network = "seqbench_torch.networks.linear_attention:linear_attention_network"
    smoke = {**SMOKE, "heads": 2}

    heads: int = param(4, min=1, max=MAX_WIDTH, help="heads (must divide d_model)")

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide d_model ({self.d_model})")


@dataclass
class TorchHyena(CausalArchitecture):
    name = "torch:hyena"
    description = "gated long convolution with an implicit filter, the Hyena operator of order 2 (Poli et al. 2023)"
    network = "seqbench_torch.networks.hyena:hyena_network"
    smoke = {**SMOKE, "filter_width": 8}

    filter_width: int = param(32, min=1, max=MAX_WIDTH, help="width of the implicit filter's MLP")
    bands: int = param(4, min=1, max=MAX_LAYERS, help="sine/cosine bands in the filter's position code")


@dataclass
class TorchCausalTransformer(CausalArchitecture):
    name = "torch:causal-transformer"
    description = "softmax attention in the same causal stack (decoder-only; the attention baseline)"
    network = "seqbench_torch.networks.causal:causal_transformer_network"
    smoke = {**SMOKE, "heads": 2}

    heads: int = param(4, min=1, max=MAX_WIDTH, help="heads (must divide d_model)")

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide d_model ({self.d_model})")


@dataclass
class TorchRWKV(CausalArchitecture):
    name = "torch:rwkv"
    description = (
        "RWKV-4 (Peng et al. 2023): token shift, time mixing by the WKV recurrence (a decay and a "
        "bonus per channel), channel mixing with squared ReLU"
    )
    network = "seqbench_torch.networks.rwkv:rwkv_network"
    smoke = {**SMOKE, "mlp_expand": 2}

    mlp_expand: int = param(
        4, min=0, max=MAX_LAYERS, help="channel-mixing width as a multiple of d_model (RWKV-4's 4); 0: none"
    )
    chunk: int = param(
        16, min=1, max=MAX_WIDTH,
        help="positions of the WKV computed at once (exact at any size; memory grows as batch x length x chunk x width)",
    )


@dataclass
class TorchRetNet(CausalArchitecture):
    name = "torch:retnet"
    description = (
        "RetNet's multi-scale retention (Sun et al. 2023): a decay per head, rotated queries and keys, "
        "group norm and a swish gate; the parallel form, quadratic in length"
    )
    network = "seqbench_torch.networks.retnet:retnet_network"
    smoke = {**SMOKE, "heads": 2}

    heads: int = param(4, min=1, max=MAX_WIDTH, help="heads (must divide d_model into an even width)")

    def __post_init__(self) -> None:
        if self.d_model % self.heads or (self.d_model // self.heads) % 2:
            raise ValueError(
                f"heads ({self.heads}) must divide d_model ({self.d_model}) into an even width per head "
                f"(queries and keys rotate in channel pairs)"
            )
