"""The subsequence task (the "seq2seq shenanigans" experiment) and the oracle on it."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.data import SPLITS, Split
from seqbench.suite import load_suite
from seqbench_tasks import Subsequence
from seqbench_tasks.subsequence import split_of

DRAWS = 200_000


@pytest.fixture(scope="module")
def default_examples():
    return Subsequence().generate(DRAWS, np.random.default_rng(0))


def test_shapes_and_vocabularies_are_the_originals_at_the_defaults(default_examples):
    signature = Subsequence().signature
    assert (signature.inputs, signature.targets) == ("tokens", "tokens")
    assert (signature.input_length, signature.target_length) == (10, 8)
    assert (signature.input_vocab, signature.target_vocab) == (10, 10)
    assert default_examples.inputs.shape == (DRAWS, 10)
    assert default_examples.targets.shape == (DRAWS, 8)


def test_start_index_is_uniform_over_0_to_5_at_the_defaults(default_examples):
    start = default_examples.inputs[:, 0]
    assert set(np.unique(start)) == set(range(6))
    assert np.allclose(np.bincount(start) / DRAWS, 1 / 6, atol=0.005)


@pytest.mark.parametrize("split", SPLITS)
def test_start_and_length_follow_the_originals_joint_distribution_in_every_split(split):
    # The original: idx = randint(0, 5), then len = randint(2, 10 - 2 - idx), both inclusive.
    inputs = Subsequence().generate(DRAWS, np.random.default_rng(1), split=split).inputs
    observed = np.zeros((6, 9))
    np.add.at(observed, (inputs[:, 0], inputs[:, 1]), 1 / DRAWS)
    expected = np.zeros((6, 9))
    for start in range(6):
        expected[start, 2 : 8 - start + 1] = 1 / 6 / (8 - start - 1)
    assert np.abs(observed - expected).max() < 0.003
    assert np.all((observed > 0) == (expected > 0))


@pytest.mark.parametrize("split", SPLITS)
def test_digits_are_uniform_over_1_to_9_in_every_split(split):
    digits = Subsequence().generate(DRAWS, np.random.default_rng(8), split=split).inputs[:, 2:]
    assert set(np.unique(digits)) == set(range(1, 10))
    share = np.array([np.bincount(column, minlength=10)[1:] for column in digits.T]) / DRAWS
    # Every position, every digit. An eval split owns ~53k of the 9^6 digit prefixes,
    # so its shares sit ~0.0015 (one sd) from 1/9; 0.008 is over 5 sd.
    assert np.allclose(share, 1 / 9, atol=0.008)


def test_target_is_the_substring_then_zeros(default_examples):
    for row, target in zip(default_examples.inputs[:2_000], default_examples.targets[:2_000]):
        start, span, digits = row[0], row[1], row[2:]
        assert list(target[:span]) == list(digits[start : start + span])
        assert not target[span:].any()


@pytest.mark.parametrize("length", [3, 12, 50])
def test_target_is_the_substring_at_other_lengths(length):
    task = Subsequence(length=length, max_start=0 if length == 3 else 5, min_len=1)
    examples = task.generate(500, np.random.default_rng(2))
    for row, target in zip(examples.inputs, examples.targets):
        start, span = row[0], row[1]
        expected = np.zeros(length - 2, dtype=np.int32)
        expected[:span] = row[2 + start : 2 + start + span]
        np.testing.assert_array_equal(target, expected)


def test_substring_always_fits_and_long_sequences_need_more_than_ten_tokens():
    task = Subsequence(length=40)
    inputs = task.generate(20_000, np.random.default_rng(3)).inputs
    assert np.all(inputs[:, 0] + inputs[:, 1] <= 38)
    assert inputs[:, 1].max() == 38  # len tokens reach L-2: single tokens beyond 9
    assert inputs.max() < task.signature.input_vocab == 39


def test_max_len_caps_the_substring_length():
    inputs = Subsequence(length=30, max_len=4).generate(20_000, np.random.default_rng(4)).inputs
    assert set(np.unique(inputs[:, 1])) == {2, 3, 4}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"length": 4, "max_start": 0},
        {"length": 25},
        {"length": 100, "max_start": 60, "min_len": 5},
    ],
)
def test_oracle_scores_exact_match_and_token_accuracy_of_one(params):
    task = Subsequence(**params)
    examples = task.generate(3_000, np.random.default_rng(5), split="test")
    assert task.score(task.solve(examples.inputs), examples.targets) == {
        "exact_match": 1.0,
        "token_accuracy": 1.0,
    }


def test_one_wrong_token_costs_an_exact_match_but_one_token_of_accuracy():
    task = Subsequence()
    examples = task.generate(4, np.random.default_rng(6))
    predictions = examples.targets.copy()
    predictions[2, 7] = 5  # a digit where padding belongs
    scores = task.score(predictions, examples.targets)
    assert scores == {"exact_match": 0.75, "token_accuracy": 1 - 1 / 32}


def test_predictions_for_other_examples_are_refused():
    task = Subsequence()
    examples = task.generate(4, np.random.default_rng(7))
    with pytest.raises(ValueError, match=r"shape \(4, 8\)"):
        task.score(examples.targets[:3], examples.targets)


def test_narrower_predictions_count_the_positions_they_miss_as_wrong_padding_included():
    task = Subsequence(length=14)
    examples = task.generate(256, np.random.default_rng(7))
    fits = np.all(examples.targets[:, 8:] == 0, axis=1)
    assert 0 < fits.mean() < 1  # rows whose answer fits in the 8 positions kept, and others
    # Padding is a target token here: a model answering 8 of 12 positions perfectly used
    # to score exact_match 0.83 and token_accuracy 0.97 (the missing ones padded as right).
    scores = task.score(examples.targets[:, :8], examples.targets)
    assert scores == {"exact_match": 0.0, "token_accuracy": pytest.approx(8 / 12)}


def _all_inputs(task: Subsequence) -> np.ndarray:
    """Every input the task can produce, enumerated."""
    digits = np.indices((9,) * task.digits).reshape(task.digits, -1).T + 1
    rows = []
    for start in range(task.max_start + 1):
        for span in range(task.min_len, task.digits - start + 1):
            head = np.broadcast_to([start, span], (len(digits), 2))
            rows.append(np.hstack([head, digits]))
    return np.concatenate(rows)


def test_every_possible_input_belongs_to_exactly_one_split_about_80_10_10():
    task = Subsequence(length=7, max_start=2)  # 9 (idx, len) pairs x 9^5 digit strings
    owner = split_of(_all_inputs(task))
    shares = np.bincount(owner, minlength=3) / len(owner)
    assert np.allclose(shares, [0.8, 0.1, 0.1], atol=0.005)


def test_train_validation_and_test_never_share_an_input_even_when_the_space_is_tiny():
    # 3 (idx, len) pairs x 9^3 digit strings: independent streams would collide at once.
    task = Subsequence(length=5, max_start=1)
    keys = {}
    for index, name in enumerate(SPLITS):
        inputs = Split(task, name, 5_000, seed=0).materialize().inputs
        assert np.all(split_of(inputs) == index)
        keys[name] = {row.tobytes() for row in inputs}
    assert not keys["train"] & keys["validation"]
    assert not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]
    assert len(keys["train"]) > 1_000  # the train split still spans most of the space


def test_splits_at_the_default_length_are_disjoint():
    task = Subsequence()
    keys = [
        {row.tobytes() for row in Split(task, name, 20_000, seed=1).materialize().inputs}
        for name in SPLITS
    ]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])


def test_an_unknown_split_is_refused():
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        Subsequence().generate(10, np.random.default_rng(0), split="dev")


@pytest.mark.parametrize(
    "params, named",
    [
        ({"length": 7, "max_start": 4}, "max_start \\+ min_len"),
        ({"length": 10, "min_len": 7}, "max_start \\+ min_len"),
        ({"max_len": 1}, "max_len \\(1\\) must be at least min_len \\(2\\)"),
        ({"min_len": 0}, "min_len"),
        ({"max_start": -1}, "max_start"),
        ({"length": 2, "max_start": 0, "min_len": 1}, "length"),
    ],
)
def test_inconsistent_parameters_raise_a_value_error_naming_them(params, named):
    with pytest.raises(ValueError, match=named):
        Subsequence(**params)


def test_a_suite_with_inconsistent_parameters_exits_2_naming_them(write_suite, store_path):
    suite = write_suite(
        """
        [task]
        name = "subsequence"
        length = 6
        max_start = 5
        [[model]]
        name = "oracle"
        """
    )
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 2
    assert "max_start + min_len" in result.output
    assert not store_path.exists()


def test_oracle_is_perfect_at_every_length_of_the_shipped_suite(store_path):
    result = CliRunner().invoke(
        main,
        ["run", "suites/subsequence.toml", "--smoke", "--jobs", "2", "--store", str(store_path)],
    )
    assert result.exit_code == 0, result.output
    frame = results.load(store_path)
    assert load_suite("suites/subsequence.toml").points[0].swept == ("task.length",)
    assert sorted(frame["task.length"].unique()) == [10, 20, 40, 80]
    assert (frame["status"] == "ok").all()
    assert (frame["metric.exact_match"] == 1.0).all()
    assert (frame["metric.token_accuracy"] == 1.0).all()
