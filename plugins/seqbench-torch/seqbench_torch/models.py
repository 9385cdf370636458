"""The torch architectures: the shared declarations in ``seqbench.architectures`` (the
original experiments' settings, identical for every framework) on ``TorchModel``.

No torch import here: these classes are read by ``seqbench models`` and by suite
validation; the networks (seqbench_torch.networks) load when a point is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqbench.architectures import (
    CONTINUOUS_SCALAR,
    AttentionArchitecture,
    GPAttentionArchitecture,
    GRUSeq2SeqArchitecture,
    LSTMArchitecture,
    TransformerArchitecture,
)
from seqbench.settings import RunSettings
from seqbench.task import Task
from seqbench_torch.base import TorchModel

__all__ = [
    "TorchLSTM",
    "TorchAttention",
    "TorchBatuketaAttention",
    "TorchGRUSeq2Seq",
    "TorchTransformer",
    "TorchGPAttention",
    "TorchOracle",
]


@dataclass
class TorchLSTM(LSTMArchitecture, TorchModel):
    name = "torch:lstm"
    network = "seqbench_torch.networks.recurrent:LSTMRegressor"


@dataclass
class TorchAttention(AttentionArchitecture, TorchModel):
    name = "torch:attention"
    network = "seqbench_torch.networks.attention:CausalAttention"


@dataclass
class TorchBatuketaAttention(TorchModel):
    """Batuketa's own network (gbordyugov/batuketa, ``batuketa/models.py``), torch only
    (no shared declaration, no TensorFlow twin yet). It has no size to set: the width is
    the input's features (2 on adding) and the read-out is sized by the task's length."""

    name = "torch:batuketa-attention"
    description = (
        "Batuketa's network as published: no embedding, single-head causal attention at the "
        "input's width (2), all T outputs flattened into one linear unit; 2T + 19 weights "
        "(219 at T = 100); tested at its training length only"
    )
    serves = CONTINUOUS_SCALAR
    network = "seqbench_torch.networks.attention:BatuketaAttention"

    def validate(self, task: Task, run: RunSettings) -> None:
        """Also refused up front: testing at other lengths (run.eval_lengths), which a
        read-out with a weight per position cannot read (every such length would fail)."""
        super().validate(task, run)
        trained = getattr(task, task.length_param) if task.length_param else None
        others = sorted({length for length in run.eval_lengths or () if length != trained})
        if others:
            raise ValueError(
                f"torch:batuketa-attention's read-out has a weight per position, sized for the "
                f"training length {trained}; it cannot be tested at {others}; allowed: "
                f"run.eval_lengths unset or [{trained}]"
            )


@dataclass
class TorchGRUSeq2Seq(GRUSeq2SeqArchitecture, TorchModel):
    name = "torch:gru-seq2seq"
    network = "seqbench_torch.networks.seq2seq:GRUSeq2Seq"


@dataclass
class TorchTransformer(TransformerArchitecture, TorchModel):
    name = "torch:transformer"
    network = "seqbench_torch.networks.transformer:Seq2SeqTransformer"


@dataclass
class TorchGPAttention(GPAttentionArchitecture, TorchModel):
    name = "torch:gp-attention"
    network = "seqbench_torch.networks.gp_attention:GPAttention"


@dataclass
class TorchOracle(TorchModel):
    name = "torch:oracle"
    description = (
        "the exact answer as a non-trainable torch graph where the task has a closed form "
        "(adding, as Batuketa's perfect model), else the task's exact solve"
    )
    network = "seqbench_torch.networks.oracle:TorchOracle"
    serves_every_task = True
    # Nothing is trained: the optimiser settings have nothing to act on.
    ignores = frozenset({"lr", "optimizer", "weight_decay", "clip"})

    def flops(self, inputs: np.ndarray, targets: np.ndarray) -> dict[str, Any] | None:
        """Counted where the answer is a torch graph (nothing trained: 0 per training
        example); None (unknown) where it is the task's NumPy solve, work no torch
        counter sees, which a 0 would misreport as free."""
        if not self._trainer.network.is_graph:
            return None
        return super().flops(inputs, targets)

    def predict_flops(self, inputs: np.ndarray) -> float | None:
        if not self._trainer.network.is_graph:
            return None
        return super().predict_flops(inputs)
