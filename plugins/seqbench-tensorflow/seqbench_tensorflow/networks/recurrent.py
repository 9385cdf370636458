"""``tf:lstm``: an LSTM whose last output feeds a linear head (the adding-problem LSTM)."""

from __future__ import annotations

import keras
import tensorflow as tf

from seqbench.task import Signature, Task
from seqbench_tensorflow.networks.base import Network

__all__ = ["LSTMRegressor"]


class LSTMRegressor(Network):
    def __init__(self, signature: Signature, task: Task, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        # As torch.nn.LSTM(num_layers, dropout): every layer but the last hands on its
        # whole sequence through dropout; only the last layer's last output is read.
        self.lstms = [keras.layers.LSTM(hidden, return_sequences=index < layers - 1) for index in range(layers)]
        self.between = [keras.layers.Dropout(dropout) for _ in range(layers - 1)]
        self.head = keras.layers.Dense(1)

    def call(self, inputs: tf.Tensor, targets: tf.Tensor | None = None, training: bool = False) -> tf.Tensor:
        hidden = inputs
        for index, lstm in enumerate(self.lstms):
            hidden = lstm(hidden, training=training)
            if index < len(self.between):
                hidden = self.between[index](hidden, training=training)
        return tf.squeeze(self.head(hidden), axis=-1)
