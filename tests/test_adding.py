"""The adding task and the oracle on it."""

from __future__ import annotations

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
