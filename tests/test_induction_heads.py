"""Induction heads in the H3 / Mamba format."""

from __future__ import annotations

import numpy as np

from seqbench_tasks import InductionHeads


def test_the_special_token_appears_twice_last_and_the_answer_is_what_followed_it():
    task = InductionHeads(length=30, vocab=6)
    examples = task.generate(2000, np.random.default_rng(0), "train")
    special = examples.inputs == 6
    assert (special.sum(axis=1) == 2).all() and special[:, -1].all()
    first = special.argmax(axis=1)
    assert examples.targets[:, 0].tolist() == examples.inputs[np.arange(2000), first + 1].tolist()
    assert set(np.unique(examples.targets)) == set(range(1, 6))


def test_the_first_special_token_is_anywhere_a_data_token_can_follow_it():
    inputs = InductionHeads(length=30, vocab=6).generate(20_000, np.random.default_rng(1), "train").inputs
    first = (inputs == 6).argmax(axis=1)
    counts = np.bincount(first, minlength=30)
    assert counts[28:].sum() == 0  # never the last two positions
    assert np.allclose(counts[:28] / len(inputs), 1 / 28, atol=0.006)


def test_inputs_longer_than_the_split_key_are_still_drawn_from_their_split():
    task = InductionHeads(length=300)
    examples = task.generate(64, np.random.default_rng(2), "test")
    assert examples.inputs.shape == (64, 300)
    assert np.array_equal(task.solve(examples.inputs), examples.targets)
    assert InductionHeads().signature.input_length == 256  # Mamba's training length
