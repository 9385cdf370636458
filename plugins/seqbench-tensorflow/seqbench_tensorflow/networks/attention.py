"""``tf:attention``: single-head self-attention with a causal (history) mask, as in the
Batuketa experiment. The last position, which may attend to every earlier one, reads
out the answer. The attention matrix is T x T: quadratic in the length, as the torch
twin's ``scaled_dot_product_attention`` is."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from seqbench.task import Signature, Task
from seqbench_tensorflow.networks.base import Network

__all__ = ["CausalAttention", "causal_attention"]


def causal_attention(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor) -> tf.Tensor:
    """softmax(q k^T / sqrt(d)) v, each position attending only to itself and the past."""
    length = tf.shape(query)[1]
    scores = tf.matmul(query, key, transpose_b=True) / math.sqrt(query.shape[-1])
    future = tf.linalg.band_part(tf.ones((length, length), tf.bool), 0, -1) & ~tf.eye(length, dtype=tf.bool)
    scores = tf.where(future, tf.constant(scores.dtype.min, scores.dtype), scores)
    return tf.matmul(tf.nn.softmax(scores, axis=-1), value)


class CausalAttention(Network):
    def __init__(self, signature: Signature, task: Task, d_model: int, hidden: int) -> None:
        super().__init__()
        self.embed = keras.layers.Dense(d_model)
        self.query = keras.layers.Dense(d_model)
        self.key = keras.layers.Dense(d_model)
        self.value = keras.layers.Dense(d_model)
        self.head = keras.Sequential([keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(1)])

    def call(self, inputs: tf.Tensor, targets: tf.Tensor | None = None, training: bool = False) -> tf.Tensor:
        embedded = self.embed(inputs)
        attended = causal_attention(self.query(embedded), self.key(embedded), self.value(embedded))
        return tf.squeeze(self.head(attended[:, -1]), axis=-1)
