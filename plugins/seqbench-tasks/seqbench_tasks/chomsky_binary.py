"""Binary addition, a context-sensitive Chomsky-hierarchy task (Delétang et al. 2023,
"Neural networks and the Chomsky hierarchy", ICLR; code: github.com/google-deepmind/
neural_networks_chomsky_hierarchy, ``tasks/cs/binary_addition.py``).

The reference's generator, for an input of N tokens:

- N >= 3: the first number takes n bits, n uniform in 1..N-2, the second the other
  N - 1 - n; each number is uniform in 1..2**bits - 1 and written in exactly its bits,
  little-endian (lowest bit first: its top bits may be 0). The input is
  ``first + second``, with + as its token 2.
- N <= 2: one number, uniform in 0..2**N - 2, in N little-endian bits, and no +
  (``np.random.randint``'s bound is exclusive: at N = 1 the number is always 0).
- The answer is the sum, little-endian without leading zeros (0 is "0"), then a
  termination token (their 2), then 0s up to N + 1 tokens that their accuracy mask
  leaves out (``accuracy_mask``: up to and including the termination token).

Ids are the reference's values plus one (0 is PAD): bits 0, 1 are 1, 2; + is 3; the
answer slot 4; in the target the termination token is 3 and what follows it is PAD,
unscored, as the reference's mask (the signature's ``end_id``).

Answer slots, as chomsky_stack_and_tape.py does: their models read the input followed
by ``output_length`` = N + 1 "empty targets"; here the input ends in N + 1 slots.

Lengths (Delétang et al.'s protocol: train on every length up to N, test longer):
``min_length`` makes the train split draw each row's length uniformly in
min_length..length, then an input of that length it owns (chomsky.py's
``LengthRangeTask``; a length of which it owns none is left out: lengths 1 and 3 have
one input each, 0 and 1+1, and their split depends on N, as their N + 1 slots are
hashed with them). Every training row keeps the longest answer's
N + 1 slots, as stack manipulation does: a shorter row's answer fills the first of
them and the rest are PAD targets. Validation, test and each ``run.eval_lengths``
length are exactly their length, with exactly the reference's N + 1 slots.

Splits: a hash of the whole input (PAD contributes nothing) puts every input in one split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Signature, param
from seqbench.task import PAD_ID
from seqbench_tasks.chomsky import MIN_LENGTH_HELP, LengthRangeTask, padded_with_slots
from seqbench_tasks.synthetic_tokens import TOKEN_DTYPE

__all__ = ["BinaryAddition", "BIT_0", "BIT_1", "PLUS", "ADDITION_SLOT", "ADDITION_END"]

BIT_0, BIT_1, PLUS, ADDITION_SLOT = 1, 2, 3, 4
ADDITION_END = 3  # in the target: after the sum's highest bit


def _nonzero_bits(rng: np.random.Generator, widths: np.ndarray, columns: int) -> np.ndarray:
    """Rows of ``columns`` bits (0/1), each row's first ``widths`` uniform but not all 0
    (a number uniform in 1..2**width - 1), the rest 0. All-zero rows are drawn again,
    every such row at once: each round keeps at least half of them for good."""
    inside = np.arange(columns)[None, :] < widths[:, None]
    bits = rng.integers(0, 2, size=(len(widths), columns)) * inside
    zero = ~bits.any(axis=1)
    while zero.any():
        bits[zero] = rng.integers(0, 2, size=(int(zero.sum()), columns)) * inside[zero]
        zero = ~bits.any(axis=1)
    return bits


@dataclass
class BinaryAddition(LengthRangeTask):
    name = "binary-addition"
    description = (
        "two binary numbers, lowest bit first, joined by +; answer their sum lowest bit first, then an "
        "end token (Delétang et al. 2023's binary addition, context-sensitive)"
    )
    length_param = "length"
    smoke = {"length": 10}

    length: int = param(
        40, min=1,
        help="N: the input's tokens, both numbers and the + (one number at N <= 2); N + 1 answer slots follow",
    )
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=2 * self.length + 1, input_vocab=ADDITION_SLOT + 1,
            target_length=self.length + 1, target_vocab=ADDITION_END + 1, end_id=ADDITION_END,
        )

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        columns = np.arange(self.length)[None, :]
        if length <= 2:
            numbers = rng.integers(0, 2**length - 1, size=count)
            tokens = BIT_0 + ((numbers[:, None] >> columns) & 1)
        else:
            first_bits = rng.integers(1, length - 1, size=count)
            second_bits = length - 1 - first_bits
            first = _nonzero_bits(rng, first_bits, self.length)
            second = _nonzero_bits(rng, second_bits, self.length)
            after_plus = np.clip(columns - first_bits[:, None] - 1, 0, self.length - 1)
            tokens = np.where(
                columns < first_bits[:, None], BIT_0 + first,
                np.where(columns == first_bits[:, None], PLUS, BIT_0 + np.take_along_axis(second, after_plus, axis=1)),
            )
        return padded_with_slots(tokens, np.full(count, length), self.length + 1, ADDITION_SLOT)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """Ripple-carry addition, every row at once (a loop over bit positions); a row
        without + (N <= 2) is its one number."""
        inputs = np.asarray(inputs)
        count, width = inputs.shape
        longest = (width - 1) // 2  # the input's N; past it, slots and PAD
        lengths = np.sum((inputs != PAD_ID) & (inputs <= PLUS), axis=1)
        plus = np.where(np.any(inputs == PLUS, axis=1), np.argmax(inputs == PLUS, axis=1), lengths)
        rows = np.arange(count)

        def bit(position: np.ndarray, end: np.ndarray) -> np.ndarray:
            """Each row's bit at ``position`` if before ``end``, else 0."""
            return np.where(position < end, inputs[rows, np.minimum(position, width - 1)] - BIT_0, 0)

        total = np.zeros((count, longest + 1), dtype=np.int64)
        carry = np.zeros(count, dtype=np.int64)
        for position in range(longest + 1):
            at = np.full(count, position)
            column = bit(at, plus) + bit(plus + 1 + at, lengths) + carry
            total[:, position], carry = column % 2, column // 2
        # The sum's digits: up to its highest 1 (one digit, 0, for a zero sum).
        digits = np.maximum(longest + 1 - np.argmax(total[:, ::-1], axis=1), 1)
        digits = np.where(total.any(axis=1), digits, 1)
        answers = np.arange(longest + 1)[None, :]
        target = np.where(answers < digits[:, None], BIT_0 + total, PAD_ID)
        return np.where(answers == digits[:, None], ADDITION_END, target).astype(TOKEN_DTYPE)
