"""Chomsky-hierarchy tasks that need a stack or a tape (Delétang et al. 2023, "Neural
networks and the Chomsky hierarchy", ICLR; code: github.com/google-deepmind/
neural_networks_chomsky_hierarchy): stack manipulation (deterministic context-free,
``tasks/dcf/stack_manipulation.py``) and duplicate string (context-sensitive,
``tasks/cs/duplicate_string.py``).

Ids are the reference's values plus one (0 is PAD). Stack manipulation: the stack's
symbols 0, 1 are ids 1, 2 (a, b), POP, PUSH a and PUSH b are 3, 4, 5 (their 2, 3, 4),
and the answer slot is 6; the target is the final stack top-to-bottom (ids 1, 2), then
the termination token 3 (their 2), then PAD where they pad with 0 and mask it out of
accuracy (their ``accuracy_mask``): scoring here leaves PAD targets out the same way.
Duplicate string: symbols 1..vocab (binary by default, as in the paper), slot vocab + 1;
the target is the string twice, without separator.

Answer slots, as chomsky.py does for reverse string: their models read the input
followed by ``output_length`` "empty targets"; here the input ends in one slot per
target position (length + 1 for stack manipulation, 2 * length for duplicate string).

Lengths (Delétang et al.'s protocol: train on every length up to N, test longer):
``min_length`` makes the train split draw each string's length uniformly in
min_length..length, then a string of that length it owns (as chomsky.py does; a length
of which it owns none is left out). Every row keeps the longest answer's slots
(target_length), so a causal reader's answers stay at the input's last target_length
non-PAD positions; a shorter row's answer fills the first of them and its other
targets are PAD (not scored). That is the one departure from the reference, whose
length-L batches get output_length(L) slots: validation, test and each
``run.eval_lengths`` length are exactly their length, with exactly the reference's
slots.

Splits: a hash of the whole input (PAD contributes nothing) puts every input in one split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench import Signature, param
from seqbench.task import PAD_ID
from seqbench_tasks.chomsky import MIN_LENGTH_HELP, SYMBOL_A, SYMBOL_B, LengthRangeTask, padded_with_slots
from seqbench_tasks.synthetic_tokens import MAX_VOCAB, TOKEN_DTYPE

__all__ = ["StackManipulation", "DuplicateString", "POP", "PUSH_A", "PUSH_B", "STACK_SLOT", "STACK_END"]

POP, PUSH_A, PUSH_B, STACK_SLOT = 3, 4, 5, 6
STACK_END = 3  # in the target: after the final stack's bottom symbol


@dataclass
class StackManipulation(LengthRangeTask):
    name = "stack-manipulation"
    description = (
        "a binary stack (bottom to top) and POP / PUSH a / PUSH b actions; answer the final stack "
        "top to bottom, then an end token (Delétang et al. 2023, deterministic context-free)"
    )
    length_param = "length"
    smoke = {"length": 10}

    length: int = param(
        40, min=1, help="N: the initial stack's symbols and the actions together; N + 1 answer slots follow"
    )
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=2 * self.length + 1, input_vocab=STACK_SLOT + 1,
            target_length=self.length + 1, target_vocab=STACK_END + 1, end_id=STACK_END,
        )

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        """Theirs: a stack of 1..length-1 symbols (of 1 at length 1, with no action),
        the rest actions, each uniform; then the slots of the longest answer."""
        stack = rng.integers(1, max(length, 2), size=count)
        symbols = rng.integers(SYMBOL_A, SYMBOL_B + 1, size=(count, self.length))
        actions = rng.integers(POP, PUSH_B + 1, size=(count, self.length))
        tokens = np.where(np.arange(self.length)[None, :] < stack[:, None], symbols, actions)
        return padded_with_slots(tokens, np.full(count, length), self.length + 1, STACK_SLOT)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """The stack simulated for every row at once (a loop over positions): the
        initial stack's symbols push themselves, POP on an empty stack does nothing."""
        inputs = np.asarray(inputs)
        count, width = inputs.shape
        rows = np.arange(count)
        stack = np.zeros((count, width + 1), dtype=np.int64)
        height = np.zeros(count, dtype=np.int64)
        for position in range((width - 1) // 2):  # past it: answer slots and PAD
            token = inputs[:, position]
            pushed = np.where(token >= PUSH_A, token - PUSH_A + SYMBOL_A, token)
            push = ((token >= SYMBOL_A) & (token <= SYMBOL_B)) | (token == PUSH_A) | (token == PUSH_B)
            stack[rows, height] = np.where(push, pushed, stack[rows, height])
            height = np.where(push, height + 1, np.where(token == POP, np.maximum(height - 1, 0), height))
        answers = np.arange((width + 1) // 2)[None, :]
        from_top = np.take_along_axis(stack, np.maximum(height[:, None] - 1 - answers, 0), axis=1)
        target = np.where(answers < height[:, None], from_top, PAD_ID)
        return np.where(answers == height[:, None], STACK_END, target).astype(TOKEN_DTYPE)


@dataclass
class DuplicateString(LengthRangeTask):
    name = "duplicate-string"
    description = (
        "a string, then twice as many slots; answer it twice without separator (Delétang et al. "
        "2023's duplicate string, context-sensitive)"
    )
    length_param = "length"
    smoke = {"length": 10}

    length: int = param(40, min=1, help="N: symbols in the string; 2N answer slots follow")
    min_length: int | None = param(None, min=1, help=MIN_LENGTH_HELP)
    vocab: int = param(
        2, min=2, max=MAX_VOCAB - 2,
        help=f"symbols in the alphabet (the paper's binary strings: 2); at most {MAX_VOCAB - 2} (int32 ids)",
    )

    @property
    def slot(self) -> int:
        return self.vocab + 1

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=3 * self.length, input_vocab=self.vocab + 2,
            target_length=2 * self.length, target_vocab=self.vocab + 1,
        )

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        symbols = rng.integers(1, self.vocab + 1, size=(count, self.length))
        return padded_with_slots(symbols, np.full(count, length), 2 * self.length, self.slot)

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs)
        length = inputs.shape[1] // 3
        strings = inputs[:, :length]
        lengths = np.sum((strings != PAD_ID) & (strings <= self.vocab), axis=1)[:, None]
        answers = np.arange(2 * length)[None, :]
        source = np.clip(np.where(answers < lengths, answers, answers - lengths), 0, length - 1)
        copied = np.take_along_axis(strings, source, axis=1)
        return np.where(answers < 2 * lengths, copied, PAD_ID).astype(TOKEN_DTYPE)
