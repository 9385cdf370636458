"""``tf:lstm``: an LSTM whose last output feeds a linear head (the adding-problem LSTM).

On token tasks an embedding (``hidden`` wide) feeds the LSTM, and a linear head over
the target vocabulary reads its output at each answer position: the input's last
``target_length`` non-PAD positions, as the torch twin reads them.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seqbench.task import Signature, Task
from seqbench_tensorflow.networks.base import Network, sequence_lengths

__all__ = ["LSTMRegressor"]


class LSTMRegressor(Network):
    def __init__(self, signature: Signature, task: Task, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        tokens = signature.inputs == "tokens"
        self.embedding = keras.layers.Embedding(signature.input_vocab, hidden) if tokens else None
        self.answers = signature.target_length if signature.targets == "tokens" else None
        # As torch.nn.LSTM(num_layers, dropout): every layer but the last hands on its
        # whole sequence through dropout; only the last layer's last output is read
        # (on token tasks, its outputs at the answer positions).
        whole = self.answers is not None
        self.lstms = [
            keras.layers.LSTM(hidden, return_sequences=whole or index < layers - 1) for index in range(layers)
        ]
        self.between = [keras.layers.Dropout(dropout) for _ in range(layers - 1)]
        self.head = keras.layers.Dense(signature.target_vocab if whole else 1)

    def call(self, inputs: tf.Tensor, targets: tf.Tensor | None = None, training: bool = False) -> tf.Tensor:
        hidden = self.embedding(inputs) if self.embedding is not None else inputs
        for index, lstm in enumerate(self.lstms):
            hidden = lstm(hidden, training=training)
            if index < len(self.between):
                hidden = self.between[index](hidden, training=training)
        if self.answers is None:
            return tf.squeeze(self.head(hidden), axis=-1)
        last = sequence_lengths(inputs)[:, None] - self.answers + tf.range(self.answers)[None, :]
        return self.head(tf.gather(hidden, tf.maximum(last, 0), batch_dims=1))

    def infer(self, inputs: tf.Tensor) -> tf.Tensor:
        outputs = self(inputs, training=False)
        return outputs if self.answers is None else tf.argmax(outputs, axis=-1, output_type=tf.int32)
