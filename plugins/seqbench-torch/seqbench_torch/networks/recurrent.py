"""``torch:lstm``: an LSTM whose last output feeds a linear head (the adding-problem LSTM).

On token tasks an embedding (``hidden`` wide) feeds the LSTM, and a linear head over
the target vocabulary reads its output at each answer position: the input's last
``target_length`` non-PAD positions, as Delétang et al. 2023 read their recurrent
networks. The LSTM is causal, so the PAD that follows a shorter row changes nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.base import Network, answer_states

__all__ = ["LSTMRegressor"]


class LSTMRegressor(Network):
    def __init__(self, signature: Signature, task: Task, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        tokens = signature.inputs == "tokens"
        self.embedding = nn.Embedding(signature.input_vocab, hidden) if tokens else None
        self.lstm = nn.LSTM(
            hidden if tokens else signature.input_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.answers = signature.target_length if signature.targets == "tokens" else None
        self.head = nn.Linear(hidden, signature.target_vocab if self.answers else 1)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """The regression (N,); on token tasks logits (N, target_length, target_vocab)."""
        embedded = self.embedding(inputs) if self.embedding is not None else inputs
        outputs, _ = self.lstm(embedded)
        if self.answers is None:
            return self.head(outputs[:, -1]).squeeze(-1)
        return self.head(answer_states(outputs, inputs, self.answers))

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs = self(inputs)
        return outputs if self.answers is None else outputs.argmax(dim=-1)
