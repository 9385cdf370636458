"""Context-sensitive Chomsky-hierarchy tasks that rearrange or recall a string's
symbols (Delétang et al. 2023, "Neural networks and the Chomsky hierarchy", ICLR; code:
github.com/google-deepmind/neural_networks_chomsky_hierarchy): odds first
(``tasks/cs/odds_first.py``), bucket sort (``tasks/cs/bucket_sort.py``) and missing
duplicate string (``tasks/cs/missing_duplicate_string.py``).

Ids are the reference's values plus one (0 is PAD), for inputs and answers alike.

- Odds first: a string over ``vocab`` symbols (binary, as in the paper), then N slots;
  the answer is the symbols at the string's odd 0-based indices (its 2nd, 4th, ...
  symbols), then those at its even ones (1st, 3rd, ...): what the reference's code
  does (``concatenate([s[:, 1::2], s[:, ::2]])``, unchanged since the repository's
  first commit). Its docstring's examples and the paper's text (aaabaa -> aaaaba)
  put the 1st, 3rd, ... first instead; the two orders differ only in which half of
  the answer comes first.
- Bucket sort: a string over ``vocab`` symbols (5, as in the paper), then N slots;
  the answer is the string sorted, smallest id first.
- Missing duplicate string: a binary string of N // 2 symbols written twice, one of
  the 2 * (N // 2) symbols (uniform) replaced by a mask token (their 2, id 3), and
  for an odd N their "empty" token (their 3, id 4) last; then one slot, where the
  masked symbol is due. At N = 1 the reference has no string to duplicate and sets
  input and answer to its symbol 1 (id 2): so does this task (that one input is the
  test split's, so training from ``min_length = 1`` starts at length 2).

Answer slots, as chomsky_stack_and_tape.py does: their models read the input followed
by ``output_length`` "empty targets"; here the input ends in one slot per answer
(N for odds first and bucket sort, 1 for missing duplicate string).

Lengths (Delétang et al.'s protocol: train on every length up to N, test longer):
``min_length`` makes the train split draw each row's length uniformly in
min_length..length, then a string of that length it owns (chomsky.py's
``LengthRangeTask``). Odds first and bucket sort keep the longest answer's N slots on
every training row, as duplicate string does: a shorter string's answer fills the
first of them and its other targets are PAD (not scored). The reference gives a
length-L batch L slots; validation, test and each ``run.eval_lengths`` length are
exactly their length, with exactly the reference's slots.

Splits: a hash of the whole input (PAD contributes nothing) puts every input in one split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seqbench import Signature, param
from seqbench.task import PAD_ID
from seqbench_tasks.chomsky import MIN_LENGTH_HELP, SYMBOL_A, SYMBOL_B, LengthRangeTask, padded_with_slots
from seqbench_tasks.synthetic_tokens import MAX_VOCAB, TOKEN_DTYPE

__all__ = ["OddsFirst", "BucketSort", "MissingDuplicateString", "MASK", "EMPTY", "MISSING_SLOT"]

# Missing duplicate string's ids: a, b (1, 2), then these.
MASK, EMPTY, MISSING_SLOT = 3, 4, 5


class _RearrangedString(LengthRangeTask):
    """A string over ``vocab`` symbols (ids 1..vocab), then N slots (id vocab + 1); the
    answer is a rearrangement of the string, as long as it, then PAD. A subclass
    declares the parameters and says which rearrangement in ``_rearranged``."""

    if TYPE_CHECKING:  # each subclass declares it as a parameter
        vocab: int

    @property
    def slot(self) -> int:
        return self.vocab + 1

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=2 * self.length, input_vocab=self.vocab + 2,
            target_length=self.length, target_vocab=self.vocab + 1,
        )

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        symbols = rng.integers(1, self.vocab + 1, size=(count, self.length))
        return padded_with_slots(symbols, np.full(count, length), self.length, self.slot)

    def _rearranged(self, strings: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(N, width) answers for the rows' strings (each row's first ``lengths`` columns
        of ``strings``); what lies past a row's length is masked to PAD afterwards."""
        raise NotImplementedError

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs)
        strings = inputs[:, : inputs.shape[1] // 2]  # its string, then slots, then PAD
        lengths = np.sum((strings != PAD_ID) & (strings <= self.vocab), axis=1)
        answers = self._rearranged(strings, lengths)
        answered = np.arange(strings.shape[1])[None, :] < lengths[:, None]
        return np.where(answered, answers, PAD_ID).astype(TOKEN_DTYPE)


@dataclass
class OddsFirst(_RearrangedString):
    name = "odds-first"
    description = (
        "a string, then as many slots; answer its symbols at odd 0-based indices, then those at even "
        "ones (Delétang et al. 2023's odds first, context-sensitive)"
    )
    length_param = "length"
    smoke = {"length": 10}

    length: int = param(40, min=1, help="N: symbols in the string; N answer slots follow")
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)
    vocab: int = param(
        2, min=2, max=MAX_VOCAB - 2,
        help=f"symbols in the alphabet (the paper's binary strings: 2); at most {MAX_VOCAB - 2} (int32 ids)",
    )

    def _rearranged(self, strings: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        answers = np.arange(strings.shape[1])[None, :]
        odd_count = (lengths // 2)[:, None]
        source = np.where(answers < odd_count, 2 * answers + 1, 2 * (answers - odd_count))
        return np.take_along_axis(strings, np.clip(source, 0, strings.shape[1] - 1), axis=1)


@dataclass
class BucketSort(_RearrangedString):
    name = "bucket-sort"
    description = (
        "a string over vocab symbols, then as many slots; answer it sorted (Delétang et al. 2023's "
        "bucket sort, context-sensitive)"
    )
    length_param = "length"
    smoke = {"length": 10}

    length: int = param(40, min=1, help="N: symbols in the string; N answer slots follow")
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)
    vocab: int = param(
        5, min=2, max=MAX_VOCAB - 2,
        help=f"symbols in the alphabet (the paper's: 5); at most {MAX_VOCAB - 2} (int32 ids)",
    )

    def _rearranged(self, strings: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        # Slots and PAD sort after every symbol (as one value past the largest), so a
        # row's first ``length`` sorted values are its string's.
        past_symbols = np.int64(self.vocab) + 1
        return np.sort(np.where(strings != PAD_ID, strings.astype(np.int64), past_symbols), axis=1)


@dataclass
class MissingDuplicateString(LengthRangeTask):
    name = "missing-duplicate-string"
    description = (
        "a binary string written twice with one symbol masked, then a slot; answer the masked symbol "
        "(Delétang et al. 2023's missing duplicate string, context-sensitive)"
    )
    length_param = "length"
    smoke = {"length": 12}

    length: int = param(
        40, min=1,
        help="N: the input's tokens before its slot, the string (N // 2 symbols) twice, and an empty token "
        "when N is odd",
    )
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=self.length + 1, input_vocab=MISSING_SLOT + 1,
            target_length=1, target_vocab=SYMBOL_B + 1,
        )

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        tokens = np.zeros((count, self.length), dtype=TOKEN_DTYPE)
        half = length // 2
        if half == 0:  # N = 1: the reference's fixed input, its symbol 1
            tokens[:, 0] = SYMBOL_B
        else:
            string = rng.integers(SYMBOL_A, SYMBOL_B + 1, size=(count, half))
            tokens[:, : 2 * half] = np.concatenate([string, string], axis=1)
            tokens[np.arange(count), rng.integers(0, 2 * half, size=count)] = MASK
            tokens[:, 2 * half : length] = EMPTY
        return padded_with_slots(tokens, np.full(count, length), 1, MISSING_SLOT)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """The masked symbol's twin, half the duplicated string away; the reference's
        symbol 1 where nothing is masked (N = 1)."""
        inputs = np.asarray(inputs)
        lengths = np.sum((inputs != PAD_ID) & (inputs < MISSING_SLOT), axis=1)
        half = lengths // 2
        masked = np.argmax(inputs == MASK, axis=1)
        twin = np.where(masked < half, masked + half, masked - half)
        answer = np.where(np.any(inputs == MASK, axis=1), inputs[np.arange(len(inputs)), twin], SYMBOL_B)
        return answer[:, None].astype(TOKEN_DTYPE)
