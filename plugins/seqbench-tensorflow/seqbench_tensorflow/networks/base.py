"""What every network shares."""

from __future__ import annotations

import keras
import tensorflow as tf

from seqbench.task import PAD_ID

__all__ = ["Network", "sequence_lengths", "pad_after_end"]


class Network(keras.Model):
    """``infer`` defaults to the forward pass without targets; sequence decoders override it.

    ``check_inputs`` sees each evaluation batch before the graph runs, so a network can
    refuse what it cannot handle with a clear error (a graph can only fail obscurely).
    """

    def infer(self, inputs: tf.Tensor) -> tf.Tensor:
        return self(inputs, training=False)

    def check_inputs(self, width: int) -> None:
        """Raise ValueError for inputs of ``width`` positions this network cannot read."""


def sequence_lengths(tokens: tf.Tensor) -> tf.Tensor:
    """Each row's length up to and including its last non-PAD token (at least 1)."""
    positions = tf.range(1, tf.shape(tokens)[1] + 1)
    used = tf.cast(tokens != PAD_ID, positions.dtype) * positions
    return tf.maximum(tf.reduce_max(used, axis=1), 1)


def pad_after_end(ids: tf.Tensor, end_id: int | None) -> tf.Tensor:
    """``ids`` with every token after a row's first ``end_id`` replaced by PAD_ID."""
    if end_id is None:
        return ids
    is_end = tf.cast(ids == end_id, tf.int32)
    after = (tf.cumsum(is_end, axis=1) - is_end) > 0  # strictly after the first end
    return tf.where(after, tf.cast(PAD_ID, ids.dtype), ids)
