"""Transformer layers as torch.nn.TransformerEncoderLayer / DecoderLayer compute them by
default (post-norm, ReLU feed-forward, layer-norm epsilon 1e-5, dropout on the attention
weights and on each sub-layer's output), so the twins have the same layers and sizes.
Keras ships no such layers (they live in KerasHub, which seqbench does not need)."""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["EncoderLayer", "DecoderLayer", "attend_to", "LAYER_NORM_EPSILON"]

LAYER_NORM_EPSILON = 1e-5  # torch's default; Keras' is 1e-3


def attend_to(keep: tf.Tensor, queries: int | tf.Tensor) -> tf.Tensor:
    """An attention mask (N, queries, keys) from the keys to attend to, ``keep`` (N, keys)."""
    shape = tf.stack([tf.shape(keep)[0], queries, tf.shape(keep)[1]])
    return tf.broadcast_to(keep[:, None, :], shape)


def _feed_forward(hidden: int, ff_dim: int, dropout: float) -> keras.Sequential:
    return keras.Sequential(
        [keras.layers.Dense(ff_dim, activation="relu"), keras.layers.Dropout(dropout), keras.layers.Dense(hidden)]
    )


class EncoderLayer(keras.layers.Layer):
    def __init__(self, hidden: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.attention = keras.layers.MultiHeadAttention(heads, hidden // heads, dropout=dropout)
        self.feed_forward = _feed_forward(hidden, ff_dim, dropout)
        self.norms = [keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON) for _ in range(2)]
        self.dropouts = [keras.layers.Dropout(dropout) for _ in range(2)]

    def call(self, x: tf.Tensor, attention_mask: tf.Tensor | None = None, training: bool = False) -> tf.Tensor:
        attended = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.norms[0](x + self.dropouts[0](attended, training=training))
        fed = self.feed_forward(x, training=training)
        return self.norms[1](x + self.dropouts[1](fed, training=training))


class DecoderLayer(keras.layers.Layer):
    def __init__(self, hidden: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attention = keras.layers.MultiHeadAttention(heads, hidden // heads, dropout=dropout)
        self.cross_attention = keras.layers.MultiHeadAttention(heads, hidden // heads, dropout=dropout)
        self.feed_forward = _feed_forward(hidden, ff_dim, dropout)
        self.norms = [keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON) for _ in range(3)]
        self.dropouts = [keras.layers.Dropout(dropout) for _ in range(3)]

    def call(self, x: tf.Tensor, memory: tf.Tensor, memory_mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        attended = self.self_attention(x, x, use_causal_mask=True, training=training)
        x = self.norms[0](x + self.dropouts[0](attended, training=training))
        attended = self.cross_attention(x, memory, attention_mask=memory_mask, training=training)
        x = self.norms[1](x + self.dropouts[1](attended, training=training))
        fed = self.feed_forward(x, training=training)
        return self.norms[2](x + self.dropouts[2](fed, training=training))
