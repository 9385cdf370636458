"""Selective copying (Gu & Dao 2023, "Mamba", §3.1 and §4.1.1, Figure 2; the
generator of the state-spaces repositories, ``torch_copying_data(..., variable=True)``).

Their format, every id plus one (0 is seqbench's PAD_ID): ``tokens`` data tokens,
uniform over the ``vocab - 2`` data ids (ids 2..vocab-1), sit at random positions, in
order, among blanks (their 0, here 1) in a region of ``length`` positions; then
``tokens`` markers (their vocab-1, here vocab). The answer is the data tokens in
order, due at the markers. Unlike the copying-memory problem, where the symbols sit
at fixed places, the spacing varies per example, so a model must select what to keep
by content, not by time. Mamba's setting: 16 tokens, vocabulary 16, sequence length
4096. Their ``l_noise`` = 4096 blanks plus the 16 data tokens make a 4,112-position
region, then 16 markers: a 4,128-token input. ``length`` here is the whole region,
blanks and data tokens together, so ``length`` = 4096 (the default) is a 4,096-position
region and a 4,112-token input, and the reference's is ``length`` = 4112.

``vocab`` is at least 4: blank and marker take two ids, and at 3 there would be one
data token, one possible sequence to copy, which no split but one could own.

Splits: each sequence of data tokens belongs to one split (a hash of it); positions
are drawn after, for the kept rows only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Examples, Signature, param
from seqbench_tasks.synthetic_tokens import MAX_VOCAB, TOKEN_DTYPE, AnswerTask, draw_for_split, sample_distinct

__all__ = ["SelectiveCopy"]

BLANK = 1
FIRST_DATA = 2


@dataclass
class SelectiveCopy(AnswerTask):
    name = "selective-copy"
    description = (
        "output, in order, the data tokens scattered among blanks at random positions "
        "(Gu & Dao 2023, Mamba's selective copying)"
    )
    length_param = "length"
    smoke = {"length": 16, "tokens": 4}

    length: int = param(4096, min=1, help="positions holding the data tokens and the blanks")
    tokens: int = param(16, min=1, help="data tokens to copy")
    # The marker's id is vocab itself, so the input vocabulary is vocab + 1.
    vocab: int = param(
        16, min=4, max=MAX_VOCAB - 1,
        help=f"vocabulary: blank, marker and vocab - 2 data tokens (Mamba's 16); at most {MAX_VOCAB - 1} (int32 ids)",
    )

    def __post_init__(self) -> None:
        if self.tokens > self.length:
            raise ValueError(f"tokens ({self.tokens}) must fit in length ({self.length})")

    @property
    def marker(self) -> int:
        return self.vocab

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens",
            targets="tokens",
            input_length=self.length + self.tokens,
            input_vocab=self.vocab + 1,
            target_length=self.tokens,
            target_vocab=self.vocab,
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        def draw(n: int) -> np.ndarray:
            return rng.integers(FIRST_DATA, self.vocab, size=(n, self.tokens))

        data = draw_for_split(draw, count, split, self.name)
        places = np.sort(sample_distinct(rng, count, self.tokens, self.length), axis=1)
        inputs = np.full((count, self.length + self.tokens), BLANK, dtype=TOKEN_DTYPE)
        np.put_along_axis(inputs, places, data, axis=1)
        inputs[:, self.length :] = self.marker
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        region = np.asarray(inputs)[:, : inputs.shape[1] - self.tokens]
        # Every row holds exactly `tokens` data tokens; a boolean mask reads them row by
        # row, in order.
        return region[region != BLANK].reshape(len(region), self.tokens).astype(TOKEN_DTYPE)
