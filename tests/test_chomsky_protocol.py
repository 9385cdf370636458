"""Delétang et al. 2023's length-generalisation protocol for even pairs, cycle
navigation, odds first, bucket sort, missing duplicate string and binary addition:
training lengths uniform from min_length, held-out splits exactly length, an exact
oracle at longer lengths, disjoint splits, and parameters refused in one line."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench_tasks import BinaryAddition, BucketSort, CycleNavigation, EvenPairs, MissingDuplicateString, OddsFirst
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run
from test_task_statistics import _chi_square_is_uniform

CLASSES = [EvenPairs, CycleNavigation, OddsFirst, BucketSort, MissingDuplicateString, BinaryAddition]
IDS = [cls.name for cls in CLASSES]
# The shortest length to train from where the train split owns inputs of every length:
# binary addition has one input at lengths 1 and 3 (0, 1+1), missing duplicate string
# one at length 1, and the hash may give them to another split.
SHORTEST = {"binary-addition": 4, "missing-duplicate-string": 2}


def string_lengths(task, inputs: np.ndarray) -> np.ndarray:
    """Each row's tokens before its answer slots (every row has the signature's slots)."""
    slots = task.signature.input_length - task.length
    return (inputs != 0).sum(axis=1) - slots


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_training_lengths_are_uniform_from_min_length_while_held_out_splits_are_exactly_length(cls):
    shortest = SHORTEST.get(cls.name, 1)
    task = cls(length=10, min_length=shortest)
    train = task.generate(3000, np.random.default_rng(0), "train").inputs
    statistic, bound = _chi_square_is_uniform(string_lengths(task, train), range(shortest, 11))
    assert statistic < bound, (statistic, bound)
    for split in ("validation", "test"):
        held_out = task.generate(100, np.random.default_rng(0), split).inputs
        assert (held_out != 0).all()  # exactly length: no PAD


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_the_oracle_is_exact_on_every_split_and_at_longer_lengths(cls):
    task = cls(length=8, min_length=SHORTEST.get(cls.name, 1))
    for split in ("train", "validation", "test"):
        examples = task.generate(200, np.random.default_rng(1), split)
        assert task.score(task.solve(examples.inputs), examples.targets) == {"accuracy": 1.0, "exact_match": 1.0}
    for longer in (9, 40, 201):
        examples = dataclasses.replace(task, length=longer).generate(64, np.random.default_rng(longer), "test")
        assert np.array_equal(task.solve(examples.inputs), examples.targets)


# Lengths with a few hundred inputs: repeats are common, and the test split owns some.
SMALL = {"even-pairs": 8, "cycle-navigation": 5, "odds-first": 8, "bucket-sort": 4,
         "missing-duplicate-string": 10, "binary-addition": 7}


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_data_are_deterministic_per_seed_and_splits_never_share_an_input(cls):
    task = cls(length=SMALL[cls.name])
    first = task.generate(500, np.random.default_rng(2), "train")
    again = task.generate(500, np.random.default_rng(2), "train")
    assert np.array_equal(first.inputs, again.inputs) and np.array_equal(first.targets, again.targets)
    assert not np.array_equal(first.inputs, task.generate(500, np.random.default_rng(3), "train").inputs)
    seen = {split: set(map(tuple, task.generate(1500, np.random.default_rng(4), split).inputs.tolist()))
            for split in ("train", "validation", "test")}
    assert len(seen["train"]) < 1500 and len(seen["test"]) >= 10  # repeats drawn; the test split owns some
    assert not (seen["train"] & seen["validation"] or seen["train"] & seen["test"] or seen["validation"] & seen["test"])


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_min_length_above_length_is_refused_naming_both(cls):
    with pytest.raises(ValueError, match=r"min_length \(5\) must be at most length \(4\)"):
        cls(length=4, min_length=5)


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_data_have_no_version_as_they_never_changed(cls):
    assert cls().data_version() is None and cls(min_length=1).data_version() is None


@pytest.mark.parametrize("task, setting, fragments", [
    ("odds-first", "vocab = 2147483647", ["[task] vocab: expected int between 2 and 2147483646"]),
    ("bucket-sort", "vocab = 1", ["[task] vocab: expected int between 2 and 2147483646"]),
    ("binary-addition", "length = 0", ["[task] length: expected int >= 1"]),
    ("cycle-navigation", "min_length = 0", ["[task] min_length: expected int >= 1"]),
    ("even-pairs", "length = 4\nmin_length = 5", ["[task] even-pairs", "min_length (5) must be at most length (4)"]),
    ("missing-duplicate-string", "vocab = 3", ["[task] vocab: unknown parameter; allowed: length, min_length"]),
], ids=["vocab-past-int32", "vocab-one", "length-zero", "min-length-zero", "min-length-above-length", "no-vocab"])
def test_a_bad_parameter_is_one_line_naming_it(tmp_path, store_path, task, setting, fragments):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "{task}"\n{setting}\n' + ORACLE)
    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path), "--dry-run"), store_path, *fragments)


SUITE = """
[suite]
name = "generalises"
[run]
epochs = 1
train_size = 200
eval_size = 100
batch_size = 100
eval_lengths = [16, 33]
[task]
name = "{task}"
length = 12
min_length = {min_length}
[[model]]
name = "oracle"
"""


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_the_harness_trains_on_the_range_and_tests_each_longer_length(write_suite, store_path, cls):
    suite = write_suite(SUITE.format(task=cls.name, min_length=SHORTEST.get(cls.name, 1)))
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    runs = results.load(store_path)
    assert runs["status"].tolist() == ["ok"]
    by_length = results.load_length_metrics(store_path)
    accuracy = by_length[by_length["name"] == "accuracy"]
    assert accuracy["length"].tolist() == [16, 33] and (accuracy["value"] == 1.0).all()
