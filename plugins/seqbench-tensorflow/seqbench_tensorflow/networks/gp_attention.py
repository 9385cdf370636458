"""``tf:gp-attention``: attention over GP sequence pairs, a mean and a variance per point
to infer; twin of the torch one.

Input per position (the gp-pairs layout): the grid coordinate x, A's value, B's value
where observed (else 0) and the observed mask. The coordinate is encoded by sinusoids
of learned frequencies, so attention scores can depend on the distance x_i - x_j (the
kernel's argument) rather than on raw x; the values and the mask are embedded linearly
and added. Self-attention layers without a causal mask see all of A and B's context.
Each position from ``context`` on reads out a mean and a variance (softplus plus a
small floor, so always positive): outputs (N, length - context, 2).

Nothing here is sized by the sequence length, so the model runs at any length.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seqbench.task import Signature, Task
from seqbench_tensorflow.networks.base import Network
from seqbench_tensorflow.networks.layers import EncoderLayer

__all__ = ["GPAttention", "MIN_VARIANCE"]

MIN_VARIANCE = 1e-4  # keeps the Gaussian NLL finite when a variance would collapse


class GPAttention(Network):
    def __init__(
        self,
        signature: Signature,
        task: Task,
        d_model: int,
        heads: int,
        layers: int,
        ff_dim: int,
        dropout: float,
    ) -> None:
        super().__init__()
        # Targets are the last target_length positions: B after its observed context.
        self.context = signature.input_length - signature.target_length
        self.coordinate = FourierFeatures(d_model, shortest=_spacing(task), longest=_span(task, signature))
        self.values = keras.layers.Dense(d_model)
        self.encoder = [EncoderLayer(d_model, heads, ff_dim, dropout) for _ in range(layers)]
        self.head = keras.layers.Dense(2)

    def call(self, inputs: tf.Tensor, targets: tf.Tensor | None = None, training: bool = False) -> tf.Tensor:
        embedded = self.coordinate(inputs[..., 0]) + self.values(inputs[..., 1:4])
        for layer in self.encoder:
            embedded = layer(embedded, training=training)
        mean_and_spread = tf.cast(self.head(embedded[:, self.context :]), tf.float32)
        mean, spread = mean_and_spread[..., 0], mean_and_spread[..., 1]
        return tf.stack([mean, tf.nn.softplus(spread) + MIN_VARIANCE], axis=-1)


class FourierFeatures(keras.layers.Layer):
    """sin and cos of learned frequencies times x, the frequencies starting log-spaced
    between one period over the whole sequence and two grid steps (Nyquist)."""

    def __init__(self, width: int, shortest: float, longest: float) -> None:
        super().__init__()
        count = max(width // 2, 1)
        periods = np.logspace(math.log10(longest), math.log10(2 * shortest), count)
        self.frequencies = self.add_weight(
            shape=(count,), initializer=keras.initializers.Constant(2 * math.pi / periods), name="frequencies"
        )
        self.mix = keras.layers.Dense(width)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        angles = x[..., None] * tf.cast(self.frequencies, x.dtype)
        return self.mix(tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1))


def _spacing(task: Task) -> float:
    """The grid step of the coordinate feature (gp-pairs' ``spacing``; 1 if unnamed)."""
    return float(getattr(task, "spacing", 1.0))


def _span(task: Task, signature: Signature) -> float:
    return max(_spacing(task) * signature.input_length, 2 * _spacing(task))
