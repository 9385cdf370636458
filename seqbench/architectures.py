"""The architectures that framework plugins implement, as framework-free declarations.

Each class here is the hyper-parameters (names, defaults, bounds), the signatures it
serves, its smoke sizes and its description: everything a framework twin must share so
that torch:X and tf:X are the same model. A framework plugin combines one with its own
base, ``class TorchLSTM(LSTMArchitecture, TorchModel)``, and adds ``name`` and the
network that implements it. Defaults are the original experiments' settings, except
AttentionArchitecture's: its embedding, widths and last-position read-out are
seqbench's own, not Batuketa's network (torch:batuketa-attention is that one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqbench.params import param

__all__ = [
    "LSTMArchitecture",
    "AttentionArchitecture",
    "GRUSeq2SeqArchitecture",
    "TransformerArchitecture",
    "GPAttentionArchitecture",
    "MAX_WIDTH",
    "MAX_LAYERS",
]

# Bounds on every model's sizes: far past any model these tasks want (a width of 2**16
# is a 17-billion-weight LSTM layer), and refused up front, where hidden = 2**62 failed
# every point with a page of C++ allocator errors.
MAX_WIDTH = 2**16
MAX_LAYERS = 2**10

CONTINUOUS_SCALAR = frozenset({("continuous", "scalar")})
TOKENS_TOKENS = frozenset({("tokens", "tokens")})


@dataclass
class LSTMArchitecture:
    description = (
        "LSTM with a linear head on its last output (the adding-problem LSTM, 100 cells); on "
        "token tasks an embedding in, and a head at each answer position (the input's last)"
    )
    serves = CONTINUOUS_SCALAR | TOKENS_TOKENS
    smoke = {"hidden": 16}

    hidden: int = param(100, min=1, max=MAX_WIDTH, help="LSTM cells")
    layers: int = param(1, min=1, max=MAX_LAYERS, help="stacked LSTM layers")
    dropout: float = param(0.0, min=0.0, max=0.99, help="dropout between stacked layers")


@dataclass
class AttentionArchitecture:
    description = (
        "single-head self-attention with a causal mask after a linear embedding, an MLP read-out "
        "at the last position; quadratic in length (Batuketa's task, not its network: "
        "torch:batuketa-attention is that)"
    )
    serves = CONTINUOUS_SCALAR

    # seqbench's sizes, not the original's (Batuketa has no embedding and d_model 2).
    d_model: int = param(64, min=1, max=MAX_WIDTH, help="width of the query, key and value projections")
    hidden: int = param(64, min=1, max=MAX_WIDTH, help="width of the read-out layer")


@dataclass
class GRUSeq2SeqArchitecture:
    description = "embedding + multi-layer GRU encoder/decoder with teacher forcing (subsequence)"
    serves = TOKENS_TOKENS
    smoke = {"emb_dim": 16, "hidden": 32, "layers": 1}

    emb_dim: int = param(128, min=1, max=MAX_WIDTH, help="token embedding width")
    hidden: int = param(256, min=1, max=MAX_WIDTH, help="GRU hidden width (encoder and decoder)")
    layers: int = param(3, min=1, max=MAX_LAYERS, help="GRU layers (encoder and decoder)")
    dropout: float = param(0.5, min=0.0, max=0.99, help="dropout on embeddings and between layers")
    teacher_forcing: float = param(
        0.5, min=0.0, max=1.0, help="chance of feeding the true previous token while training"
    )
    init_scale: float = param(0.08, min=0.0, help="weights start uniform in [-init_scale, init_scale]")


@dataclass
class TransformerArchitecture:
    description = "encoder-decoder Transformer, greedy decoding at evaluation (polynomial expansion)"
    serves = TOKENS_TOKENS
    smoke = {"hidden": 32, "enc_layers": 1, "dec_layers": 1, "heads": 2, "ff_dim": 64}

    hidden: int = param(256, min=1, max=MAX_WIDTH, help="model width")
    enc_layers: int = param(3, min=1, max=MAX_LAYERS, help="encoder layers")
    dec_layers: int = param(3, min=1, max=MAX_LAYERS, help="decoder layers")
    heads: int = param(8, min=1, max=MAX_WIDTH, help="attention heads (must divide hidden)")
    ff_dim: int = param(512, min=1, max=MAX_WIDTH, help="position-wise feed-forward width")
    dropout: float = param(0.1, min=0.0, max=0.99, help="dropout")
    # Unset (not "learned") by default, so the points stored before it keep their hashes.
    positions: Literal["sinusoidal"] | None = param(
        None,
        help="unset: learned position tables sized by the task (the original's; no longer "
        "inputs); sinusoidal: Vaswani et al. 2017's, any length (as Delétang et al. 2023 test)",
    )

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide hidden ({self.hidden})")


@dataclass
class GPAttentionArchitecture:
    description = "attention over the observed points; a mean and a variance per target position"
    serves = frozenset({("continuous", "gaussian")})
    smoke = {"d_model": 16, "layers": 1, "heads": 2, "ff_dim": 32}

    d_model: int = param(64, min=1, max=MAX_WIDTH, help="embedding width")
    heads: int = param(4, min=1, max=MAX_WIDTH, help="attention heads (must divide d_model)")
    layers: int = param(2, min=1, max=MAX_LAYERS, help="attention layers")
    ff_dim: int = param(128, min=1, max=MAX_WIDTH, help="feed-forward width after attention")
    dropout: float = param(0.0, min=0.0, max=0.99, help="dropout")

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide d_model ({self.d_model})")
