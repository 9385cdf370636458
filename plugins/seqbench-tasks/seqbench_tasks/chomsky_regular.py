"""Regular Chomsky-hierarchy tasks answered by one token (Delétang et al. 2023, "Neural
networks and the Chomsky hierarchy", ICLR; code: github.com/google-deepmind/
neural_networks_chomsky_hierarchy): even pairs (``tasks/regular/even_pairs.py``) and
cycle navigation (``tasks/regular/cycle_navigation.py``).

Ids are the reference's values plus one (0 is PAD), for inputs and answers alike, and
the input ends in one answer slot, as chomsky.py's parity does (their models read one
"empty target" after the string and answer there).

- Even pairs: a binary string (a = 1, b = 2; the slot 3); the answer is 1 when the
  count of "ab" and "ba" pairs is even, 2 when odd (their classes 0 and 1). That
  count is even exactly when the first and last symbols agree, which is how the
  oracle answers. A string of one symbol has no pair: even.
- Cycle navigation: actions on a cycle of 5 states, starting at state 0; their action
  values 0, 1, 2 move by -1, 0, +1 (their code: ``sum(actions - 1) % 5``; its
  docstring's "0 is for stay" describes the moves, not the values), ids 1, 2, 3; the
  slot 4. The answer is the final state s, as id s + 1.

Lengths (Delétang et al.'s protocol: train on every length up to N, test longer):
``min_length`` makes the train split draw each row's length uniformly in
min_length..length, then a string of that length it owns; validation, test and each
``run.eval_lengths`` length are exactly their length (chomsky.py's ``LengthRangeTask``).

Splits: a hash of the whole input puts every input in one split. A short length has
few strings and the train split owns what it owns, so its labels need not balance
there (even pairs at length 2: the split owns some of aa, ab, ba, bb); from about
length 8 a length's strings split 80/10/10 and its labels follow the reference's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Signature, param
from seqbench_tasks.chomsky import (
    BINARY_SLOT,
    MIN_LENGTH_HELP,
    SYMBOL_A,
    SYMBOL_B,
    LengthRangeTask,
    padded_with_slots,
)
from seqbench_tasks.synthetic_tokens import TOKEN_DTYPE

__all__ = ["EvenPairs", "CycleNavigation", "CYCLE_STATES", "MOVE_LEFT", "STAY", "MOVE_RIGHT", "CYCLE_SLOT"]

ANSWER_EVEN, ANSWER_ODD = 1, 2
CYCLE_STATES = 5  # the reference's fixed cycle length
MOVE_LEFT, STAY, MOVE_RIGHT, CYCLE_SLOT = 1, 2, 3, 4


@dataclass
class EvenPairs(LengthRangeTask):
    name = "even-pairs"
    description = (
        "is the number of ab and ba pairs in a binary string even? (Delétang et al. 2023's "
        "even pairs, regular; train up to length, test longer)"
    )
    length_param = "length"
    smoke = {"length": 12}

    length: int = param(40, min=1, help="N: symbols in the string (the longest, when training on a range)")
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=self.length + 1,
            input_vocab=BINARY_SLOT + 1, target_length=1, target_vocab=ANSWER_ODD + 1,
        )

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        symbols = rng.integers(SYMBOL_A, SYMBOL_B + 1, size=(count, self.length))
        return padded_with_slots(symbols, np.full(count, length), 1, BINARY_SLOT)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """Each change of symbol is one pair ab or ba; the changes between the first
        symbol and the last are even in number exactly when the two agree."""
        inputs = np.asarray(inputs)
        lengths = np.sum((inputs >= SYMBOL_A) & (inputs <= SYMBOL_B), axis=1)
        last = np.maximum(lengths - 1, 0)
        agree = inputs[:, 0] == inputs[np.arange(len(inputs)), last]
        return np.where(agree, ANSWER_EVEN, ANSWER_ODD)[:, None].astype(TOKEN_DTYPE)


@dataclass
class CycleNavigation(LengthRangeTask):
    name = "cycle-navigation"
    description = (
        "the final state of moves -1 / 0 / +1 on a cycle of 5 states from state 0 (Delétang et al. "
        "2023's cycle navigation, regular; train up to length, test longer)"
    )
    length_param = "length"
    smoke = {"length": 12}

    length: int = param(40, min=1, help="N: moves in the sequence (the longest, when training on a range)")
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=self.length + 1,
            input_vocab=CYCLE_SLOT + 1, target_length=1, target_vocab=CYCLE_STATES + 1,
        )

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        moves = rng.integers(MOVE_LEFT, MOVE_RIGHT + 1, size=(count, self.length))
        return padded_with_slots(moves, np.full(count, length), 1, CYCLE_SLOT)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.int64)
        is_move = (inputs >= MOVE_LEFT) & (inputs <= MOVE_RIGHT)
        steps = np.where(is_move, inputs - STAY, 0).sum(axis=1)
        return (1 + steps % CYCLE_STATES)[:, None].astype(TOKEN_DTYPE)
