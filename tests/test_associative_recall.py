"""Multi-query associative recall (MQAR) in zoology's format, queries closing the input."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench_tasks import AssociativeRecall


@pytest.fixture(scope="module")
def task():
    return AssociativeRecall(length=40, vocab=32, pairs=6, queries=4)


@pytest.fixture(scope="module")
def examples(task):
    return task.generate(3000, np.random.default_rng(0), "train")


def test_keys_and_values_are_distinct_and_from_zoologys_halves_of_the_vocabulary(examples):
    keys, values = examples.inputs[:, 0:12:2], examples.inputs[:, 1:12:2]
    assert keys.min() >= 1 and keys.max() < 16 and values.min() >= 16 and values.max() < 32
    assert all(len(set(row)) == 6 for row in keys) and all(len(set(row)) == 6 for row in values)


def test_queries_are_distinct_keys_of_the_context_and_each_answer_is_its_value(examples):
    for row, answer in zip(examples.inputs[:200], examples.targets[:200]):
        lookup = dict(zip(row[0:12:2], row[1:12:2]))
        asked = row[-4:]
        assert len(set(asked)) == 4 and set(asked) <= set(lookup)
        assert answer.tolist() == [lookup[key] for key in asked]


def test_filler_fills_the_gap_and_grows_with_length(task, examples):
    filler = examples.inputs[:, 12:36]
    assert filler.min() >= 1 and filler.max() < 32
    longer = AssociativeRecall(length=100, vocab=32, pairs=6, queries=4)
    more = longer.generate(10, np.random.default_rng(1), "test")
    assert more.inputs.shape == (10, 100)
    assert np.array_equal(task.solve(more.inputs), more.targets)


def test_zoologys_sizes_are_the_defaults():
    task = AssociativeRecall()
    assert (task.vocab, task.length, task.pairs, task.queries) == (8192, 64, 8, 8)


@pytest.mark.parametrize(
    "values, message",
    [({"pairs": 4, "queries": 5}, "at most pairs"), ({"length": 10, "pairs": 4, "queries": 4}, "must hold"),
     ({"vocab": 8, "pairs": 4, "queries": 1}, "vocab // 2 - 1")],
)
def test_impossible_sizes_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        AssociativeRecall(**values)
