"""The TensorFlow architectures' hyper-parameters: the same names, defaults and sizes as
their seqbench-torch twins (the original experiments' settings).

No TensorFlow import here: these classes are read by ``seqbench models`` and by suite
validation; the networks (seqbench_tensorflow.networks) load when a point is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqbench import param
from seqbench_tensorflow.base import TFModel

__all__ = ["TFLSTM", "TFAttention", "TFGRUSeq2Seq", "TFTransformer", "TFGPAttention", "TFOracle"]

CONTINUOUS_SCALAR = frozenset({("continuous", "scalar")})
TOKENS_TOKENS = frozenset({("tokens", "tokens")})


@dataclass
class TFLSTM(TFModel):
    name = "tf:lstm"
    description = "LSTM with a linear head on its last output (the adding-problem LSTM, 100 cells)"
    serves = CONTINUOUS_SCALAR
    network = "recurrent:LSTMRegressor"

    hidden: int = param(100, min=1, help="LSTM cells")
    layers: int = param(1, min=1, help="stacked LSTM layers")
    dropout: float = param(0.0, min=0.0, max=0.99, help="dropout between stacked layers")


@dataclass
class TFAttention(TFModel):
    name = "tf:attention"
    description = "single-head self-attention with a causal mask; quadratic in length (Batuketa)"
    serves = CONTINUOUS_SCALAR
    network = "attention:CausalAttention"

    d_model: int = param(64, min=1, help="width of the query, key and value projections")
    hidden: int = param(64, min=1, help="width of the read-out layer")


@dataclass
class TFGRUSeq2Seq(TFModel):
    name = "tf:gru-seq2seq"
    description = "embedding + multi-layer GRU encoder/decoder with teacher forcing (subsequence)"
    serves = TOKENS_TOKENS
    network = "seq2seq:GRUSeq2Seq"
    smoke = {"emb_dim": 16, "hidden": 32, "layers": 1}

    emb_dim: int = param(128, min=1, help="token embedding width")
    hidden: int = param(256, min=1, help="GRU hidden width (encoder and decoder)")
    layers: int = param(3, min=1, help="GRU layers (encoder and decoder)")
    dropout: float = param(0.5, min=0.0, max=0.99, help="dropout on embeddings and between layers")
    teacher_forcing: float = param(
        0.5, min=0.0, max=1.0, help="chance of feeding the true previous token while training"
    )
    init_scale: float = param(0.08, min=0.0, help="weights start uniform in [-init_scale, init_scale]")


@dataclass
class TFTransformer(TFModel):
    name = "tf:transformer"
    description = "encoder-decoder Transformer, greedy decoding at evaluation (polynomial expansion)"
    serves = TOKENS_TOKENS
    network = "transformer:Seq2SeqTransformer"
    smoke = {"hidden": 32, "enc_layers": 1, "dec_layers": 1, "heads": 2, "ff_dim": 64}

    hidden: int = param(256, min=1, help="model width")
    enc_layers: int = param(3, min=1, help="encoder layers")
    dec_layers: int = param(3, min=1, help="decoder layers")
    heads: int = param(8, min=1, help="attention heads (must divide hidden)")
    ff_dim: int = param(512, min=1, help="position-wise feed-forward width")
    dropout: float = param(0.1, min=0.0, max=0.99, help="dropout")

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide hidden ({self.hidden})")


@dataclass
class TFGPAttention(TFModel):
    name = "tf:gp-attention"
    description = "attention over the observed points; a mean and a variance per target position"
    serves = frozenset({("continuous", "gaussian")})
    network = "gp_attention:GPAttention"
    smoke = {"d_model": 16, "layers": 1, "heads": 2, "ff_dim": 32}

    d_model: int = param(64, min=1, help="embedding width")
    heads: int = param(4, min=1, help="attention heads (must divide d_model)")
    layers: int = param(2, min=1, help="attention layers")
    ff_dim: int = param(128, min=1, help="feed-forward width after attention")
    dropout: float = param(0.0, min=0.0, max=0.99, help="dropout")

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide d_model ({self.d_model})")


@dataclass
class TFOracle(TFModel):
    name = "tf:oracle"
    description = (
        "the exact answer as a non-trainable TensorFlow graph where the task has a closed form "
        "(adding, as Batuketa's perfect model; gp-pairs), else the task's exact solve"
    )
    network = "oracle:TFOracle"
    serves_every_task = True
