"""Delétang et al. 2023's even pairs and cycle navigation
(google-deepmind/neural_networks_chomsky_hierarchy, tasks/regular/even_pairs.py and
cycle_navigation.py), checked against pairs counted and walks taken here."""

from __future__ import annotations

import math

import numpy as np

from seqbench_tasks import CycleNavigation, EvenPairs
from test_task_statistics import _chi_square_is_uniform

# Ids: the reference's values plus one. Even pairs: a, b, the slot; answers even, odd.
A, B, PAIRS_SLOT, EVEN, ODD = 1, 2, 3, 1, 2
# Cycle navigation: their actions 0, 1, 2 move -1, 0, +1; the slot.
LEFT, STAY, RIGHT, CYCLE_SLOT = 1, 2, 3, 4


def test_even_pairs_answers_whether_the_count_of_ab_and_ba_pairs_is_even():
    examples = EvenPairs(length=20).generate(1000, np.random.default_rng(0), "test")
    assert examples.inputs.shape == (1000, 21) and examples.targets.shape == (1000, 1)
    assert (examples.inputs[:, -1] == PAIRS_SLOT).all()
    for row, target in zip(examples.inputs.tolist(), examples.targets.tolist()):
        pairs = sum(first != second for first, second in zip(row[:20], row[1:20]))
        assert target == [EVEN if pairs % 2 == 0 else ODD]


def test_even_pairs_reproduces_the_references_examples():
    """Its docstring: 001110 -> class 0 (one 10, one 01), 0101001 -> class 1 (two 10,
    three 01); and a single symbol has no pair."""
    task = EvenPairs(length=7)
    inputs = np.array([[A, A, B, B, B, A, PAIRS_SLOT, 0], [A, B, A, B, A, A, B, PAIRS_SLOT],
                       [B, PAIRS_SLOT, 0, 0, 0, 0, 0, 0]])
    assert task.solve(inputs).tolist() == [[EVEN], [ODD], [EVEN]]


def test_even_pairs_labels_are_balanced_as_half_of_all_longer_strings_are_odd():
    """Of the 2**N strings (N >= 2) exactly half have first != last: the reference's
    labels are balanced, and the train split (80% of a large space) keeps them so."""
    count = 20_000
    targets = EvenPairs(length=30).generate(count, np.random.default_rng(1), "train").targets
    assert abs(np.mean(targets == ODD) - 0.5) < 5 * math.sqrt(0.25 / count)


def walk(row: list[int]) -> int:
    """The reference's walk: state 0, each action adds (its value - 1), modulo 5."""
    state = 0
    for token in row[: row.index(CYCLE_SLOT)]:
        state = (state + token - STAY) % 5
    return state


def test_cycle_navigation_answers_the_final_state_of_the_walk():
    task = CycleNavigation(length=15, min_length=1)
    examples = task.generate(1000, np.random.default_rng(2), "train")
    assert examples.inputs.shape == (1000, 16) and task.signature.target_vocab == 6
    assert examples.targets[:, 0].tolist() == [1 + walk(row) for row in examples.inputs.tolist()]


def test_cycle_navigation_reproduces_the_references_examples():
    """Its docstring, in moves: 1 -1 0 -1 -1 -> -2 = state 3; 1 1 1 -1 -> state 2."""
    task = CycleNavigation(length=5)
    inputs = np.array([[RIGHT, LEFT, STAY, LEFT, LEFT, CYCLE_SLOT], [RIGHT, RIGHT, RIGHT, LEFT, CYCLE_SLOT, 0]])
    assert (task.solve(inputs)[:, 0] - 1).tolist() == [3, 2]


def test_cycle_navigation_states_are_uniform_at_length_40_as_the_walk_mixes():
    """The walk's distribution after 40 moves, from its transition matrix: every state
    within 1e-10 of 1/5 (after 2 moves it is far from it: 1/3 at state 0)."""
    states = np.zeros(5)
    states[0] = 1.0
    for moves in range(1, 41):
        states = (np.roll(states, -1) + states + np.roll(states, 1)) / 3
        if moves == 2:
            assert math.isclose(states[0], 1 / 3)
    assert np.abs(states - 0.2).max() < 1e-10
    targets = CycleNavigation(length=40).generate(6000, np.random.default_rng(3), "train").targets
    statistic, bound = _chi_square_is_uniform(targets, range(1, 6))
    assert statistic < bound, (statistic, bound)
