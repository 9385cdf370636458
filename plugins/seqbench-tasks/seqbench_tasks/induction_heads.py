"""Induction heads (Olsson et al. 2022, "In-context learning and induction heads"; as a
synthetic task in Fu et al. 2023, H3, and Gu & Dao 2023, Mamba §4.1.2).

The H3/Mamba format: ``length`` tokens uniform over the data tokens, except a special
token at one random position and again at the last position. The answer is the token
that followed the special token's first occurrence, due at its second (the last
position): A B ... A -> B, what an induction head does. ids: data tokens
1..vocab-1, the special token vocab (0 is seqbench's PAD_ID). Mamba's setting:
vocabulary 16, training length 256, tested up to 2^20.

Two counts differ from H3's generator (safari's ``ICLDataModule`` with
``generate_induction_head``): ``vocab`` 16 here is 15 data tokens and the special one,
so chance is 1/15; safari's ``vocab_size`` 16 holds 14 data tokens and 2 specials (the
copy prefix and a no-op token), chance 1/14. And ``length`` here counts every input
token, the final special token (the trigger) included; safari's ``input_seq_len`` is
the random tokens before the trigger it appends (with the answer after it), so its
length 256 is 257 here.

Splits: an input's first occurrence of the special token and its first 24 tokens
decide its split (a hash of them); the rest of a long input is drawn after, for the
kept rows only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Examples, Signature, param
from seqbench_tasks.synthetic_tokens import MAX_VOCAB, TOKEN_DTYPE, AnswerTask, draw_for_split

__all__ = ["InductionHeads", "KEY_TOKENS"]

KEY_TOKENS = 24  # leading tokens that decide the split: 15^24 prefixes at vocab 16


@dataclass
class InductionHeads(AnswerTask):
    name = "induction-heads"
    description = (
        "after the special token at the end, the token that followed it earlier "
        "(Olsson et al. 2022; Gu & Dao 2023's format)"
    )
    length_param = "length"
    smoke = {"length": 16}

    length: int = param(256, min=3, help="input tokens, the two special tokens (the final trigger too) included")
    # The special token's id is vocab itself, so the input vocabulary is vocab + 1.
    vocab: int = param(
        16, min=3, max=MAX_VOCAB - 1,
        help=f"vocabulary: vocab - 1 data tokens and the special token; at most {MAX_VOCAB - 1} (int32 ids)",
    )

    @property
    def special(self) -> int:
        return self.vocab

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens",
            targets="tokens",
            input_length=self.length,
            input_vocab=self.vocab + 1,
            target_length=1,
            target_vocab=self.vocab,
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        width = min(self.length, KEY_TOKENS)

        def draw(n: int) -> np.ndarray:
            """The key: where the special token first is (never the last two positions,
            so a data token follows it), then the first ``width`` tokens."""
            key = np.empty((n, 1 + width), dtype=TOKEN_DTYPE)
            key[:, 0] = rng.integers(0, self.length - 2, size=n)
            key[:, 1:] = rng.integers(1, self.vocab, size=(n, width))
            inside = key[:, 0] < width
            key[inside, 1 + key[inside, 0]] = self.special
            if self.length <= width:
                key[:, self.length] = self.special
            return key

        key = draw_for_split(draw, count, split, self.name)
        inputs = np.empty((count, self.length), dtype=TOKEN_DTYPE)
        inputs[:, :width] = key[:, 1:]
        inputs[:, width:] = rng.integers(1, self.vocab, size=(count, self.length - width))
        inputs[np.arange(count), key[:, 0]] = self.special
        inputs[:, -1] = self.special
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs)
        first = np.argmax(inputs == self.special, axis=1)
        return inputs[np.arange(len(inputs)), first + 1][:, None].astype(TOKEN_DTYPE)
