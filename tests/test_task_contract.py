"""What every built-in task promises, checked the same way for each."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench.data import Split
from seqbench_tasks import Adding, GPPairs, Polynomial, Subsequence

TASKS = [Adding(seq_len=50), Subsequence(length=20), Polynomial(), GPPairs(length=50, context=10)]


@pytest.mark.parametrize("task", TASKS, ids=[task.name for task in TASKS])
def test_generation_is_deterministic_by_seed_and_differs_across_seeds(task):
    first = Split(task, "train", 2_000, seed=4).materialize()
    again = Split(task, "train", 2_000, seed=4).materialize()
    other = Split(task, "train", 2_000, seed=5).materialize()
    np.testing.assert_array_equal(first.inputs, again.inputs)
    np.testing.assert_array_equal(first.targets, again.targets)
    assert not np.array_equal(first.inputs, other.inputs)


@pytest.mark.parametrize("task", TASKS, ids=[task.name for task in TASKS])
def test_generated_shapes_match_the_signature(task):
    examples = Split(task, "test", 1_500, seed=0).materialize()
    signature = task.signature
    assert examples.inputs.shape[:2] == (1_500, signature.input_length)
    if signature.targets != "scalar":
        assert examples.targets.shape[1] == signature.target_length


@pytest.mark.parametrize("task", TASKS, ids=[task.name for task in TASKS])
def test_metrics_are_declared_and_include_the_primary(task):
    examples = Split(task, "test", 200, seed=0).materialize()
    scores = task.score(task.solve(examples.inputs), examples.targets)
    assert task.primary_metric in scores
    assert set(scores) == set(task.metrics)
