"""``tf:gru-seq2seq``: the "seq2seq shenanigans" GRU encoder-decoder, twin of the torch one.

An embedding and a multi-layer GRU read the input; a GRU decoder (a stack of GRU cells)
starts from the encoder's final states and a start token (an extra embedding index,
never a real token id) and emits one token per step. While training, each step feeds
back the true previous token with probability ``teacher_forcing`` (one coin per step for
the whole batch, as in the original, drawn from a generator seeded by the run's seed)
and else its own greedy guess; ``infer`` always feeds back its own guesses, for the
signature's target length. Every weight starts uniform in [-init_scale, init_scale].

Keras' GRU (``reset_after=True``, the default) is the same cell as torch's, with an
input and a recurrent bias. Inputs are right-padded with PAD_ID; the encoder reads each
sequence only up to its last non-PAD token (a Keras mask carries the state through the
trailing padding, as torch's packed sequences do), so an example's encoding does not
depend on its batch's padding. A PAD id inside a sequence is a real token and is read.
The decoding loop is a ``tf.while_loop``, so one graph serves every target length.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seqbench.task import Signature, Task
from seqbench_tensorflow.networks.base import Network, pad_after_end, sequence_lengths

__all__ = ["GRUSeq2Seq"]


class GRUSeq2Seq(Network):
    def __init__(
        self,
        signature: Signature,
        task: Task,
        emb_dim: int,
        hidden: int,
        layers: int,
        dropout: float,
        teacher_forcing: float,
        init_scale: float,
    ) -> None:
        super().__init__()
        if signature.input_vocab is None or signature.target_vocab is None:
            raise ValueError("gru-seq2seq needs token inputs and targets with a vocabulary size")
        self.target_length = signature.target_length
        self.end_id = signature.end_id
        self.start_id = signature.target_vocab  # one past the real ids: never emitted
        self.teacher_forcing = teacher_forcing

        def uniform() -> keras.initializers.Initializer:
            # A fresh initializer per weight: one unseeded instance reused gives every
            # weight of a shape the same values in Keras 3.
            return keras.initializers.RandomUniform(-init_scale, init_scale)

        def gru_weights() -> dict:
            return {"kernel_initializer": uniform(), "recurrent_initializer": uniform(), "bias_initializer": uniform()}

        self.source_embedding = keras.layers.Embedding(signature.input_vocab, emb_dim, embeddings_initializer=uniform())
        self.encoder = [
            keras.layers.GRU(hidden, return_sequences=True, return_state=True, **gru_weights()) for _ in range(layers)
        ]
        self.target_embedding = keras.layers.Embedding(
            signature.target_vocab + 1, emb_dim, embeddings_initializer=uniform()
        )
        self.decoder = [keras.layers.GRUCell(hidden, **gru_weights()) for _ in range(layers)]
        self.head = keras.layers.Dense(signature.target_vocab, kernel_initializer=uniform(), bias_initializer=uniform())
        self.dropout = keras.layers.Dropout(dropout)
        self.between = keras.layers.Dropout(dropout if layers > 1 else 0.0)
        self.coins = keras.random.SeedGenerator()

    def encode(self, inputs: tf.Tensor, training: bool = False) -> list[tf.Tensor]:
        """The encoder's final state per layer (N, hidden), reading each row to its end."""
        embedded = self.dropout(self.source_embedding(inputs), training=training)
        mask = tf.range(tf.shape(inputs)[1])[None, :] < sequence_lengths(inputs)[:, None]
        states = []
        for index, gru in enumerate(self.encoder):
            embedded, state = gru(embedded, mask=mask, training=training)
            states.append(state)
            if index < len(self.encoder) - 1:
                embedded = self.between(embedded, training=training)
        return states

    def _step(self, previous: tf.Tensor, states: list[tf.Tensor], training: bool) -> tuple[tf.Tensor, list[tf.Tensor]]:
        hidden = self.dropout(self.target_embedding(previous), training=training)
        new_states = []
        for index, cell in enumerate(self.decoder):
            hidden, _ = cell(hidden, states[index], training=training)
            new_states.append(hidden)
            if index < len(self.decoder) - 1:
                hidden = self.between(hidden, training=training)
        return self.head(hidden), new_states

    def call(self, inputs: tf.Tensor, targets: tf.Tensor | None = None, training: bool = False) -> tf.Tensor:
        """Logits (N, T, target_vocab); T is the targets' length, else the signature's.
        Without targets (or outside training) every step feeds back its own guess."""
        states = self.encode(inputs, training)
        steps = tf.shape(targets)[1] if targets is not None else self.target_length
        previous = tf.fill([tf.shape(inputs)[0]], tf.constant(self.start_id, tf.int32))
        forcing = training and targets is not None and self.teacher_forcing > 0
        logits = tf.TensorArray(self.head.compute_dtype, size=steps)

        def body(step, previous, states, logits):
            scores, states = self._step(previous, states, training)
            chosen = tf.argmax(scores, axis=1, output_type=tf.int32)
            if forcing:
                coin = keras.random.uniform((), seed=self.coins)
                chosen = tf.where(coin < self.teacher_forcing, tf.cast(targets[:, step], tf.int32), chosen)
            return step + 1, chosen, states, logits.write(step, scores)

        *_, logits = tf.while_loop(
            lambda step, *_: step < steps,
            body,
            (tf.constant(0), previous, states, logits),
            maximum_iterations=self.target_length,  # XLA needs a bound on the loop
        )
        return tf.transpose(logits.stack(), [1, 0, 2])

    def infer(self, inputs: tf.Tensor) -> tf.Tensor:
        """Greedy ids (N, target_length), never teacher-forced; PAD after ``end_id``."""
        ids = tf.argmax(self(inputs, training=False), axis=2, output_type=tf.int32)
        return pad_after_end(ids, self.end_id)
