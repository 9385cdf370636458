"""Delétang et al. 2023's odds first, bucket sort and missing duplicate string
(google-deepmind/neural_networks_chomsky_hierarchy, tasks/cs/odds_first.py,
bucket_sort.py and missing_duplicate_string.py), checked against answers worked out
here from each task's rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from seqbench_tasks import BucketSort, MissingDuplicateString, OddsFirst

# Missing duplicate string's ids: a, b, the mask (their 2), the empty token (their 3), the slot.
A, B, MASK, EMPTY, SLOT = 1, 2, 3, 4, 5


def split_rows(inputs: np.ndarray, targets: np.ndarray, slot: int):
    """(string, its slots and PAD, target) per row."""
    for row, target in zip(inputs.tolist(), targets.tolist()):
        length = row.index(slot)
        yield row[:length], row[length:], target


@pytest.mark.parametrize("vocab", [2, 3])
def test_odds_first_answers_the_symbols_at_odd_indices_then_at_even_ones(vocab):
    length = 9
    examples = OddsFirst(length=length, min_length=1, vocab=vocab).generate(300, np.random.default_rng(0), "train")
    assert examples.inputs.shape == (300, 18) and examples.targets.shape == (300, 9)
    for string, rest, target in split_rows(examples.inputs, examples.targets, vocab + 1):
        assert rest == [vocab + 1] * length + [0] * (length - len(string))  # N slots, always
        odd = [symbol for index, symbol in enumerate(string) if index % 2 == 1]
        even = [symbol for index, symbol in enumerate(string) if index % 2 == 0]
        assert target == odd + even + [0] * (length - len(string))


def test_odds_first_takes_the_references_code_order_not_its_docstrings():
    """The reference's ``concatenate([s[:, 1::2], s[:, ::2]])``: 00110101 -> 0111 0100
    and 110 -> 1 10 (its docstring prints 0100 0111 and 10 1, the other order), and
    the paper's aaabaa -> abaaaa (its text: aaaaba). Ids: theirs + 1, slot 3."""
    task = OddsFirst(length=8)
    inputs = np.array([[1, 1, 2, 2, 1, 2, 1, 2] + [3] * 8, [2, 2, 1] + [3] * 8 + [0] * 5,
                       [1, 1, 1, 2, 1, 1] + [3] * 8 + [0] * 2])
    assert task.solve(inputs).tolist() == [
        [1, 2, 2, 2, 1, 2, 1, 1], [2, 2, 1, 0, 0, 0, 0, 0], [1, 2, 1, 1, 1, 1, 0, 0],
    ]


@pytest.mark.parametrize("vocab", [5, 2])
def test_bucket_sort_answers_the_string_sorted(vocab):
    length = 9
    examples = BucketSort(length=length, min_length=1, vocab=vocab).generate(300, np.random.default_rng(1), "train")
    assert examples.inputs.shape == (300, 18) and examples.targets.shape == (300, 9)
    for string, rest, target in split_rows(examples.inputs, examples.targets, vocab + 1):
        assert rest == [vocab + 1] * length + [0] * (length - len(string))
        assert target == sorted(string) + [0] * (length - len(string))


def test_bucket_sort_reproduces_the_references_examples():
    """Its docstring: 10204112 -> 00111224 (vocab 5), 1110001 -> 0001111 (vocab 2)."""
    five = BucketSort(length=8, vocab=5).solve(np.array([[2, 1, 3, 1, 5, 2, 2, 3] + [6] * 8]))
    two = BucketSort(length=7, vocab=2).solve(np.array([[2, 2, 2, 1, 1, 1, 2] + [3] * 7]))
    assert five.tolist() == [[1, 1, 2, 2, 2, 3, 3, 5]] and two.tolist() == [[1, 1, 1, 2, 2, 2, 2]]


def test_bucket_sort_answers_follow_the_order_statistics_of_uniform_symbols():
    """Position j of a sorted string of N uniform symbols over V holds v when fewer than
    j + 1 symbols are below v and at least j + 1 are at most v (binomial counts): so a
    model answering each position's likeliest symbol scores 0.778 at N = 40, V = 5
    (docs/suites.md), not 1/5. The generated answers give the same figure."""
    length, vocab, count = 40, 5, 4000
    below = [binom.cdf(np.arange(length), length, v / vocab) for v in range(vocab + 1)]
    exact = np.array([below[v] - below[v + 1] for v in range(vocab)])  # (symbol, position)
    majority = exact.max(axis=0).mean()
    assert abs(majority - 0.7778) < 1e-4
    targets = BucketSort(length=length).generate(count, np.random.default_rng(2), "train").targets
    drawn = np.stack([np.mean(targets == 1 + v, axis=0) for v in range(vocab)])
    assert np.abs(drawn - exact).max() < 5 * math.sqrt(0.25 / count)


def test_missing_duplicate_string_answers_the_masked_symbol_of_the_string_written_twice():
    length = 11
    examples = MissingDuplicateString(length=length, min_length=2).generate(500, np.random.default_rng(3), "train")
    assert examples.inputs.shape == (500, 12) and examples.targets.shape == (500, 1)
    lengths = set()
    for tokens, rest, target in split_rows(examples.inputs, examples.targets, SLOT):
        lengths.add(len(tokens))
        half = len(tokens) // 2
        assert rest == [SLOT] + [0] * (length - len(tokens))
        assert tokens[2 * half:] == [EMPTY] * (len(tokens) % 2)  # odd: the empty token last
        first, second = tokens[:half], tokens[half : 2 * half]
        assert (first + second).count(MASK) == 1 and set(first + second) <= {A, B, MASK}
        masked = (first + second).index(MASK) % half
        filled = second if MASK in first else first
        assert target == [filled[masked]]
        assert [s for i, s in enumerate(first) if i != masked] == [s for i, s in enumerate(second) if i != masked]
    assert lengths == set(range(2, 12))


def test_missing_duplicate_string_reproduces_the_references_examples():
    """Its docstring: 01100210 -> 1, 1011213 -> 0 (3: the empty token of an odd length);
    and at N = 1 its fixed input and answer, its symbol 1 (the one input, which the
    test split owns)."""
    task = MissingDuplicateString(length=8)
    inputs = np.array([[1, 2, 2, 1, 1, MASK, 2, 1, SLOT], [2, 1, 2, 2, MASK, 2, EMPTY, SLOT, 0]])
    assert task.solve(inputs).tolist() == [[B], [A]]
    single = MissingDuplicateString(length=1).generate(20, np.random.default_rng(4), "test")
    assert (single.inputs == [B, SLOT]).all() and (single.targets == B).all()

