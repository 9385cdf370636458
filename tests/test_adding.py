"""The adding task and the oracle on it."""

from __future__ import annotations

import math
import numpy as np
import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.data import Split
from seqbench.suite import load_suite
from seqbench_tasks import Adding


def test_each_sequence_has_exactly_two_markers_and_values_in_unit_interval():
    examples = Adding(seq_len=7).generate(5_000, np.random.default_rng(0))
    assert examples.inputs.shape == (5_000, 7, 2)
    values, markers = examples.inputs[..., 0], examples.inputs[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert values.min() >= 0.0 and values.max() < 1.0


def test_target_is_the_sum_of_the_two_marked_values():
    examples = Adding(seq_len=30).generate(100, np.random.default_rng(1))
    for inputs, target in zip(examples.inputs, examples.targets):
        marked = inputs[inputs[:, 1] == 1.0, 0]
        assert target == pytest.approx(float(marked[0]) + float(marked[1]), abs=1e-12)


def test_marker_positions_cover_the_whole_sequence():
    # Le et al. 2015 place the two markers anywhere; no position is favoured or left out.
    markers = Adding(seq_len=10).generate(20_000, np.random.default_rng(2)).inputs[..., 1]
    share = markers.sum(axis=0) / markers.sum()
    assert np.allclose(share, 0.1, atol=0.01)


def test_train_validation_and_test_never_share_an_example():
    task = Adding(seq_len=20)
    keys = {}
    for name in ("train", "validation", "test"):
        inputs = Split(task, name, 2_000, seed=0).materialize().inputs
        keys[name] = {row.tobytes() for row in inputs}
    assert not keys["train"] & keys["validation"]
    assert not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]


def test_oracle_solve_is_exact():
    task = Adding(seq_len=400)
    examples = task.generate(1_000, np.random.default_rng(3))
    assert task.score(task.solve(examples.inputs), examples.targets)["mse"] < 1e-10


def test_always_predicting_the_mean_scores_about_one_sixth():
    # The baseline the issue quotes (~0.17): twice the variance of U[0,1).
    task = Adding(seq_len=100)
    examples = task.generate(50_000, np.random.default_rng(4))
    assert task.score(np.full(len(examples), 1.0), examples.targets)["mse"] == pytest.approx(1 / 6, rel=0.03)


def test_oracle_scores_below_1e_10_at_every_length_of_the_length_sweep(store_path):
    result = CliRunner().invoke(
        main, ["run", "suites/length_sweep.toml", "--smoke", "--store", str(store_path)],
    )
    assert result.exit_code == 0, result.output
    frame = results.load(store_path)
    oracle = frame[frame["model"] == "oracle"]
    lengths = load_suite("suites/length_sweep.toml").points[0].swept
    assert lengths == ("task.seq_len",)
    assert sorted(oracle["task.seq_len"].unique()) == [100, 200, 400, 1000]
    assert len(oracle) == 4  # --smoke runs the first seed only
    assert (oracle["metric.mse"] < 1e-10).all()


def marker_positions(task: Adding, count: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    markers = task.generate(count, np.random.default_rng(5)).inputs[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    rows, columns = np.nonzero(markers)
    return columns[0::2], columns[1::2]  # per row: the earlier marker, the later one


def test_uniform_placement_is_the_unset_default_and_draws_the_same_data():
    unset = Adding(seq_len=12).generate(500, np.random.default_rng(6))
    uniform = Adding(seq_len=12, placement="uniform").generate(500, np.random.default_rng(6))
    np.testing.assert_array_equal(unset.inputs, uniform.inputs)


def test_halves_placement_puts_one_marker_uniformly_in_each_half():
    earlier, later = marker_positions(Adding(seq_len=10, placement="halves"))
    assert earlier.max() == 4 and later.min() == 5
    assert np.allclose(np.bincount(earlier, minlength=5) / len(earlier), 0.2, atol=0.015)
    assert np.allclose(np.bincount(later - 5, minlength=5) / len(later), 0.2, atol=0.015)


@pytest.mark.parametrize("length", [40, 41, 12])
def test_hochreiter_placement_is_the_first_of_ten_steps_then_one_of_the_first_t_2_minus_1_unmarked(length):
    """Hochreiter & Schmidhuber: "one of the first ten pairs, then one of the first
    T/2 - 1 still unmarked pairs". At T = 40 the second is one of 19 steps: 0..19 less
    the first marker's (the rule was read as 0..18 before, 18 choices). Each (first,
    second) pair's probability is 1/10 * 1/19; counts within 5 standard errors."""
    task = Adding(seq_len=length, placement="hochreiter")
    rows, columns = np.nonzero(task.generate(60_000, np.random.default_rng(5)).inputs[..., 1])
    both = columns.reshape(-1, 2)
    first_span, unmarked = min(10, length), length // 2 - 1
    allowed = {(f, s) for f in range(first_span)
               for s in [step for step in range(length) if step != f][:unmarked]}
    # The inputs do not say which marker was first: count unordered pairs.
    expected = {}
    for f, s in allowed:
        key = (min(f, s), max(f, s))
        expected[key] = expected.get(key, 0.0) + 1 / (first_span * unmarked)
    seen = {}
    for low, high in both.tolist():
        seen[(low, high)] = seen.get((low, high), 0) + 1
    assert set(seen) <= set(expected)
    n = len(both)
    for key, p in expected.items():
        assert abs(seen.get(key, 0) - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1, (key, seen.get(key), n * p)


@pytest.mark.parametrize(
    "params, named",
    [({"placement": "ends"}, "placement"), ({"seq_len": 5, "placement": "hochreiter"}, "seq_len")],
)
def test_a_bad_placement_is_a_value_error_naming_it(params, named):
    with pytest.raises(ValueError, match=named):
        Adding(**params)
