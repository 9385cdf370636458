"""The one training loop every seqbench-tensorflow architecture shares; the torch loop's
contract in TensorFlow.

Adam/AdamW, global-norm gradient clipping, Keras mixed-precision policies, optional XLA
(``compile``), deterministic seeding, the same shuffled batches as the torch loop (the
harness's ``Split.batches`` with a generator seeded by the run's seed), token batches
trimmed to their longest sequence, the training loss summed in a device variable and
read once per epoch. The harness scores validation after every epoch and decides early
stopping; the loop keeps the best epoch's weights and restores them at the end. A
custom step (``tf.GradientTape`` in a ``tf.function``) rather than ``keras.Model.fit``,
because the harness, not Keras, owns the epochs, the data and early stopping.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import TYPE_CHECKING, Iterator

import numpy as np

from seqbench import FitSettings
from seqbench.task import PAD_ID, Task
from seqbench_tensorflow.runtime import import_tensorflow, resolve_device

tf = import_tensorflow()

import keras  # noqa: E402  (after TensorFlow's quiet import)

from seqbench_tensorflow.networks.base import Network  # noqa: E402
from seqbench_tensorflow.objectives import objective_for  # noqa: E402

if TYPE_CHECKING:
    from seqbench_tensorflow.base import TFModel

__all__ = ["Trainer", "trim_padding", "POLICIES", "use_ieee_fp32"]

POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
ADAM_EPSILON = 1e-8  # torch's default; Keras' is 1e-7


def trim_padding(tokens: np.ndarray) -> np.ndarray:
    """Drop trailing columns that are padding in every row: pad to the batch's longest."""
    used = np.flatnonzero((tokens != PAD_ID).any(axis=0))
    return tokens[:, : (used[-1] + 1 if len(used) else 1)]


def use_ieee_fp32(device: str, precision: str) -> None:
    """At ``fp32`` on a GPU, make fp32 mean IEEE fp32: TensorFlow runs fp32 matmuls and
    convolutions in TF32 on Ampere and later by default, which seqbench-torch does not
    (it sets IEEE at fp32), so a torch/TensorFlow comparison at "fp32" would compare two
    kinds of arithmetic. Other precisions and the CPU are left as they are."""
    if precision == "fp32" and device.upper().startswith("/GPU"):
        tf.config.experimental.enable_tensor_float_32_execution(False)


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Layers made inside take this Keras dtype policy; the global one is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class Trainer:
    def __init__(self, spec: "TFModel", task: Task, settings: FitSettings) -> None:
        self.spec = spec
        self.signature = task.signature
        self.device = resolve_device(tf, settings.device)
        use_ieee_fp32(self.device, spec.precision)
        keras.utils.set_random_seed(settings.seed)
        module_name, class_name = spec.network.split(":")
        network_cls = getattr(importlib.import_module(f"seqbench_tensorflow.networks.{module_name}"), class_name)
        with tf.device(self.device), dtype_policy(POLICIES[spec.precision]):
            self.network = network_cls(self.signature, task, **spec.network_options())
            if isinstance(self.network, Network):
                self._create_weights()
        self.objective = objective_for(self.signature)
        self.trainable = list(self.network.trainable_variables)
        # One trace serves every batch size and (trimmed) length: tracing a Keras
        # network costs seconds, a retrace per shape would cost more than training.
        inputs_spec, targets_spec = self._tensor_specs()
        self._infer = (
            tf.function(self.network.infer, input_signature=[inputs_spec])
            if isinstance(self.network, Network)
            else self.network.infer  # the oracle: its graphs are tf.functions already
        )
        if self.trainable:
            self._make_optimizer()
            self._train_step = tf.function(
                self._step, input_signature=[inputs_spec, targets_spec], jit_compile=spec.compile
            )

    def _tensor_specs(self) -> tuple[tf.TensorSpec, tf.TensorSpec]:
        """Batches as the loop hands them over: any count, any length."""
        signature = self.signature
        if signature.inputs == "tokens":
            inputs = tf.TensorSpec([None, None], tf.int32)
        else:
            inputs = tf.TensorSpec([None, None, signature.input_features], tf.float32)
        if signature.targets == "tokens":
            targets = tf.TensorSpec([None, None], tf.int32)
        elif signature.targets == "gaussian":
            targets = tf.TensorSpec([None, None], tf.float32)
        else:
            targets = tf.TensorSpec([None], tf.float32)
        return inputs, targets

    def _create_weights(self) -> None:
        """Keras creates weights on a network's first call: make them now, eagerly, on the
        device, so the optimiser and the traced step find them."""
        signature = self.signature
        if signature.inputs == "tokens":
            inputs = np.ones((1, signature.input_length), np.int32)
        else:
            inputs = np.zeros((1, signature.input_length, signature.input_features), np.float32)
        targets = None
        if signature.targets == "tokens":
            targets = tf.ones((1, signature.target_length), tf.int32)
        self.network(tf.constant(inputs), targets, training=False)

    def _make_optimizer(self) -> None:
        spec = self.spec
        clip = {"global_clipnorm": spec.clip} if spec.clip > 0 else {}
        if spec.optimizer == "adamw":
            optimizer = keras.optimizers.AdamW(spec.lr, weight_decay=spec.weight_decay, epsilon=ADAM_EPSILON, **clip)
        else:
            optimizer = keras.optimizers.Adam(spec.lr, epsilon=ADAM_EPSILON, **clip)
        # torch's Adam weight_decay is an L2 term; added to the loss it gives the same gradient.
        self.l2 = spec.weight_decay if spec.optimizer == "adam" else 0.0
        if spec.precision == "fp16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        self.optimizer = optimizer
        with tf.device(self.device):
            self.optimizer.build(self.trainable)
            self._loss_sum = tf.Variable(0.0, trainable=False, dtype=tf.float32)

    def _step(self, inputs: tf.Tensor, targets: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            loss = self.objective.loss(self.network(inputs, targets, training=True), targets)
            objective = loss
            if self.l2 > 0:
                objective += 0.5 * self.l2 * tf.add_n([tf.reduce_sum(tf.square(v)) for v in self.trainable])
            objective = self.optimizer.scale_loss(objective)  # loss scaling for fp16, else as is
        gradients = tape.gradient(objective, self.trainable)
        self.optimizer.apply(gradients, self.trainable)
        self._loss_sum.assign_add(loss * tf.cast(tf.shape(targets)[0], tf.float32))

    def inputs(self, inputs: np.ndarray, trim: bool = True) -> tf.Tensor:
        if self.signature.inputs == "tokens":
            return tf.constant(trim_padding(inputs) if trim else inputs, tf.int32)
        return tf.constant(inputs, tf.float32)

    def targets(self, targets: np.ndarray, trim: bool = True) -> tf.Tensor:
        if self.signature.targets == "tokens":
            if trim and self.signature.end_id is not None:
                targets = trim_padding(targets)
            return tf.constant(targets, tf.int32)
        return tf.constant(targets, tf.float32)

    def fit(self, train, settings: FitSettings, on_epoch) -> None:
        if not self.trainable:
            return  # a fixed graph (the TensorFlow oracle): nothing to learn
        shuffle = np.random.default_rng(settings.seed)
        best: list[tf.Tensor] | None = None
        with tf.device(self.device):
            for epoch in range(1, settings.epochs + 1):
                self._loss_sum.assign(0.0)
                count = 0
                for batch in train.batches(settings.batch_size, shuffle):
                    # XLA compiles once per shape: under ``compile`` batches keep their
                    # full width, so one compilation serves them all.
                    trim = not self.spec.compile
                    self._train_step(self.inputs(batch.inputs, trim), self.targets(batch.targets, trim))
                    count += len(batch)
                outcome = on_epoch(epoch, float(self._loss_sum.numpy()) / count, count)
                if outcome.improved:
                    best = [tf.identity(weight) for weight in self.network.weights]
                if outcome.stop:
                    break
            if best is not None:
                for weight, kept in zip(self.network.weights, best):
                    weight.assign(kept)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        if isinstance(self.network, Network):
            tensor = self.inputs(inputs)
        else:  # the oracle reads the data as they are, as the task's solve does
            tensor = trim_padding(inputs) if self.signature.inputs == "tokens" else inputs
        self.network.check_inputs(int(tensor.shape[1]))
        with tf.device(self.device):
            outputs = self._infer(tensor)
        return self.objective.to_numpy(outputs)

    def synchronize(self) -> None:
        if self.device.startswith("/GPU"):
            tf.test.experimental.sync_devices()
