"""Delétang et al. 2023's parity, modular arithmetic and reverse string, and their
length-generalisation protocol (train on every length up to N, test longer)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench_tasks import ModularArithmetic, Parity, ReverseString

SLOT = 3


def strings(inputs: np.ndarray) -> list[list[int]]:
    """Each row's symbols: up to its first answer slot (PAD and slots dropped)."""
    return [list(row[: list(row).index(row.max())]) for row in inputs]


def test_parity_is_whether_the_count_of_b_is_odd_and_the_answer_is_due_at_one_slot():
    examples = Parity(length=20).generate(2000, np.random.default_rng(0), "test")
    assert examples.inputs.shape == (2000, 21)
    assert (examples.inputs[:, -1] == SLOT).all() and set(np.unique(examples.inputs[:, :-1])) == {1, 2}
    expected = [1 + row.count(2) % 2 for row in map(list, examples.inputs[:, :-1])]
    assert examples.targets[:, 0].tolist() == expected
    assert 0.46 < np.mean(examples.targets == 2) < 0.54


def expression(row: np.ndarray, modulus: int = 5) -> str:
    symbols = {modulus + 1: "+", modulus + 2: "-", modulus + 3: "*"}
    return "".join(symbols.get(int(t), str(int(t) - 1)) for t in row if 0 < t < modulus + 4)


def test_modular_arithmetic_is_python_arithmetic_with_precedence_modulo_5():
    task = ModularArithmetic(length=9, min_length=1)
    examples = task.generate(500, np.random.default_rng(1), "train")
    written = [expression(row) for row in examples.inputs]
    assert {len(text) for text in written} == {1, 3, 5, 7, 9}  # odd lengths, 1..9
    assert examples.targets[:, 0].tolist() == [1 + eval(text) % 5 for text in written]
    # Delétang et al.'s examples.
    assert ModularArithmetic().solve(np.array([[2, 6, 3, 8, 4, 9]]))[0, 0] - 1 == 2  # 1 + 2 * 3
    assert ModularArithmetic().solve(np.array([[2, 7, 2, 7, 2, 9]]))[0, 0] - 1 == 4  # 1 - 1 - 1


def test_reverse_string_answers_the_string_backwards_at_as_many_slots():
    examples = ReverseString(length=7).generate(50, np.random.default_rng(2), "test")
    assert (examples.inputs[:, 7:] == SLOT).all()
    assert examples.targets.tolist() == [row[:7][::-1].tolist() for row in examples.inputs]


@pytest.mark.parametrize("cls", [Parity, ModularArithmetic])
def test_training_lengths_are_uniform_up_to_length_while_validation_and_test_are_exactly_length(cls):
    task = cls(length=15, min_length=3)
    train = task.generate(6000, np.random.default_rng(3), "train").inputs
    lengths = (train != 0).sum(axis=1) - 1  # less the answer slot
    wanted = np.arange(3, 16) if cls is Parity else np.arange(3, 16, 2)
    assert set(lengths) == set(wanted)
    assert np.bincount(lengths)[wanted].min() > 0.7 * len(train) / len(wanted)
    for split in ("validation", "test"):
        held_out = task.generate(200, np.random.default_rng(3), split).inputs
        assert ((held_out != 0).sum(axis=1) == (16 if cls is Parity else 16)).all()


@pytest.mark.parametrize("task, lengths", [(Parity(length=40, min_length=1), 40),
                                           (ModularArithmetic(length=39, min_length=1), 20)])
def test_training_lengths_stay_uniform_where_short_lengths_own_few_strings(task, lengths):
    # Rows drawn first and the split's own kept gave parity's lengths shares of
    # 0.022-0.032 against 0.025 (length 1: 2 strings, both train; length 2: 3 of 4),
    # modular arithmetic's 0.048-0.061 against 0.05. Each row's length is drawn first now.
    count = 20_000
    train = task.generate(count, np.random.default_rng(5), "train").inputs
    shares = np.bincount((train != 0).sum(axis=1) - 1)[1::1 if lengths == 40 else 2] / count
    assert len(shares) == lengths
    spread = 4 * np.sqrt((1 / lengths) * (1 - 1 / lengths) / count)  # 4 standard errors
    assert np.abs(shares - 1 / lengths).max() < spread


def test_only_the_train_split_with_min_length_changed_so_only_it_has_a_new_data_version():
    assert Parity(min_length=1).data_version() == ModularArithmetic(min_length=1).data_version() == 2
    assert Parity().data_version() is ModularArithmetic().data_version() is ReverseString().data_version() is None


def test_min_length_above_length_is_refused():
    with pytest.raises(ValueError, match="min_length"):
        Parity(length=4, min_length=5)


@pytest.mark.parametrize("cls", [Parity, ModularArithmetic, ReverseString])
def test_the_oracle_is_exact_at_lengths_longer_than_trained(cls):
    task = cls(length=8)
    for longer in (9, 40, 201):
        at_length = dataclasses.replace(task, length=longer)
        examples = at_length.generate(64, np.random.default_rng(longer), "test")
        assert np.array_equal(task.solve(examples.inputs), examples.targets)


def test_a_model_answering_fewer_positions_than_the_targets_scores_the_missing_ones_wrong():
    task = ReverseString(length=4)
    examples = task.generate(20, np.random.default_rng(4), "test")
    scores = task.score(examples.targets[:, :2], examples.targets)
    assert scores == {"accuracy": 0.5, "exact_match": 0.0}


SUITE = """
[suite]
name = "generalises"
[run]
epochs = 1
train_size = 200
eval_size = 100
batch_size = 100
eval_lengths = {eval_lengths}
[task]
name = "{task}"
length = {length}
min_length = 1
[[model]]
name = "oracle"
"""


@pytest.mark.parametrize(("task", "length", "eval_lengths"), [("parity", 10, [20, 60]), ("stack-manipulation", 8, [16, 40])])
def test_the_harness_trains_on_the_range_and_tests_each_longer_length(write_suite, store_path, task, length,
                                                                        eval_lengths):
    suite = write_suite(SUITE.format(task=task, length=length, eval_lengths=eval_lengths))
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    by_length = results.load_length_metrics(store_path)
    accuracy = by_length[by_length["name"] == "accuracy"]
    assert accuracy["length"].tolist() == eval_lengths and (accuracy["value"] == 1.0).all()
