"""The copying-memory problem (Hochreiter & Schmidhuber 1997, §5 experiment 2's long
time lags; in the form of Arjovsky, Shah & Bengio 2016, "Unitary evolution recurrent
neural networks", §4.1).

Arjovsky et al.'s format, every id plus one (0 is seqbench's PAD_ID): an input is
``symbols`` tokens drawn uniformly from an alphabet of ``alphabet`` (their 10 from
{1..8}, here ids 2..alphabet+1), then ``delay - 1`` blanks (their 0, here 1), a
delimiter (their 9, here alphabet+2), then ``symbols`` blanks: T + 20 tokens at their
sizes. The answer is the symbols, in order, due at the last ``symbols`` blanks. Their
target also asks for a blank at every earlier step; here the target is the recalled
symbols only (``accuracy`` is over them; their baseline of guessing is 1/alphabet).
``delay`` is the length swept (their T = 100..500).

Splits: each sequence of symbols belongs to one split (a hash of it), so no input is
in two splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Examples, Signature, param
from seqbench_tasks.synthetic_tokens import MAX_VOCAB, TOKEN_DTYPE, AnswerTask, draw_for_split

__all__ = ["CopyMemory", "BLANK"]

BLANK = 1
FIRST_SYMBOL = 2


@dataclass
class CopyMemory(AnswerTask):
    name = "copy-memory"
    description = (
        "recall the first symbols after a blank delay and a delimiter "
        "(Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016's format)"
    )
    length_param = "delay"
    smoke = {"delay": 10}

    delay: int = param(100, min=1, help="T: blanks and delimiter between the symbols and their recall")
    symbols: int = param(10, min=1, help="symbols to remember and recall")
    # Symbols are ids 2..alphabet + 1 and the delimiter alphabet + 2: the input
    # vocabulary is alphabet + 3.
    alphabet: int = param(
        8, min=2, max=MAX_VOCAB - 3, help=f"distinct symbols; at most {MAX_VOCAB - 3} (int32 ids)"
    )

    @property
    def delimiter(self) -> int:
        return FIRST_SYMBOL + self.alphabet

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens",
            targets="tokens",
            input_length=self.delay + 2 * self.symbols,
            input_vocab=self.delimiter + 1,
            target_length=self.symbols,
            target_vocab=FIRST_SYMBOL + self.alphabet,
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        def draw(n: int) -> np.ndarray:
            return rng.integers(FIRST_SYMBOL, FIRST_SYMBOL + self.alphabet, size=(n, self.symbols))

        symbols = draw_for_split(draw, count, split, self.name)
        inputs = np.full((count, self.signature.input_length), BLANK, dtype=TOKEN_DTYPE)
        inputs[:, : self.symbols] = symbols
        inputs[:, self.symbols + self.delay - 1] = self.delimiter
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        return np.array(inputs[:, : self.symbols], dtype=TOKEN_DTYPE)
