"""Flip-flop language modelling: Liu, Ash, Goel, Krishnamurthy & Zhang 2023, "Exposing
Attention Glitches with Flip-Flop Language Modeling" (NeurIPS).

A sequence of ``length`` tokens alternates instructions and data bits: ``w b`` writes
bit b to a one-bit memory, ``r b`` reads it (b must equal the last bit written), ``i b``
is ignored. As in the paper's FFL(T, p): the first instruction is a write, the last a
read, and the others are drawn independently, ignore with probability ``p_ignore`` and
write or read with (1 - p_ignore) / 2 each; every bit not read is uniform. Their main
setting is T = 512, p_ignore = 0.8 for training, tested at 0.8 (in distribution), 0.98
(sparse: long gaps between write and read) and 0.1 (dense); ``test_p_ignore`` draws the
test split with another p_ignore (validation keeps the training one, so early stopping
sees the training distribution, as theirs did).

What is scored: the read bits, the only tokens the language determines (the paper's
"read error" is an error on one of them; a sequence with none is ``exact_match``, one
minus their per-sequence glitch rate). Departures, for a harness whose models answer
at marked positions rather than predict every next token:

- Each read's bit is replaced in the input by an answer slot, and the answer is due
  there (a tagging target: the bit at read-bit positions, PAD, unscored, elsewhere).
  A causal language model predicting the token after ``r`` sees exactly this context:
  the bits of earlier reads are the written bit again, so hiding them hides nothing a
  reader needs; and a model that reads the whole input (bidirectional attention, an
  encoder) cannot copy the answer from the next position.
- Models train on the read bits only, not as language models on every token: the
  other tokens are drawn at random, so predicting them teaches nothing about the memory.

Token ids: PAD 0, w 1, r 2, i 3, bit 0 is 4, bit 1 is 5, the answer slot 6; targets are
the bit ids 4 and 5. Splits by a hash of the whole input (bits and slots included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Examples, Signature, param
from seqbench.task import PAD_ID
from seqbench_tasks.synthetic_tokens import TOKEN_DTYPE, AnswerTask, draw_for_split

__all__ = ["FlipFlop", "WRITE", "READ", "IGNORE", "BIT_0", "BIT_1", "ANSWER_SLOT"]

WRITE, READ, IGNORE, BIT_0, BIT_1, ANSWER_SLOT = 1, 2, 3, 4, 5, 6


def _check_probability(task: str, key: str, value: float | None) -> None:
    # param(min=, max=) bounds the value but lets NaN through the comparisons.
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"{task}: {key} must be a probability in [0, 1], got {value!r}")


@dataclass
class FlipFlop(AnswerTask):
    name = "flip-flop"
    description = (
        "read back the last bit written among write/read/ignore instructions (Liu et al. 2023's "
        "flip-flop language: attention glitches); sparse and dense test splits"
    )
    length_param = "length"
    smoke = {"length": 32}

    length: int = param(
        512, min=4,
        help="T: tokens in the sequence, even (instruction, bit pairs); the paper's 512",
    )
    p_ignore: float = param(
        0.8, min=0.0, max=1.0,
        help="probability of an ignore instruction; write and read share the rest equally",
    )
    test_p_ignore: float | None = param(
        None, min=0.0, max=1.0,
        help="p_ignore of the test split (the paper's sparse 0.98 and dense 0.1 tests); "
        "none: p_ignore",
    )

    def __post_init__(self) -> None:
        if self.length % 2:
            raise ValueError(
                f"{self.name}: length must be even (instruction, bit pairs), got {self.length}"
            )
        _check_probability(self.name, "p_ignore", self.p_ignore)
        _check_probability(self.name, "test_p_ignore", self.test_p_ignore)

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=self.length,
            input_vocab=ANSWER_SLOT + 1, target_length=self.length, target_vocab=BIT_1 + 1,
        )

    def _p_ignore(self, split: str) -> float:
        if split == "test" and self.test_p_ignore is not None:
            return self.test_p_ignore
        return self.p_ignore

    def _rows(self, rng: np.random.Generator, count: int, p_ignore: float) -> np.ndarray:
        pairs = self.length // 2
        p_other = (1.0 - p_ignore) / 2
        instructions = rng.choice(
            np.array([WRITE, READ, IGNORE]), size=(count, pairs), p=[p_other, p_other, p_ignore]
        )
        instructions[:, 0] = WRITE
        instructions[:, -1] = READ
        bits = BIT_0 + rng.integers(0, 2, size=(count, pairs))
        rows = np.empty((count, self.length), dtype=TOKEN_DTYPE)
        rows[:, 0::2] = instructions
        rows[:, 1::2] = np.where(instructions == READ, ANSWER_SLOT, bits)
        return rows

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        p_ignore = self._p_ignore(split)
        inputs = draw_for_split(lambda n: self._rows(rng, n, p_ignore), count, split, self.name)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """The last bit written, due at each read's slot: a scan over the pairs, every
        row at once. Before any write (only in an input not made here) the memory
        holds bit 0."""
        inputs = np.asarray(inputs)
        memory = np.full(len(inputs), BIT_0, dtype=np.int64)
        targets = np.full(inputs.shape, PAD_ID, dtype=TOKEN_DTYPE)
        for position in range(0, inputs.shape[1] - 1, 2):
            instruction, bit = inputs[:, position], inputs[:, position + 1]
            memory = np.where(instruction == WRITE, bit, memory)
            targets[:, position + 1] = np.where(instruction == READ, memory, PAD_ID)
        return targets
