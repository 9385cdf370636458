"""Delétang et al. 2023's binary addition (google-deepmind/neural_networks_chomsky_hierarchy,
tasks/cs/binary_addition.py), checked against Python's integers."""

from __future__ import annotations

import numpy as np

from seqbench_tasks import BinaryAddition
from test_task_statistics import _chi_square_is_uniform

# Ids: bits 0, 1; + (their 2); the slot; in targets 3 ends the sum (their 2).
BIT_0, BIT_1, PLUS, SLOT, END = 1, 2, 3, 4, 3


def number(bits: list[int]) -> int:
    """Little-endian ids to an integer: the first bit is the lowest."""
    return sum((token - BIT_0) << place for place, token in enumerate(bits))


def written(value: int) -> list[int]:
    """The reference's answer: little-endian without leading zeros (0 is "0")."""
    return [BIT_0 + int(digit) for digit in f"{value:b}"[::-1]]


def test_binary_addition_answers_the_sum_lowest_bit_first_then_the_end_token():
    length = 12
    examples = BinaryAddition(length=length, min_length=4).generate(500, np.random.default_rng(0), "train")
    assert examples.inputs.shape == (500, 25) and examples.targets.shape == (500, 13)
    for row, target in zip(examples.inputs.tolist(), examples.targets.tolist()):
        end = row.index(SLOT)
        assert row[end:] == [SLOT] * (length + 1) + [0] * (length - end)  # N + 1 slots, always
        expression = row[:end]
        assert expression.count(PLUS) == 1
        plus = expression.index(PLUS)
        total = number(expression[:plus]) + number(expression[plus + 1 :])
        assert target == written(total) + [END] + [0] * (length - len(written(total)))


def test_binary_addition_reproduces_the_references_examples():
    """Its docstring: 001 + 01101 -> 01011 then the end (4 + 22 = 26), and
    1001 + 000001 -> 100101 then the end (9 + 32 = 41); 0s after it, ours PAD."""
    task = BinaryAddition(length=11)
    inputs = np.array([
        [1, 1, 2, PLUS, 1, 2, 2, 1, 2] + [SLOT] * 12 + [0] * 2,
        [2, 1, 1, 2, PLUS, 1, 1, 1, 1, 1, 2] + [SLOT] * 12,
    ])
    assert task.solve(inputs).tolist() == [
        [1, 2, 1, 2, 2, END] + [0] * 6,
        [2, 1, 1, 2, 1, 2, END] + [0] * 5,
    ]


def test_binary_addition_draws_the_references_bit_counts_and_nonzero_numbers():
    """Theirs: the first number's bits n uniform in 1..N-2, the second's N-1-n; each
    number uniform in 1..2**bits - 1, its top bits possibly 0."""
    length = 12
    inputs = BinaryAddition(length=length).generate(6000, np.random.default_rng(1), "train").inputs[:, :length]
    plus = np.argmax(inputs == PLUS, axis=1)
    statistic, bound = _chi_square_is_uniform(plus, range(1, length - 1))
    assert statistic < bound, (statistic, bound)
    first = np.array([number(row[:at]) for row, at in zip(inputs.tolist(), plus)])
    second = np.array([number(row[at + 1 :]) for row, at in zip(inputs.tolist(), plus)])
    assert (first > 0).all() and (second > 0).all()
    for values, bits in ((first[plus == 3], 3), (second[plus == length - 4], 3), (first[plus == 5], 5)):
        statistic, bound = _chi_square_is_uniform(values, range(1, 2**bits))
        assert statistic < bound, (bits, statistic, bound)


def test_binary_addition_below_three_tokens_is_one_number_without_plus():
    """Theirs at N <= 2: a number uniform in 0..2**N - 2 (numpy's exclusive bound), in N
    bits, answered as itself: at N = 1 always 0; at N = 2 never 11 (3)."""
    one = BinaryAddition(length=1).generate(20, np.random.default_rng(2), "train")
    assert (one.inputs == [BIT_0, SLOT, SLOT]).all() and (one.targets == [BIT_0, END]).all()
    task = BinaryAddition(length=2)
    two = {tuple(row) for row in task.generate(200, np.random.default_rng(2), "train").inputs[:, :2].tolist()}
    assert two and two <= {(BIT_0, BIT_0), (BIT_1, BIT_0), (BIT_0, BIT_1)}
    every = np.array([[BIT_0, BIT_0, SLOT, SLOT, SLOT], [BIT_1, BIT_0] + [SLOT] * 3, [BIT_0, BIT_1] + [SLOT] * 3])
    assert task.solve(every).tolist() == [[BIT_0, END, 0], [BIT_1, END, 0], [BIT_0, BIT_1, END]]


def test_binary_addition_scores_nothing_past_the_end_token_as_the_references_mask():
    task = BinaryAddition(length=10)
    targets = task.generate(100, np.random.default_rng(3), "test").targets
    assert task.signature.end_id == END
    noisy = np.where(targets == 0, BIT_1, targets)
    assert task.score(noisy, targets) == {"accuracy": 1.0, "exact_match": 1.0}
    assert task.score(np.where(targets == END, BIT_0, targets), targets)["exact_match"] == 0.0
