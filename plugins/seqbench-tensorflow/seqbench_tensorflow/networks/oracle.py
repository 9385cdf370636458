"""``tf:oracle``: the exact answer as a fixed TensorFlow graph — the Batuketa "perfect
model", which was a TensorFlow graph — for tasks with a closed form here (adding,
gp-pairs); any other task's exact solve otherwise (the token tasks, whose answers are
not a tensor computation). Nothing is trainable."""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from seqbench.task import Signature, Task

__all__ = ["TFOracle", "GRAPHS"]


def _adding(task: Task) -> Callable[[tf.Tensor], tf.Tensor]:
    # float64 so the sum is exact for the stored float32 values, as the task's own is.
    @tf.function
    def graph(inputs: tf.Tensor) -> tf.Tensor:
        inputs = tf.cast(inputs, tf.float64)
        return tf.reduce_sum(inputs[..., 0] * inputs[..., 1], axis=1)

    return graph


def _gp_pairs(task: Task) -> Callable[[tf.Tensor], tf.Tensor]:
    """The exact Gaussian conditional of B's hidden points: a fixed linear map of the
    observed values (the task's own precomputed weights, offset and variance), in
    float64 like the task's solve. Another length (length generalisation) uses that
    length's conditional, from the task's own ``conditional_at``; the graph is traced
    once per length, with that length's constants in it."""
    graphs: dict[int, Callable[[tf.Tensor], tf.Tensor]] = {}

    def at_length(length: int) -> Callable[[tf.Tensor], tf.Tensor]:
        solved = task.conditional_at(length)
        weights, offset, variance = (tf.constant(a, tf.float64) for a in (solved.weights, solved.offset, solved.variance))

        @tf.function
        def graph(inputs: tf.Tensor) -> tf.Tensor:
            inputs = tf.cast(inputs, tf.float64)
            observed = tf.concat([inputs[..., 1], inputs[:, : task.context, 2]], axis=1)
            mean = offset + tf.matmul(observed, weights)
            return tf.stack([mean, tf.broadcast_to(variance, tf.shape(mean))], axis=-1)

        return graph

    def graph(inputs: tf.Tensor) -> tf.Tensor:
        length = int(inputs.shape[1])
        if length not in graphs:
            graphs[length] = at_length(length)
        return graphs[length](inputs)

    return graph


GRAPHS: dict[str, Callable[[Task], Callable[[tf.Tensor], tf.Tensor]]] = {
    "adding": _adding,
    "gp-pairs": _gp_pairs,
}


class TFOracle:
    """Not a Keras model: it has no weights, and ``trainable_variables`` is empty."""

    trainable_variables: list = []

    def __init__(self, signature: Signature, task: Task) -> None:
        self.task = task
        builder = GRAPHS.get(task.name)
        self.graph = builder(task) if builder is not None else None

    @property
    def is_graph(self) -> bool:
        return self.graph is not None

    def check_inputs(self, width: int) -> None:
        """Every width is fine: the task solves inputs of any length."""

    def __call__(self, inputs, targets=None, training: bool = False):
        return self.infer(inputs)

    def infer(self, inputs):
        if self.graph is not None:
            return self.graph(tf.convert_to_tensor(inputs))
        return tf.convert_to_tensor(np.asarray(self.task.solve(np.asarray(inputs))))
