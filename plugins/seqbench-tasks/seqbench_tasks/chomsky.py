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
length's strings (at length 1 there are two).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Examples, Signature, param
from seqbench.task import PAD_ID
from seqbench_tasks.synthetic_tokens import MAX_VOCAB, TOKEN_DTYPE, AnswerTask, draw_for_split, draw_lengths

__all__ = ["Parity", "ModularArithmetic", "ReverseString"]

# Binary strings: a = 1, b = 2; the answer slot 3.
SYMBOL_A, SYMBOL_B, BINARY_SLOT = 1, 2, 3
MIN_LENGTH_HELP = (
    "shortest training sequence: train examples take lengths uniform in min_length..length "
    "(Delétang et al.'s training on every length up to N); validation and test are exactly "
    "length; none: every split exactly length"
)


def _check_min_length(task: AnswerTask, length: int, min_length: int | None) -> None:
    if min_length is not None and min_length > length:
        raise ValueError(f"{task.name}: min_length ({min_length}) must be at most length ({length})")


def _padded(symbols: np.ndarray, lengths: np.ndarray, slots: np.ndarray | int, slot: int) -> np.ndarray:
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
class Parity(AnswerTask):
    name = "parity"
    description = (
        "is the number of b's in a binary string even or odd? (Delétang et al. 2023's "
        "parity check, regular; train up to length, test longer)"
    )
    length_param = "length"
    smoke = {"length": 12}

    length: int = param(40, min=1, help="N: symbols in the string (the longest, when training on a range)")
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)

    def __post_init__(self) -> None:
        _check_min_length(self, self.length, self.min_length)

    @property
    def signature(self) -> Signature:
        # Answers: 1 = even, 2 = odd.
        return Signature(
            inputs="tokens", targets="tokens", input_length=self.length + 1,
            input_vocab=BINARY_SLOT + 1, target_length=1, target_vocab=3,
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        def draw(n: int) -> np.ndarray:
            lengths = draw_lengths(rng, n, self.length, self.min_length, split)
            return _padded(rng.integers(SYMBOL_A, SYMBOL_B + 1, size=(n, self.length)), lengths, 1, BINARY_SLOT)

        inputs = draw_for_split(draw, count, split, self.name)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        odd = np.sum(np.asarray(inputs) == SYMBOL_B, axis=1) % 2
        return (1 + odd)[:, None].astype(TOKEN_DTYPE)


@dataclass
class ModularArithmetic(AnswerTask):
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

    def __post_init__(self) -> None:
        _check_min_length(self, self.length, self.min_length)

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

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        def draw(n: int) -> np.ndarray:
            # Expressions have odd length, number (operator number)*: the count of
            # numbers is what is drawn, uniform over the odd lengths in range.
            longest = (self.length + 1) // 2
            shortest = None if self.min_length is None else min(self.min_length // 2 + 1, longest)
            lengths = 2 * draw_lengths(rng, n, longest, shortest, split) - 1
            tokens = np.empty((n, self.length), dtype=TOKEN_DTYPE)
            tokens[:, 0::2] = rng.integers(1, 1 + self.modulus, size=(n, (self.length + 1) // 2))
            tokens[:, 1::2] = rng.integers(self.plus, self.plus + 3, size=(n, self.length // 2))
            return _padded(tokens, lengths, 1, self.slot)

        inputs = draw_for_split(draw, count, split, self.name)
        return Examples(inputs, self.solve(inputs))

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
            return _padded(symbols, np.full(n, self.length), self.length, BINARY_SLOT)

        inputs = draw_for_split(draw, count, split, self.name)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs)
        return inputs[:, : inputs.shape[1] // 2][:, ::-1].astype(TOKEN_DTYPE)
