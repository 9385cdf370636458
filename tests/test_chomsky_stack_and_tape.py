"""Delétang et al. 2023's stack manipulation and duplicate string
(google-deepmind/neural_networks_chomsky_hierarchy, tasks/dcf/stack_manipulation.py and
tasks/cs/duplicate_string.py), checked against a stack and a copy computed here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from seqbench_tasks import DuplicateString, StackManipulation
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run
from test_task_statistics import _chi_square_is_uniform

# Stack manipulation's ids: a, b; POP, PUSH a, PUSH b; the slot; in targets 3 ends the stack.
A, B, POP, PUSH_A, PUSH_B, SLOT, END = 1, 2, 3, 4, 5, 6, 3


def final_stack(row: list[int]) -> list[int]:
    """The reference's loop on a Python list: the initial symbols, then each action;
    POP on an empty stack is ignored. The answer: top to bottom, then END."""
    stack: list[int] = []
    for token in row[: row.index(SLOT)]:
        if token in (A, B):
            stack.append(token)
        elif token == POP:
            if stack:
                stack.pop()
        else:
            stack.append(token - PUSH_A + A)
    return stack[::-1] + [END]


def test_stack_manipulation_answers_the_final_stack_top_to_bottom_then_the_end_token():
    task = StackManipulation(length=12, min_length=1)
    examples = task.generate(400, np.random.default_rng(0), "train")
    assert examples.inputs.shape == (400, 25) and examples.targets.shape == (400, 13)
    for row, target in zip(examples.inputs.tolist(), examples.targets.tolist()):
        length = row.index(SLOT)
        assert row[length:] == [SLOT] * 13 + [0] * (12 - length)  # N + 1 slots, always
        expected = final_stack(row)
        assert target == expected + [0] * (13 - len(expected))


def test_stack_manipulation_reproduces_the_references_examples():
    """Its docstring: 0 1 1 0 PUSH 1 POP POP -> 1 1 0 2 0 0 0 0, and
    1 1 0 POP POP POP -> 2 0 0 0 0 0 0 (ids here: theirs + 1, padding PAD)."""
    task = StackManipulation(length=7)
    inputs = np.array([[A, B, B, A, PUSH_B, POP, POP] + [SLOT] * 8, [B, B, A, POP, POP, POP, 0] + [SLOT] * 8])
    assert task.solve(inputs).tolist() == [[B, B, A, END, 0, 0, 0, 0], [END] + [0] * 7]


def test_stack_manipulation_draws_the_references_stack_sizes_symbols_and_actions():
    """Theirs: a stack of uniform 1..N-1 symbols, each uniform over 0, 1, then the
    remaining N - size actions, each uniform over POP, PUSH 0, PUSH 1."""
    length = 10
    inputs = StackManipulation(length=length).generate(6000, np.random.default_rng(1), "train").inputs[:, :length]
    actions = inputs >= POP
    sizes = np.argmax(actions, axis=1)
    assert (actions.sum(axis=1) == length - sizes).all()  # every action after the stack
    for drawn, support in ((sizes, range(1, length)), (inputs[~actions], range(A, B + 1)),
                           (inputs[actions], range(POP, PUSH_B + 1))):
        statistic, bound = _chi_square_is_uniform(drawn, support)
        assert statistic < bound, (support, statistic, bound)


def test_stack_manipulation_at_length_one_is_one_symbol_and_no_action():
    examples = StackManipulation(length=1).generate(50, np.random.default_rng(2), "train")
    assert set(examples.inputs[:, 0].tolist()) == {A, B} and (examples.inputs[:, 1:] == SLOT).all()
    assert np.array_equal(examples.targets, np.stack([examples.inputs[:, 0], np.full(50, END)], axis=1))


def test_stack_manipulation_scores_nothing_past_the_end_token_as_the_references_mask():
    task = StackManipulation(length=8)
    targets = task.generate(100, np.random.default_rng(3), "test").targets
    noisy = np.where(targets == 0, 2, targets)  # anything after the end
    assert task.signature.end_id == END
    assert task.score(noisy, targets) == {"accuracy": 1.0, "exact_match": 1.0}
    wrong_end = np.where(targets == END, A, targets)
    assert task.score(wrong_end, targets)["exact_match"] == 0.0


@pytest.mark.parametrize("vocab", [2, 5])
def test_duplicate_string_answers_the_string_twice_at_twice_as_many_slots(vocab):
    task = DuplicateString(length=9, min_length=1, vocab=vocab)
    examples = task.generate(300, np.random.default_rng(4), "train")
    assert examples.inputs.shape == (300, 27) and examples.targets.shape == (300, 18)
    slot = vocab + 1
    for row, target in zip(examples.inputs.tolist(), examples.targets.tolist()):
        string = row[: row.index(slot)]
        assert row[len(string):] == [slot] * 18 + [0] * (9 - len(string))
        assert target == string + string + [0] * (18 - 2 * len(string))
    symbols = examples.inputs[(examples.inputs > 0) & (examples.inputs < slot)]
    statistic, bound = _chi_square_is_uniform(symbols, range(1, vocab + 1))
    assert statistic < bound


def test_duplicate_string_reproduces_the_references_examples():
    """Its docstring: 101 -> 101101, 111111 -> 111111111111 (ids: theirs + 1)."""
    assert DuplicateString(length=3).solve(np.array([[2, 1, 2] + [3] * 6])).tolist() == [[2, 1, 2] * 2]
    assert DuplicateString(length=6).solve(np.array([[2] * 6 + [3] * 12])).tolist() == [[2] * 12]


@pytest.mark.parametrize("cls", [StackManipulation, DuplicateString])
def test_training_lengths_are_uniform_from_min_length_while_held_out_splits_are_exactly_length(cls):
    """Each row's length is drawn first, then a string of it the train split owns, so
    even short lengths (duplicate string: 4 strings of 2 symbols) keep their share."""
    task = cls(length=10, min_length=2)
    train = task.generate(4000, np.random.default_rng(5), "train").inputs
    lengths = np.argmax(train == train.max(), axis=1)  # the first slot
    statistic, bound = _chi_square_is_uniform(lengths, range(2, 11))
    assert statistic < bound, (statistic, bound)
    for split in ("validation", "test"):
        held_out = task.generate(100, np.random.default_rng(5), split).inputs
        assert (held_out != 0).all()


@pytest.mark.parametrize("task", [StackManipulation(length=8, min_length=1), DuplicateString(length=8, min_length=1),
                                  DuplicateString(length=4, vocab=7)], ids=["stack", "duplicate", "duplicate-vocab-7"])
def test_the_oracle_is_exact_on_every_split_and_at_longer_lengths(task):
    for split in ("train", "validation", "test"):
        examples = task.generate(200, np.random.default_rng(6), split)
        assert task.score(task.solve(examples.inputs), examples.targets) == {"accuracy": 1.0, "exact_match": 1.0}
    for longer in (9, 40, 201):
        examples = dataclasses.replace(task, length=longer).generate(64, np.random.default_rng(longer), "test")
        assert np.array_equal(task.solve(examples.inputs), examples.targets)


@pytest.mark.parametrize("cls", [StackManipulation, DuplicateString])
def test_data_are_deterministic_per_seed_and_splits_never_share_an_input(cls):
    task = cls(length=7, min_length=1)  # few strings: repeats are common
    first = task.generate(500, np.random.default_rng(7), "train")
    again = task.generate(500, np.random.default_rng(7), "train")
    assert np.array_equal(first.inputs, again.inputs) and np.array_equal(first.targets, again.targets)
    assert not np.array_equal(first.inputs, task.generate(500, np.random.default_rng(8), "train").inputs)
    seen = {split: set(map(tuple, task.generate(1500, np.random.default_rng(9), split).inputs.tolist()))
            for split in ("train", "validation", "test")}
    assert len(seen["test"]) >= 10  # duplicate string: 128 strings of 7 symbols, a tenth of them
    assert not (seen["train"] & seen["validation"] or seen["train"] & seen["test"] or seen["validation"] & seen["test"])


def test_min_length_above_length_is_refused():
    for cls in (StackManipulation, DuplicateString):
        with pytest.raises(ValueError, match="min_length"):
            cls(length=4, min_length=5)


@pytest.mark.parametrize("task, setting, fragments", [
    ("duplicate-string", "vocab = 2147483647", ["[task] vocab: expected int between 2 and 2147483646"]),
    ("duplicate-string", "vocab = 1", ["[task] vocab: expected int between 2 and 2147483646"]),
    ("stack-manipulation", "length = 0", ["[task] length: expected int >= 1"]),
    ("stack-manipulation", "length = 4\nmin_length = 5", ["[task] stack-manipulation", "min_length (5)"]),
], ids=["vocab-past-int32", "vocab-one", "stack-empty", "min-length-above-length"])
def test_a_bad_parameter_is_one_line_naming_it(tmp_path, store_path, task, setting, fragments):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "{task}"\n{setting}\n' + ORACLE)
    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path), "--dry-run"), store_path, *fragments)


def test_at_its_vocabulary_bound_duplicate_string_makes_ids_within_int32():
    task = DuplicateString(length=3, vocab=2**31 - 2)
    examples = task.generate(4, np.random.default_rng(0))
    assert task.signature.input_vocab == 2**31 and examples.inputs.max() < 2**31 and examples.inputs.min() >= 0
