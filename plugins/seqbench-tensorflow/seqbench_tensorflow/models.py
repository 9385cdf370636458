"""The TensorFlow architectures: the shared declarations in ``seqbench.architectures``
(the same names, defaults and sizes as their seqbench-torch twins) on ``TFModel``.

No TensorFlow import here: these classes are read by ``seqbench models`` and by suite
validation; the networks (seqbench_tensorflow.networks) load when a point is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqbench.architectures import (
    AttentionArchitecture,
    GPAttentionArchitecture,
    GRUSeq2SeqArchitecture,
    LSTMArchitecture,
    TransformerArchitecture,
)
from seqbench_tensorflow.base import TFModel

__all__ = ["TFLSTM", "TFAttention", "TFGRUSeq2Seq", "TFTransformer", "TFGPAttention", "TFOracle"]


@dataclass
class TFLSTM(LSTMArchitecture, TFModel):
    name = "tf:lstm"
    network = "recurrent:LSTMRegressor"


@dataclass
class TFAttention(AttentionArchitecture, TFModel):
    name = "tf:attention"
    network = "attention:CausalAttention"


@dataclass
class TFGRUSeq2Seq(GRUSeq2SeqArchitecture, TFModel):
    name = "tf:gru-seq2seq"
    network = "seq2seq:GRUSeq2Seq"


@dataclass
class TFTransformer(TransformerArchitecture, TFModel):
    name = "tf:transformer"
    network = "transformer:Seq2SeqTransformer"


@dataclass
class TFGPAttention(GPAttentionArchitecture, TFModel):
    name = "tf:gp-attention"
    network = "gp_attention:GPAttention"


@dataclass
class TFOracle(TFModel):
    name = "tf:oracle"
    description = (
        "the exact answer as a non-trainable TensorFlow graph where the task has a closed form "
        "(adding, as Batuketa's perfect model; gp-pairs), else the task's exact solve"
    )
    network = "oracle:TFOracle"
    serves_every_task = True
    # Nothing is trained: the optimiser settings have nothing to act on.
    ignores = frozenset({"lr", "optimizer", "weight_decay", "clip"})
