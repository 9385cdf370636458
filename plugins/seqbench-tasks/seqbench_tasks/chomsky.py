"""Chomsky-hierarchy tasks (Delétang et al. 2023, "Neural networks and the Chomsky
hierarchy", ICLR; Appendix A): parity check and modular arithmetic (regular), reverse
string (deterministic context-free).

Their length-generalisation protocol: train on every length up to N (their N = 40,
lengths drawn uniformly per batch), test on longer ones (their 41..500). Here
``min_length`` makes the train split draw each example's length uniformly in
min_length..length (right-padded with PAD_ID); validation and test are exactly
``length``, and ``run.eval_lengths`` tests exactly each longer length. Their models
read the input followed by one "empty target" per output token and answer there; the
inputs here end with those answer slots (a slot token), so a causal model answers at
the input's last target_length non-PAD positions.

Splits: a hash of the whole input (PAD contributes nothing) puts every input in one
split; short training lengths have few strings, and a split may own none of a given
length's strings (at length 1 there are two). With ``min_length`` the train split draws
each row's length first, uniformly over the lengths of which it owns any string, then
that row from the strings of that length it owns (``draw_lengths_first``): the length
marginal is uniform, as in Delétang et al.'s curriculum. (Drawing rows first and keeping
the train split's own gave parity at length 40, min_length 1, length shares 0.022-0.032
against 0.025: data version 2 since.) A length of which the train split owns no string
is left out of the curriculum, so the others share its rows (none of the shipped tasks'
lengths is: parity's length 1 strings are both train, and so are modular arithmetic's
single numbers at every modulus up to 39); none at all raises.

What the hash cannot keep is a short length's labels balanced: the train split owns
the strings it owns, however few. Parity: length 2, 3 of 4 strings (2 even, 1 odd, so
2/3 of its rows answer "even"); length 4, 11 of 16 (6 even, 5 odd); length 5, 28 of 32;
length 6, 48 of 64. Modular arithmetic's 5 single numbers are all train, its 75
three-token expressions 67. From about length 8 (211 of 256 parity strings) a length's
strings split 80/10/10 and its labels balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from seqbench import Examples, Signature, param
from seqbench.task import PAD_ID
from seqbench_tasks.synthetic_tokens import (
    MAX_VOCAB,
    TOKEN_DTYPE,
    AnswerTask,
    draw_for_split,
    draw_lengths_first,
    lengths_owned,
)

__all__ = [
    "Parity", "ModularArithmetic", "ReverseString",
    # shared with the other Chomsky-hierarchy modules
    "LengthRangeTask", "MIN_LENGTH_HELP", "check_min_length", "padded_with_slots",
]

# Binary strings: a = 1, b = 2; the answer slot 3.
SYMBOL_A, SYMBOL_B, BINARY_SLOT = 1, 2, 3
MIN_LENGTH_HELP = (
    "shortest training sequence: train examples take lengths uniform in min_length..length "
    "(Delétang et al.'s training on every length up to N); validation and test are exactly "
    "length; none: every split exactly length"
)


def check_min_length(task: AnswerTask, length: int, min_length: int | None) -> None:
    if min_length is not None and min_length > length:
        raise ValueError(f"{task.name}: min_length ({min_length}) must be at most length ({length})")


class LengthRangeTask(AnswerTask):
    """A task whose train split may take every length from ``min_length`` to ``length``
    (Delétang et al.'s curriculum; module docstring), validation and test exactly
    ``length``. A subclass declares the ``length`` and ``min_length`` parameters and
    makes candidate rows of one length with ``_rows(rng, count, length)``; where its
    rows count length in another unit (modular arithmetic: numbers), it says so with
    ``_full_length`` and ``_train_range``."""

    if TYPE_CHECKING:  # each subclass declares them as parameters
        length: int
        min_length: int | None

    def __post_init__(self) -> None:
        check_min_length(self, self.length, self.min_length)

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        raise NotImplementedError

    def _full_length(self) -> int:
        """The length of validation and test rows, in ``_rows``' unit."""
        return self.length

    def _train_range(self) -> range:
        """The training lengths with ``min_length``, in ``_rows``' unit."""
        return range(self.min_length or self.length, self.length + 1)

    @cached_property
    def _train_lengths(self) -> tuple[int, ...]:
        """The training lengths of which the train split owns rows: the others are left
        out of the curriculum (module docstring); none at all raises."""
        lengths = self._train_range()
        owned = lengths_owned(self._rows, lengths, "train")
        if not owned:
            raise ValueError(
                f"{self.name}: the train split owns no input of any length in {lengths.start}..{lengths.stop - 1}; "
                "make the length or min_length larger"
            )
        return owned

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        if split == "train" and self.min_length is not None:
            inputs = draw_lengths_first(self._rows, rng, count, self._train_lengths, split, self.name)
        else:
            inputs = draw_for_split(lambda n: self._rows(rng, n, self._full_length()), count, split, self.name)
        return Examples(inputs, self.solve(inputs))


def padded_with_slots(symbols: np.ndarray, lengths: np.ndarray, slots: np.ndarray | int, slot: int) -> np.ndarray:
    """Rows of ``symbols`` cut to ``lengths``, each followed by its answer slots, then
    PAD: (N, symbols' width + the most slots)."""
    count, width = symbols.shape
    slots = np.broadcast_to(np.asarray(slots), (count,))
    total = width + int(slots.max())
    columns = np.arange(total)[None, :]
    rows = np.where(columns < lengths[:, None], np.pad(symbols, ((0, 0), (0, total - width))), PAD_ID)
    in_slots = (columns >= lengths[:, None]) & (columns < (lengths + slots)[:, None])
    return np.where(in_slots, slot, rows).astype(TOKEN_DTYPE)


@dataclass
class Parity(LengthRangeTask):
    name = "parity"
    description = (
        "is the number of b's in a binary string even or odd? (Delétang et al. 2023's "
        "parity check, regular; train up to length, test longer)"
    )
    length_param = "length"
    smoke = {"length": 12}

    length: int = param(40, min=1, help="N: symbols in the string (the longest, when training on a range)")
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)

    @property
    def signature(self) -> Signature:
        # Answers: 1 = even, 2 = odd.
        return Signature(
            inputs="tokens", targets="tokens", input_length=self.length + 1,
            input_vocab=BINARY_SLOT + 1, target_length=1, target_vocab=3,
        )

    def data_version(self) -> int | None:
        """2 with ``min_length``: the train split draws each row's length first (uniform)
        since; before, short lengths' shares were distorted by the split's hash."""
        return None if self.min_length is None else 2

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        symbols = rng.integers(SYMBOL_A, SYMBOL_B + 1, size=(count, self.length))
        return padded_with_slots(symbols, np.full(count, length), 1, BINARY_SLOT)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        odd = np.sum(np.asarray(inputs) == SYMBOL_B, axis=1) % 2
        return (1 + odd)[:, None].astype(TOKEN_DTYPE)


@dataclass
class ModularArithmetic(LengthRangeTask):
    """Expressions have odd length. An even ``length`` makes expressions of length - 1,
    as the reference does (``sample_batch`` subtracts one from an even length; it does
    not refuse one): the input keeps length + 1 columns, so one of them is PAD in every
    row, and an even ``run.eval_lengths`` length is scored on length - 1 tokens, the
    same expressions as the odd length below it."""

    name = "modular-arithmetic"
    description = (
        "the value modulo 5 of numbers joined by +, - and * without brackets (Delétang et al. "
        "2023's modular arithmetic (simple), regular; train up to length, test longer)"
    )
    length_param = "length"
    smoke = {"length": 11}

    length: int = param(
        39, min=1, help="tokens in the expression, odd (an even length means length - 1): numbers and operators"
    )
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)
    # Number v is id 1 + v, then +, -, * and the answer slot: the input vocabulary is
    # modulus + 5. (solve's products stay below modulus**2 < 2**62, int64's range.)
    modulus: int = param(
        5, min=2, max=MAX_VOCAB - 5,
        help=f"numbers are 0..modulus-1 and so is the answer; at most {MAX_VOCAB - 5} (int32 ids)",
    )

    # ids: number v is 1 + v; then +, -, * and the answer slot.
    @property
    def plus(self) -> int:
        return 1 + self.modulus

    @property
    def slot(self) -> int:
        return 4 + self.modulus

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=self.length + 1,
            input_vocab=self.slot + 1, target_length=1, target_vocab=1 + self.modulus,
        )

    def data_version(self) -> int | None:
        """2 with ``min_length``: the train split draws each row's length first (uniform)
        since; before, short lengths' shares were distorted by the split's hash."""
        return None if self.min_length is None else 2

    def _rows(self, rng: np.random.Generator, count: int, numbers: int) -> np.ndarray:
        """``count`` expressions of ``numbers`` numbers (length 2 * numbers - 1)."""
        tokens = np.empty((count, self.length), dtype=TOKEN_DTYPE)
        tokens[:, 0::2] = rng.integers(1, 1 + self.modulus, size=(count, (self.length + 1) // 2))
        tokens[:, 1::2] = rng.integers(self.plus, self.plus + 3, size=(count, self.length // 2))
        return padded_with_slots(tokens, np.full(count, 2 * numbers - 1), 1, self.slot)

    # Expressions have odd length, number (operator number)*: the count of numbers is
    # what is drawn, uniform over the odd lengths in range.
    def _full_length(self) -> int:
        return (self.length + 1) // 2

    def _train_range(self) -> range:
        longest = self._full_length()
        shortest = longest if self.min_length is None else min(self.min_length // 2 + 1, longest)
        return range(shortest, longest + 1)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """Multiplication before addition and subtraction, as in Delétang et al.'s example
        1 + 2 * 3 = 2 (mod 5): a scan over the operators keeps the sum of finished terms
        and the running term, for every row at once."""
        inputs = np.asarray(inputs, dtype=np.int64)
        modulus = self.modulus
        total = np.zeros(len(inputs), dtype=np.int64)
        term = inputs[:, 0] - 1
        for position in range(1, inputs.shape[1] - 1, 2):
            operator, number = inputs[:, position] - self.plus, inputs[:, position + 1] - 1
            active = (operator >= 0) & (operator < 3)  # past a row's end: the slot, PAD
            times = active & (operator == 2)
            starts = active & ~times  # + or -: the running term is finished
            total = np.where(starts, (total + term) % modulus, total)
            term = np.where(times, (term * number) % modulus, term)
            term = np.where(starts, np.where(operator == 0, number, -number) % modulus, term)
        return (1 + (total + term) % modulus)[:, None].astype(TOKEN_DTYPE)


@dataclass
class ReverseString(AnswerTask):
    name = "reverse-string"
    description = (
        "the binary string reversed (Delétang et al. 2023's reverse string, deterministic "
        "context-free; train at length, test longer)"
    )
    length_param = "length"
    smoke = {"length": 12}

    length: int = param(40, min=1, help="symbols in the string; as many answer slots follow")

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=2 * self.length,
            input_vocab=BINARY_SLOT + 1, target_length=self.length, target_vocab=BINARY_SLOT,
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        def draw(n: int) -> np.ndarray:
            symbols = rng.integers(SYMBOL_A, SYMBOL_B + 1, size=(n, self.length))
            return padded_with_slots(symbols, np.full(n, self.length), self.length, BINARY_SLOT)

        inputs = draw_for_split(draw, count, split, self.name)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs)
        return inputs[:, : inputs.shape[1] // 2][:, ::-1].astype(TOKEN_DTYPE)
