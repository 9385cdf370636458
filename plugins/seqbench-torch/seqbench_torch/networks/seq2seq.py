"""``torch:gru-seq2seq``: the "seq2seq shenanigans" GRU encoder-decoder.

An embedding and a multi-layer GRU read the input; a GRU decoder starts from the
encoder's final state and a start token (an extra embedding index, never a real token
id) and emits one token per step. While training, each step feeds back the true
previous token with probability ``teacher_forcing`` (one coin per step for the whole
batch, as in the original, drawn from torch's seeded generator) and else its own
greedy guess; ``predict`` always feeds back its own guesses, for the signature's
target length. Weights start uniform in [-init_scale, init_scale], as the original's.

Inputs are right-padded with PAD_ID. The encoder reads each sequence only up to its
last non-PAD token (packed sequences), so an example's encoding does not depend on how
much padding its batch carries. A PAD id inside a sequence (the subsequence task's
start index 0) is a real token and is read.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from seqbench.task import Signature, Task
from seqbench_torch.networks.base import Network, pad_after_end, sequence_lengths

__all__ = ["GRUSeq2Seq"]


class GRUSeq2Seq(Network):
    def __init__(
        self,
        signature: Signature,
        task: Task,
        emb_dim: int,
        hidden: int,
        layers: int,
        dropout: float,
        teacher_forcing: float,
        init_scale: float,
    ) -> None:
        super().__init__()
        if signature.input_vocab is None or signature.target_vocab is None:
            raise ValueError("gru-seq2seq needs token inputs and targets with a vocabulary size")
        self.target_length = signature.target_length
        self.end_id = signature.end_id
        self.start_id = signature.target_vocab  # one past the real ids: never emitted
        self.teacher_forcing = teacher_forcing
        between = dropout if layers > 1 else 0.0
        self.source_embedding = nn.Embedding(signature.input_vocab, emb_dim)
        self.encoder = nn.GRU(emb_dim, hidden, layers, batch_first=True, dropout=between)
        self.target_embedding = nn.Embedding(signature.target_vocab + 1, emb_dim)
        self.decoder = nn.GRU(emb_dim, hidden, layers, batch_first=True, dropout=between)
        self.head = nn.Linear(hidden, signature.target_vocab)
        self.dropout = nn.Dropout(dropout)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -init_scale, init_scale)

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        """The encoder's final state (layers, N, hidden), reading each row to its end."""
        embedded = self.dropout(self.source_embedding(inputs))
        lengths = sequence_lengths(inputs).cpu()
        if bool((lengths == inputs.shape[1]).all()):
            _, state = self.encoder(embedded)  # no padding: packing would only cost time
            return state
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        _, state = self.encoder(packed)
        return state

    def _step(self, previous: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = self.dropout(self.target_embedding(previous)).unsqueeze(1)
        output, state = self.decoder(embedded, state)
        return self.head(output.squeeze(1)), state

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (N, T, target_vocab); T is the targets' length, else the signature's.
        Without targets (or outside training) every step feeds back its own guess."""
        state = self.encode(inputs)
        steps = targets.shape[1] if targets is not None else self.target_length
        previous = torch.full((len(inputs),), self.start_id, dtype=torch.long, device=inputs.device)
        forcing = self.training and targets is not None and self.teacher_forcing > 0
        logits = []
        for step in range(steps):
            scores, state = self._step(previous, state)
            logits.append(scores)
            previous = scores.argmax(dim=1)
            if forcing and torch.rand(()).item() < self.teacher_forcing:
                previous = targets[:, step]
        return torch.stack(logits, dim=1)

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        """Greedy ids (N, target_length), never teacher-forced; PAD after ``end_id``."""
        return pad_after_end(self(inputs).argmax(dim=2), self.end_id)
