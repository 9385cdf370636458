"""Merrill, Petty & Sabharwal 2024's word problem (jopetty/word-problem): the running
product of uniform group elements, checked against products computed here by hand."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from seqbench_tasks import WordProblem
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run
from test_task_statistics import _chi_square_is_uniform


def _is_even(permutation: tuple[int, ...]) -> bool:
    """By its cycles: a permutation is even when its length less its cycle count is."""
    seen, cycles = set(), 0
    for start in range(len(permutation)):
        if start not in seen:
            cycles += 1
            at = start
            while at not in seen:
                seen.add(at)
                at = permutation[at]
    return (len(permutation) - cycles) % 2 == 0


def _elements(group: str) -> list:
    """The reference's elements in its order: permutations (tuples) in lexicographic
    order, cyclic elements as integers, a product's as pairs."""
    factors = []
    for factor in group.split("_x_"):
        n = int(factor[1:])
        if factor[0] == "Z":
            factors.append(list(range(n)))
        else:
            perms = list(itertools.permutations(range(n)))
            factors.append([p for p in perms if factor[0] == "S" or _is_even(p)])
    return factors[0] if len(factors) == 1 else list(itertools.product(*factors))


def _multiply(a, b, group: str):
    """abstract_algebra's product: Perm.__mul__ is a(b(i)); Z_n adds; pairs componentwise."""
    if group == "A4_x_Z5":
        return (_multiply(a[0], b[0], "A4"), (a[1] + b[1]) % 5)
    if group.startswith("Z"):
        return (a + b) % int(group[1:])
    return tuple(a[b[i]] for i in range(len(a)))


@pytest.mark.parametrize("group", ["S3", "S5", "A5", "Z60", "A4_x_Z5"])
def test_targets_are_the_running_products_multiplied_on_the_right(group):
    task = WordProblem(length=7, group=group)
    examples = task.generate(200, np.random.default_rng(0), "test")
    elements = _elements(group)
    assert task.signature.input_vocab == task.signature.target_vocab == 1 + len(elements)
    for row, target in zip(examples.inputs.tolist(), examples.targets.tolist()):
        product, expected = elements[0], []  # the identity is the reference's element 0
        for token in row:
            product = _multiply(product, elements[token - 1], group)
            expected.append(1 + elements.index(product))
        assert target == expected


def test_the_order_of_composition_is_the_reference_librarys():
    """In S3 (permutations of 1, 2, 3 in lexicographic order, element k = id k + 1),
    a = (2,1,3) and b = (1,3,2): abstract_algebra's a * b is a(b(i)) = (2,3,1), element
    3, while b * a = (3,1,2) is element 4. The sequence a, b multiplies to a * b."""
    task = WordProblem(length=2, group="S3")
    a, b = 3, 2
    assert task.solve(np.array([[a, b]])).tolist() == [[a, 1 + 3]]
    assert task.solve(np.array([[b, a]])).tolist() == [[b, 1 + 4]]


def test_without_tagging_the_answer_is_the_whole_product_at_the_last_element():
    tagged = WordProblem(length=9, group="S5")
    final = dataclasses.replace(tagged, tagging=False)
    examples = tagged.generate(100, np.random.default_rng(1), "test")
    assert final.signature.target_length == 1
    assert np.array_equal(final.solve(examples.inputs)[:, 0], examples.targets[:, -1])


def test_without_tagging_training_lengths_are_uniform_from_min_length_and_held_out_ones_exact():
    task = WordProblem(length=10, group="A5", tagging=False, min_length=2)
    train = task.generate(4000, np.random.default_rng(2), "train")
    lengths = (train.inputs != 0).sum(axis=1)
    statistic, bound = _chi_square_is_uniform(lengths, range(2, 11))
    assert statistic < bound
    shorter = train.inputs[lengths == 4][:, :4]
    assert np.array_equal(train.targets[lengths == 4], WordProblem(length=4, group="A5", tagging=False).solve(shorter))
    for split in ("validation", "test"):
        assert (task.generate(100, np.random.default_rng(2), split).inputs != 0).all()


@pytest.mark.parametrize("group", ["A5", "S3"])
def test_elements_and_running_products_are_uniform_over_the_group(group):
    """The reference draws each element uniformly (random.choices); a running product
    of uniform elements is itself uniform at every position."""
    task = WordProblem(length=10, group=group)
    examples = task.generate(3000, np.random.default_rng(3), "train")
    support = range(1, 1 + task.order)
    for drawn in (examples.inputs, examples.targets):
        statistic, bound = _chi_square_is_uniform(drawn, support)
        assert statistic < bound, (statistic, bound)


@pytest.mark.parametrize("settings", [{"group": "S5"}, {"group": "Z60", "tagging": False, "min_length": 1}])
def test_the_oracle_is_exact_on_every_split_and_at_longer_lengths(settings):
    task = WordProblem(length=6, **settings)
    for split in ("train", "validation", "test"):
        examples = task.generate(200, np.random.default_rng(4), split)
        assert task.score(task.solve(examples.inputs), examples.targets) == {"accuracy": 1.0, "exact_match": 1.0}
    for longer in (7, 50, 300):
        examples = dataclasses.replace(task, length=longer).generate(64, np.random.default_rng(longer), "test")
        assert np.array_equal(task.solve(examples.inputs), examples.targets)


def test_data_are_deterministic_per_seed_and_splits_never_share_an_input():
    task = WordProblem(length=4, group="S3")  # 1,296 sequences: repeats are common
    first = task.generate(500, np.random.default_rng(5), "train")
    again = task.generate(500, np.random.default_rng(5), "train")
    other = task.generate(500, np.random.default_rng(6), "train")
    assert np.array_equal(first.inputs, again.inputs) and np.array_equal(first.targets, again.targets)
    assert not np.array_equal(first.inputs, other.inputs)
    seen = {split: set(map(tuple, task.generate(1500, np.random.default_rng(7), split).inputs.tolist()))
            for split in ("train", "validation", "test")}
    assert len(seen["train"]) > 600 and len(seen["test"]) > 60
    assert not (seen["train"] & seen["validation"] or seen["train"] & seen["test"] or seen["validation"] & seen["test"])


def test_min_length_with_tagging_or_above_length_is_refused():
    with pytest.raises(ValueError, match="min_length needs tagging = false"):
        WordProblem(min_length=2)
    with pytest.raises(ValueError, match="min_length"):
        WordProblem(length=4, tagging=False, min_length=5)


@pytest.mark.parametrize("setting, fragments", [
    ('group = "S7"', ["[task] group: expected one of 'S3', 'S4', 'S5', 'A4', 'A5', 'Z60', 'A4_x_Z5'", "got 'S7'"]),
    ("length = 0", ["[task] length: expected int >= 1", "got 0"]),
    ("min_length = 2", ["[task] word-problem", "min_length needs tagging = false"]),
], ids=["unknown-group", "empty", "min-length-with-tagging"])
def test_a_bad_parameter_is_one_line_naming_it(tmp_path, store_path, setting, fragments):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "word-problem"\n{setting}\n' + ORACLE)
    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path), "--dry-run"), store_path, *fragments)


def test_the_groups_have_their_orders():
    orders = {"S3": 6, "S4": 24, "S5": 120, "A4": 12, "A5": 60, "Z60": 60, "A4_x_Z5": 60}
    assert {group: WordProblem(group=group).order for group in orders} == orders
