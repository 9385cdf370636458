"""Multi-query associative recall, MQAR (Arora et al. 2023, "Zoology: measuring and
improving recall in efficient language models", §3; their generator
``zoology.data.associative_recall.multiquery_ar``).

Zoology's ids (0 is unused there and seqbench's PAD_ID): ``pairs`` keys, distinct,
from 1..vocab/2-1 and ``pairs`` values, distinct, from vocab/2..vocab-1, laid out as
k1 v1 k2 v2 ...; then filler tokens uniform over 1..vocab-1 (zoology's
``random_non_queries``); then ``queries`` of the keys, distinct, in random order, as
the input's last tokens. The answer to each query is its key's value, due at the
query itself: what zoology's labels ask of a causal language model at each query
position. One departure: zoology places the queries at random (power-law) distances
inside the filler; here they close the input, so every task in this library has its
answers at its last positions. ``length`` is the whole input (zoology's
``input_seq_len``, 64..512 in their sweeps), so the filler grows with it.

Splits: each key-value context belongs to one split (a hash of it); filler and
queries are drawn after, for the kept rows only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Examples, Signature, param
from seqbench_tasks.synthetic_tokens import MAX_VOCAB, TOKEN_DTYPE, AnswerTask, draw_for_split, sample_distinct

__all__ = ["AssociativeRecall"]


@dataclass
class AssociativeRecall(AnswerTask):
    name = "associative-recall"
    description = (
        "multi-query associative recall, MQAR: key-value pairs, filler, then queries "
        "answered with their values (Arora et al. 2023, zoology)"
    )
    length_param = "length"
    smoke = {"vocab": 64, "pairs": 4, "queries": 4, "length": 16}

    length: int = param(64, min=3, help="input tokens: pairs, filler and queries")
    # Ids run to vocab - 1 (the largest value), so vocab itself may reach MAX_VOCAB.
    vocab: int = param(
        8192, min=4, max=MAX_VOCAB,
        help=f"vocabulary: keys below vocab/2, values from vocab/2; at most {MAX_VOCAB} (int32 ids)",
    )
    pairs: int = param(8, min=1, help="key-value pairs in the context")
    queries: int = param(8, min=1, help="keys queried, distinct (at most pairs)")

    def __post_init__(self) -> None:
        if self.queries > self.pairs:
            raise ValueError(f"queries ({self.queries}) must be at most pairs ({self.pairs})")
        if self.pairs > self.vocab // 2 - 1:
            raise ValueError(
                f"pairs ({self.pairs}) must be at most vocab // 2 - 1 ({self.vocab // 2 - 1}): "
                "keys and values are distinct"
            )
        if 2 * self.pairs + self.queries > self.length:
            raise ValueError(
                f"length ({self.length}) must hold 2 * pairs + queries "
                f"({2 * self.pairs + self.queries}) tokens"
            )

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens",
            targets="tokens",
            input_length=self.length,
            input_vocab=self.vocab,
            target_length=self.queries,
            target_vocab=self.vocab,
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        half = self.vocab // 2

        def draw(n: int) -> np.ndarray:
            context = np.empty((n, 2 * self.pairs), dtype=TOKEN_DTYPE)
            context[:, 0::2] = 1 + sample_distinct(rng, n, self.pairs, half - 1)
            context[:, 1::2] = half + sample_distinct(rng, n, self.pairs, self.vocab - half)
            return context

        context = draw_for_split(draw, count, split, self.name)
        inputs = np.empty((count, self.length), dtype=TOKEN_DTYPE)
        inputs[:, : 2 * self.pairs] = context
        inputs[:, 2 * self.pairs :] = rng.integers(1, self.vocab, size=(count, self.length - 2 * self.pairs))
        asked = sample_distinct(rng, count, self.pairs, self.pairs)[:, : self.queries]
        inputs[:, self.length - self.queries :] = np.take_along_axis(context[:, 0::2], asked, axis=1)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs)
        keys = inputs[:, 0 : 2 * self.pairs : 2]
        values = inputs[:, 1 : 2 * self.pairs : 2]
        asked = inputs[:, inputs.shape[1] - self.queries :]
        which = np.argmax(asked[:, :, None] == keys[:, None, :], axis=2)
        return np.take_along_axis(values, which, axis=1).astype(TOKEN_DTYPE)
