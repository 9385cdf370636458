"""``tf:transformer``: the polynomial-expansion encoder-decoder Transformer, twin of the
torch one (nn.Transformer's layers: post-norm, a final layer norm after the encoder
and after the decoder).

Token embeddings are scaled by sqrt(hidden) and added to learned positional embeddings,
so the model has positions only up to the lengths its task's signature allows:
input_length source positions, target_length + 1 target positions (the start token's
included); with ``positions = "sinusoidal"``, Vaswani et al. 2017's fixed encoding,
defined at every length, as the torch twin's. The encoder ignores trailing PAD through
attention masks; the decoder is causal. Training feeds the true targets shifted right behind a start token (an extra
embedding index, never emitted); ``infer`` decodes greedily in a ``tf.while_loop`` and,
when the task has an end token, stops once every sequence has produced it and pads
what follows with PAD_ID.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from seqbench.task import PAD_ID, Signature, Task
from seqbench_tensorflow.networks.base import Network, sequence_lengths
from seqbench_tensorflow.networks.layers import LAYER_NORM_EPSILON, DecoderLayer, EncoderLayer, attend_to

__all__ = ["Seq2SeqTransformer", "sinusoidal_positions"]


def sinusoidal_positions(length: tf.Tensor, width: int) -> tf.Tensor:
    """Vaswani et al. 2017's encoding (length, width): sin at even, cos at odd features."""
    position = tf.cast(tf.range(length), tf.float32)[:, None]
    rates = tf.exp(tf.range(0, width, 2, dtype=tf.float32) * (-math.log(10_000.0) / width))
    angles = position * rates  # (length, ceil(width / 2))
    paired = tf.reshape(tf.stack([tf.sin(angles), tf.cos(angles)], axis=-1), [length, -1])
    return paired[:, :width]


class Seq2SeqTransformer(Network):
    def __init__(
        self,
        signature: Signature,
        task: Task,
        hidden: int,
        enc_layers: int,
        dec_layers: int,
        heads: int,
        ff_dim: int,
        dropout: float,
        positions: str | None = None,
    ) -> None:
        super().__init__()
        if None in (signature.input_vocab, signature.target_vocab, signature.target_length):
            raise ValueError("transformer needs token inputs and targets with vocabularies and a target length")
        self.input_length = signature.input_length
        self.target_length = signature.target_length
        self.end_id = signature.end_id
        self.start_id = signature.target_vocab  # one past the real ids: never emitted
        self.scale = math.sqrt(hidden)
        self.source_embedding = keras.layers.Embedding(signature.input_vocab, hidden)
        learned = positions is None
        self.source_positions = keras.layers.Embedding(signature.input_length, hidden) if learned else None
        self.target_embedding = keras.layers.Embedding(signature.target_vocab + 1, hidden)
        self.target_positions = keras.layers.Embedding(signature.target_length + 1, hidden) if learned else None
        self.hidden = hidden
        self.dropout = keras.layers.Dropout(dropout)
        self.encoder = [EncoderLayer(hidden, heads, ff_dim, dropout) for _ in range(enc_layers)]
        self.encoder_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON)
        self.decoder = [DecoderLayer(hidden, heads, ff_dim, dropout) for _ in range(dec_layers)]
        self.decoder_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON)
        self.head = keras.layers.Dense(signature.target_vocab)

    def check_inputs(self, width: int) -> None:
        if self.source_positions is not None and width > self.input_length:
            raise ValueError(
                f"an input of {width} tokens is longer than the {self.input_length} positions "
                f"this transformer learned (its positional table is sized by the task it was "
                f"trained on)"
            )

    def _embed(self, tokens: tf.Tensor, embedding, positions, training: bool) -> tf.Tensor:
        length = tf.shape(tokens)[1]
        where = positions(tf.range(length)) if positions is not None else sinusoidal_positions(length, self.hidden)
        scaled = embedding(tokens) * tf.cast(self.scale, embedding.compute_dtype)
        return self.dropout(scaled + tf.cast(where, scaled.dtype), training=training)

    def encode(self, inputs: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """The encoder's memory and which source positions are real (False: trailing PAD)."""
        keep = tf.range(tf.shape(inputs)[1])[None, :] < sequence_lengths(inputs)[:, None]
        mask = attend_to(keep, tf.shape(inputs)[1])
        memory = self._embed(inputs, self.source_embedding, self.source_positions, training)
        for layer in self.encoder:
            memory = layer(memory, attention_mask=mask, training=training)
        return self.encoder_norm(memory), keep

    def decode(self, previous: tf.Tensor, memory: tf.Tensor, keep: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Logits for the token after each position of ``previous`` (start token first)."""
        decoded = self._embed(previous, self.target_embedding, self.target_positions, training)
        memory_mask = attend_to(keep, tf.shape(previous)[1])
        for layer in self.decoder:
            decoded = layer(decoded, memory, memory_mask, training=training)
        return self.head(self.decoder_norm(decoded))

    def _start(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.fill([tf.shape(inputs)[0], 1], tf.constant(self.start_id, tf.int32))

    def call(self, inputs: tf.Tensor, targets: tf.Tensor | None = None, training: bool = False) -> tf.Tensor:
        """Teacher-forced logits (N, T, target_vocab); greedy decoding without targets."""
        if targets is None:
            return self._greedy(inputs, with_logits=True)[1]
        memory, keep = self.encode(inputs, training)
        previous = tf.concat([self._start(inputs), tf.cast(targets[:, :-1], tf.int32)], axis=1)
        return self.decode(previous, memory, keep, training)

    def infer(self, inputs: tf.Tensor) -> tf.Tensor:
        """Greedy ids (N, steps <= target_length); PAD after each row's end token."""
        return self._greedy(inputs, with_logits=False)[0]

    def _greedy(self, inputs: tf.Tensor, with_logits: bool) -> tuple[tf.Tensor, tf.Tensor | None]:
        memory, keep = self.encode(inputs)
        previous = self._start(inputs)
        finished = tf.zeros([tf.shape(inputs)[0]], tf.bool)
        logits = tf.TensorArray(self.head.compute_dtype, size=0, dynamic_size=True)

        def unfinished(step, previous, finished, logits):
            more = step < self.target_length
            return more if self.end_id is None else more & ~tf.reduce_all(finished)

        def body(step, previous, finished, logits):
            scores = self.decode(previous, memory, keep)[:, -1]
            chosen = tf.argmax(scores, axis=1, output_type=tf.int32)
            chosen = tf.where(finished, tf.constant(PAD_ID, tf.int32), chosen)  # PAD after the end
            if self.end_id is not None:
                finished = finished | (chosen == self.end_id)
            if with_logits:
                logits = logits.write(step, scores)
            return step + 1, tf.concat([previous, chosen[:, None]], axis=1), finished, logits

        _, previous, _, logits = tf.while_loop(
            unfinished,
            body,
            (tf.constant(0), previous, finished, logits),
            shape_invariants=(
                tf.TensorShape([]),
                tf.TensorShape([None, None]),
                tf.TensorShape([None]),
                tf.TensorShape(None),
            ),
            maximum_iterations=self.target_length,
        )
        return previous[:, 1:], (tf.transpose(logits.stack(), [1, 0, 2]) if with_logits else None)
