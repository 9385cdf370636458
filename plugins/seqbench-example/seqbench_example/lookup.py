"""The ``numpy:lookup`` model: each output position copies one input position through a
token table, both chosen by counting the training examples."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqbench import FitSettings, Model, Task, param
from seqbench.model import EpochCallback
from seqbench.settings import RunSettings

MAX_TABLE_CELLS = 2**27  # int64 counts: 1 GiB


@dataclass
class PositionLookup(Model):
    name = "numpy:lookup"
    description = "each output token looked up from one input position; one counting pass"
    framework = "numpy"
    serves = frozenset({("tokens", "tokens")})

    max_examples: int | None = param(None, min=1, help="count at most this many examples")

    def validate(self, task: Task, run: RunSettings) -> None:
        # The count table has a cell per (output position, input position, input
        # token, output token): at associative-recall's defaults, 275 GB. Refused here,
        # before any point runs, rather than as a MemoryError in every one.
        signature = task.signature
        cells = math.prod((signature.target_length, signature.input_length,
                           signature.input_vocab or 0, signature.target_vocab or 0))
        if cells > MAX_TABLE_CELLS:
            raise ValueError(
                f"its count table would hold {cells:,} cells (target length x input length x "
                f"input vocabulary x target vocabulary); allowed: at most {MAX_TABLE_CELLS:,} "
                "(1 GiB of counts): shorter sequences or smaller vocabularies"
            )

    def build(self, task: Task, settings: FitSettings) -> None:
        signature = task.signature
        # counts[j, i, v, w]: how often target position j held token w when input
        # position i held token v.
        self._shape = (
            signature.target_length,
            signature.input_length,
            signature.input_vocab,
            signature.target_vocab,
        )
        self._source: np.ndarray | None = None  # input position each output copies
        self._table: np.ndarray | None = None  # [output position, input token] -> token

    def fit(self, train, settings: FitSettings, on_epoch: EpochCallback) -> None:
        outputs, positions, in_vocab, out_vocab = self._shape
        counts = np.zeros(np.prod(self._shape), dtype=np.int64)
        j = np.arange(outputs)[:, None]
        i = np.arange(positions)[None, :]
        seen = 0
        for batch in train.batches(settings.batch_size):
            if self.max_examples is not None and seen >= self.max_examples:
                break
            inputs, targets = batch.inputs, batch.targets
            # One flat index per (example, j, i): counted with a single bincount.
            cell = ((j * positions + i) * in_vocab + inputs[:, None, :]) * out_vocab
            cell = cell + targets[:, :, None]
            counts += np.bincount(cell.ravel(), minlength=counts.size)
            seen += len(batch)
        counts = counts.reshape(self._shape)
        # Training examples each (j, i) pair gets right when it predicts the most
        # frequent target token for every input token.
        right = counts.max(axis=3).sum(axis=2)
        self._source = right.argmax(axis=1)
        self._table = counts[np.arange(outputs), self._source].argmax(axis=2)
        accuracy = right.max(axis=1).sum() / (outputs * seen)
        # One pass is the whole training: report it as one epoch, token error as loss.
        on_epoch(1, float(1.0 - accuracy), seen)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        if self._table is None:
            raise RuntimeError("numpy:lookup predicted before it was fitted")
        columns = np.asarray(inputs)[:, self._source]  # (examples, outputs)
        return self._table[np.arange(len(self._source)), columns]
