"""Loss and output conventions per target kind (see seqbench.task.Signature), as
seqbench-torch's objectives compute them."""

from __future__ import annotations

import math

import numpy as np

from seqbench.task import PAD_ID, Signature
from seqbench_tensorflow.runtime import import_tensorflow

tf = import_tensorflow()

__all__ = ["Objective", "objective_for"]

GAUSSIAN_NLL_EPS = 1e-6  # torch's gaussian_nll_loss floor on the variance
HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


class Objective:
    """How a network's outputs are scored during training and handed back as NumPy."""

    target_dtype = tf.float32

    def __init__(self, signature: Signature) -> None:
        self.signature = signature

    def loss(self, outputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def to_numpy(self, outputs: tf.Tensor) -> np.ndarray:
        # Straight to float64: a float32 detour would cost an exact graph its exactness.
        return tf.cast(outputs, tf.float64).numpy()


class ScalarObjective(Objective):
    """Outputs (N,): squared error."""

    def loss(self, outputs, targets):
        return tf.reduce_mean(tf.square(tf.cast(outputs, tf.float32) - targets))


class TokenObjective(Objective):
    """Training outputs are logits (N, T, V); predictions are ids (N, T).

    When the task marks an end token, padding after it is not part of the answer and is
    left out of the loss; otherwise (the subsequence task's zero padding) every position
    is an answer the model must give. The mean is over the positions that count.
    """

    target_dtype = tf.int32

    def loss(self, outputs, targets):
        steps = tf.minimum(tf.shape(outputs)[1], tf.shape(targets)[1])
        logits = tf.cast(outputs[:, :steps], tf.float32)
        labels = targets[:, :steps]
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        if self.signature.end_id is None:
            return tf.reduce_mean(losses)
        counts = tf.cast(labels != PAD_ID, tf.float32)
        return tf.reduce_sum(losses * counts) / tf.maximum(tf.reduce_sum(counts), 1.0)

    def to_numpy(self, outputs):
        ids = outputs.numpy().astype(np.int64)
        full = np.full((len(ids), self.signature.target_length), PAD_ID, dtype=np.int64)
        steps = min(ids.shape[1], full.shape[1])
        full[:, :steps] = ids[:, :steps]
        return full


class GaussianObjective(Objective):
    """Outputs (N, T, 2): a mean and a variance per position; Gaussian negative
    log-likelihood with the constant term (torch's ``gaussian_nll_loss(full=True)``)."""

    def loss(self, outputs, targets):
        outputs = tf.cast(outputs, tf.float32)
        mean, variance = outputs[..., 0], tf.maximum(outputs[..., 1], GAUSSIAN_NLL_EPS)
        nll = 0.5 * (tf.math.log(variance) + tf.square(targets - mean) / variance) + HALF_LOG_TWO_PI
        return tf.reduce_mean(nll)


def objective_for(signature: Signature) -> Objective:
    kinds = {"scalar": ScalarObjective, "tokens": TokenObjective, "gaussian": GaussianObjective}
    return kinds[signature.targets](signature)
