"""The gp-pairs task (attention for GP sequence pairs) and its Bayes-optimal oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.data import Split
from seqbench.suite import load_suite
from seqbench_tasks import GPPairs


def specified_covariance(task: GPPairs) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (A, B) written out from the task's documented model."""
    x = np.arange(task.length) * task.spacing
    r = np.abs(np.subtract.outer(x, x)) / task.length_scale
    if task.kernel == "rbf":
        k = task.variance * np.exp(-(r**2) / 2)
    elif task.kernel == "matern52":
        k = task.variance * (1 + math.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-math.sqrt(5) * r)
    else:
        k = task.variance * (1 + math.sqrt(3) * r) * np.exp(-math.sqrt(3) * r)
    n = task.length
    cov = np.zeros((2 * n, 2 * n))
    cov[:n, :n] = k + task.noise * np.eye(n)
    cov[:n, n:] = cov[n:, :n] = k
    cov[n:, n:] = k + task.shift_std**2 + task.noise * np.eye(n)
    mean = np.concatenate([np.zeros(n), np.full(n, task.shift)])
    return mean, cov


def gaussian_conditional(
    mean: np.ndarray, cov: np.ndarray, observed: np.ndarray, hidden: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Textbook conditional of a joint Gaussian, via numpy.linalg.solve on the blocks."""
    s_oo = cov[np.ix_(observed, observed)]
    s_ho = cov[np.ix_(hidden, observed)]
    cond_mean = mean[hidden] + np.linalg.solve(s_oo, (values - mean[observed]).T).T @ s_ho.T
    cond_cov = cov[np.ix_(hidden, hidden)] - s_ho @ np.linalg.solve(s_oo, s_ho.T)
    return cond_mean, np.diag(cond_cov)


def observed_values(task: GPPairs, inputs: np.ndarray) -> np.ndarray:
    return np.concatenate([inputs[..., 1], inputs[:, : task.context, 2]], axis=1).astype(np.float64)


def oracle_floor(task: GPPairs) -> float:
    """Expected NLL per target point of the exact posterior: mean of (log(2 pi v) + 1) / 2."""
    mean, cov = specified_covariance(task)
    n, c = task.length, task.context
    observed, hidden = np.arange(n + c), np.arange(n + c, 2 * n)
    _, variance = gaussian_conditional(mean, cov, observed, hidden, np.zeros((1, n + c)))
    return float(np.mean(0.5 * (np.log(2 * math.pi * variance) + 1)))


def gaussian_nll(mean: np.ndarray, variance: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean(0.5 * (np.log(2 * math.pi * variance) + (targets - mean) ** 2 / variance)))


@pytest.mark.parametrize("kernel", ["rbf", "matern32", "matern52"])
def test_samples_have_the_specified_mean_and_covariance(kernel):
    task = GPPairs(length=6, context=2, kernel=kernel, length_scale=0.3, spacing=0.1,
                   variance=1.5, noise=0.2, shift=0.7, shift_std=1.2)
    examples = task.generate(200_000, np.random.default_rng(0))
    pairs = np.concatenate(
        [examples.inputs[..., 1], examples.inputs[:, :2, 2], examples.targets], axis=1
    ).astype(np.float64)
    mean, cov = specified_covariance(task)
    assert np.abs(pairs.mean(axis=0) - mean).max() < 0.02
    assert np.abs(np.cov(pairs, rowvar=False) - cov).max() < 0.05


def test_inputs_carry_the_grid_all_of_a_and_only_bs_context_with_its_mask():
    task = GPPairs(length=30, context=10, spacing=0.5)
    inputs = task.generate(50, np.random.default_rng(1)).inputs
    assert inputs.shape == (50, 30, 4) and task.signature.input_features == 4
    np.testing.assert_array_equal(inputs[..., 0], np.broadcast_to(np.arange(30) * 0.5, (50, 30)))
    np.testing.assert_array_equal(inputs[..., 3], np.broadcast_to(np.arange(30) < 10, (50, 30)))
    assert np.all(inputs[:, 10:, 2] == 0) and np.all(inputs[:, :10, 2] != 0)
    assert np.all(inputs[..., 1] != 0)


def test_targets_and_predictions_cover_b_after_the_context():
    task = GPPairs()
    assert (task.length, task.context, task.kernel) == (200, 50, "rbf")
    examples = task.generate(8, np.random.default_rng(2))
    assert examples.targets.shape == (8, 150) == (8, task.signature.target_length)
    assert task.solve(examples.inputs).shape == (8, 150, 2)


def test_b_is_a_shifted_by_a_constant_per_pair_up_to_noise():
    task = GPPairs(length=400, context=50, noise=1e-5, shift=3.0, shift_std=0.0)
    examples = task.generate(200, np.random.default_rng(3))
    difference = examples.targets - examples.inputs[:, 50:, 1]
    assert np.allclose(difference, 3.0, atol=0.1)


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_oracle_is_the_gaussian_conditional_computed_independently(kernel):
    task = GPPairs(length=40, context=12, kernel=kernel, length_scale=0.4, noise=0.05,
                   shift=-1.0, shift_std=1.5)
    inputs = task.generate(300, np.random.default_rng(4)).inputs
    mean, cov = specified_covariance(task)
    observed, hidden = np.arange(52), np.arange(52, 80)
    expected_mean, expected_variance = gaussian_conditional(
        mean, cov, observed, hidden, observed_values(task, inputs)
    )
    predictions = task.solve(inputs)
    np.testing.assert_allclose(predictions[..., 0], expected_mean, atol=1e-8)
    expected_variance = np.broadcast_to(expected_variance, (300, 28))
    np.testing.assert_allclose(predictions[..., 1], expected_variance, atol=1e-10)


def test_oracle_nll_equals_the_analytic_expected_nll():
    task = GPPairs(length=60, context=20)
    examples = task.generate(20_000, np.random.default_rng(5))
    scores = task.score(task.solve(examples.inputs), examples.targets)
    assert scores["nll"] == pytest.approx(oracle_floor(task), abs=0.01)
    variance = task.solve(examples.inputs[:1])[0, :, 1]
    assert scores["mse"] == pytest.approx(variance.mean(), rel=0.02)


@pytest.mark.parametrize("offset", [-1.0, -0.2, 0.2, 1.0])
def test_oracle_beats_a_predictor_with_the_wrong_shift(offset):
    task = GPPairs(length=60, context=20)
    examples = task.generate(5_000, np.random.default_rng(6))
    oracle = task.solve(examples.inputs)
    shifted = oracle.copy()
    shifted[..., 0] += offset
    nll = task.score(oracle, examples.targets)["nll"]
    assert nll < task.score(shifted, examples.targets)["nll"]


def test_oracle_beats_a_known_shift_predictor_that_ignores_bs_context():
    # With shift_std > 0 the context is what reveals a pair's shift.
    task = GPPairs(length=60, context=20, shift=0.5, shift_std=2.0)
    examples = task.generate(5_000, np.random.default_rng(7))
    mean, cov = specified_covariance(task)
    a_only = np.arange(60)
    hidden = np.arange(80, 120)
    cond_mean, cond_var = gaussian_conditional(
        mean, cov, a_only, hidden, examples.inputs[..., 1].astype(np.float64)
    )
    context_blind = gaussian_nll(cond_mean, cond_var, examples.targets)
    assert task.score(task.solve(examples.inputs), examples.targets)["nll"] < context_blind - 0.1


def test_oracle_beats_the_prior_and_miscalibrated_variances():
    task = GPPairs(length=60, context=20)
    examples = task.generate(5_000, np.random.default_rng(8))
    oracle = task.solve(examples.inputs)
    nll = task.score(oracle, examples.targets)["nll"]
    prior = np.stack(
        [np.full(examples.targets.shape, task.shift),
         np.full(examples.targets.shape, task.variance + task.shift_std**2 + task.noise)],
        axis=-1,
    )
    assert nll < task.score(prior, examples.targets)["nll"] - 1.0
    for factor in (0.5, 2.0):
        scaled = oracle.copy()
        scaled[..., 1] *= factor
        assert nll < task.score(scaled, examples.targets)["nll"]


def test_mse_r2_and_nll_on_known_values():
    targets = np.array([[1.0, 2.0], [3.0, 4.0]])
    predictions = np.stack([[[1.0, 2.0], [3.0, 6.0]], np.full((2, 2), 2.0)], axis=-1)
    scores = GPPairs(length=4, context=2).score(predictions, targets)
    assert scores["mse"] == pytest.approx(1.0)  # squared errors 0, 0, 0, 4
    assert scores["r2"] == pytest.approx(1 - 4 / 5)  # total sum of squares about 2.5 is 5
    assert scores["nll"] == pytest.approx(0.5 * math.log(2 * math.pi * 2.0) + 4 / 16)


def test_perfect_means_score_r2_of_one():
    targets = np.array([[0.5, -1.0, 2.0]])
    predictions = np.stack([targets, np.ones_like(targets)], axis=-1)
    assert GPPairs(length=4, context=1).score(predictions, targets)["r2"] == 1.0


def test_r2_stays_finite_when_the_targets_are_constant():
    targets = np.full((1, 3), 2.0)
    task = GPPairs(length=4, context=1)
    exact = np.stack([targets, np.ones_like(targets)], axis=-1)
    off = np.stack([targets + 1, np.ones_like(targets)], axis=-1)
    assert task.score(exact, targets)["r2"] == 1.0
    assert task.score(off, targets)["r2"] == 0.0


def test_r2_per_pair_is_the_mean_of_each_pairs_r2_about_its_own_mean():
    # The reference's R² (oremnirv/attention helpers/metrics.py r_sq_2d, series 1):
    # per pair, 1 - squared errors / squares about that pair's own mean; then the mean.
    targets = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 16.0]])
    means = np.array([[1.0, 2.0, 4.0], [10.0, 12.0, 16.0]])
    predictions = np.stack([means, np.ones_like(means)], axis=-1)
    scores = GPPairs(length=4, context=1).score(predictions, targets)
    first = 1 - 1 / 2  # errors 0, 0, 1; squares about 2: 1, 0, 1
    second = 1 - 4 / 24  # errors 0, 4, 0; squares about 12: 4, 4, 16
    assert scores["r2_per_pair"] == pytest.approx((first + second) / 2)
    # r2 keeps its meaning: every target about the mean of all six (7): 176.
    assert scores["r2"] == pytest.approx(1 - 5 / 176)


def test_r2_per_pair_stays_finite_for_a_pair_whose_targets_are_constant():
    targets = np.array([[2.0, 2.0, 2.0], [0.0, 1.0, 2.0]])
    exact = np.stack([targets, np.ones_like(targets)], axis=-1)
    off = exact.copy()
    off[0, :, 0] += 1  # the constant pair missed; the other exact
    task = GPPairs(length=4, context=1)
    assert task.score(exact, targets)["r2_per_pair"] == 1.0
    assert task.score(off, targets)["r2_per_pair"] == 0.5  # (0 + 1) / 2


def test_an_offset_only_predictor_scores_high_pooled_r2_and_negative_per_pair_r2():
    # The audit's case: on the reference's process each sequence has an N(0, 2^2)
    # offset, most of the pooled variance. Predicting B flat at its context's mean
    # knows only the offset: pooled r2 counts that as explained, the reference's not.
    task = GPPairs(process="original", noise=1e-4, context=50, length=100)
    examples = task.generate(200, np.random.default_rng(0), "test")
    offset = examples.inputs[:, 100:150, 1].mean(axis=1, keepdims=True)
    flat = np.broadcast_to(offset, examples.targets.shape)
    scores = task.score(np.stack([flat, np.ones_like(flat)], axis=-1), examples.targets)
    assert scores["r2"] > 0.6
    assert scores["r2_per_pair"] < 0
    oracle = task.score(task.solve(examples.inputs), examples.targets)
    assert oracle["r2_per_pair"] > 0.99


def test_the_task_listing_names_and_explains_both_r2():
    result = CliRunner().invoke(main, ["tasks"])
    assert result.exit_code == 0, result.output
    listing = result.output[result.output.index("gp-pairs  ["):]
    listing = listing[: listing.index("parameters:")]
    assert "metrics: nll, mse, r2, r2_per_pair" in listing
    assert "r2 pools every pair" in " ".join(listing.split())
    assert "r2_per_pair is the reference's" in " ".join(listing.split())


@pytest.mark.parametrize("bad", [0.0, -0.1, np.nan])
def test_non_positive_variances_are_refused(bad):
    targets = np.zeros((2, 3))
    predictions = np.stack([targets, np.ones_like(targets)], axis=-1)
    predictions[1, 2, 1] = bad
    with pytest.raises(ValueError, match=rf"must be positive; got {bad} \(1 of 6"):
        GPPairs(length=4, context=1).score(predictions, targets)


def test_predictions_without_a_variance_are_refused():
    with pytest.raises(ValueError, match=r"shape \(2, 3, 2\)"):
        GPPairs(length=4, context=1).score(np.zeros((2, 3)), np.zeros((2, 3)))


def test_train_validation_and_test_never_share_an_example():
    task = GPPairs(length=20, context=5)
    keys = [{row.tobytes() for row in Split(task, name, 2_000, seed=0).materialize().inputs}
            for name in ("train", "validation", "test")]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])


@pytest.mark.parametrize(
    "params, named",
    [
        ({"length": 50, "context": 50}, "context"),
        ({"context": -1}, "context"),
        ({"noise": 0.0}, "noise"),
        ({"length_scale": -1.0}, "length_scale"),
        ({"variance": 0.0}, "variance"),
        ({"shift_std": -0.5}, "shift_std"),
        ({"kernel": "cosine"}, "kernel"),
        ({"process": "shuffled"}, "process"),
    ],
)
def test_bad_parameters_raise_a_value_error_naming_them(params, named):
    with pytest.raises(ValueError, match=named):
        GPPairs(**params)


def test_oracle_sits_on_the_bayes_floor_at_every_length_of_the_shipped_suite(store_path):
    result = CliRunner().invoke(
        main, ["run", "suites/gp_pairs.toml", "--smoke", "--jobs", "2", "--store", str(store_path)]
    )
    assert result.exit_code == 0, result.output
    frame = results.load(store_path)
    suite = load_suite("suites/gp_pairs.toml")
    assert suite.points[0].swept == ("task.length",)
    assert sorted(frame["task.length"].unique()) == [100, 200, 400, 800]
    assert (frame["status"] == "ok").all()
    floors = {point.task_params["length"]: oracle_floor(GPPairs(**point.task_params))
              for point in suite.points}
    for _, row in frame.iterrows():
        assert row["metric.nll"] == pytest.approx(floors[row["task.length"]], abs=0.03)
        assert row["metric.r2"] > 0.9


def test_solve_answers_pairs_of_another_length_with_that_lengths_posterior():
    import dataclasses

    task = GPPairs(length=40, context=10)
    longer = dataclasses.replace(task, length=60)
    inputs = longer.generate(50, np.random.default_rng(0)).inputs
    np.testing.assert_array_equal(task.solve(inputs), longer.solve(inputs))


# Per-position metrics ------------------------------------------------------------


def marginal_posterior(task: GPPairs, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact posterior mean (N, targets) and variance (targets,) of B after the
    context, from the textbook conditional of the documented joint Gaussian."""
    mean, cov = specified_covariance(task)
    n, c = task.length, task.context
    observed, hidden = np.arange(n + c), np.arange(n + c, 2 * n)
    return gaussian_conditional(mean, cov, observed, hidden, observed_values(task, inputs))


def test_position_metrics_average_over_positions_to_the_scores_metrics():
    task = GPPairs(length=30, context=8)
    examples = task.generate(500, np.random.default_rng(10))
    predictions = task.solve(examples.inputs)
    # Off the oracle, and differently at each position, so a mix-up of axes shows.
    rng = np.random.default_rng(11)
    predictions[..., 0] += rng.normal(0.0, 0.3, size=predictions.shape[:2])
    predictions[..., 1] *= np.linspace(0.5, 3.0, predictions.shape[1])
    by_position = task.score_positions(predictions, examples.targets)
    scores = task.score(predictions, examples.targets)
    assert set(by_position) == {"nll", "mse"}
    for name, values in by_position.items():
        assert values.shape == (task.signature.target_length,)
        assert values.mean() == pytest.approx(scores[name], rel=1e-12)
    assert np.ptp(by_position["mse"]) > 0  # the values do differ by position


def test_oracle_position_metrics_equal_an_independent_per_position_computation():
    task = GPPairs(length=40, context=12, kernel="matern52", shift=0.5, shift_std=1.5)
    examples = task.generate(3_000, np.random.default_rng(12))
    mean, variance = marginal_posterior(task, examples.inputs)
    squared = (examples.targets.astype(np.float64) - mean) ** 2
    expected_nll = np.mean(0.5 * (np.log(2 * math.pi * variance) + squared / variance), axis=0)
    by_position = task.score_positions(task.solve(examples.inputs), examples.targets)
    np.testing.assert_allclose(by_position["nll"], expected_nll, rtol=1e-7)
    np.testing.assert_allclose(by_position["mse"], squared.mean(axis=0), rtol=1e-7)


def test_oracle_position_nll_is_the_expected_nll_of_each_posterior_marginal():
    # E[NLL_i] = 0.5 log(2 pi v_i) + 0.5 for the exact posterior; per example the NLL has
    # standard deviation 0.5 * sqrt(2), so the mean over N pairs is within a few
    # 0.71 / sqrt(N) of it; the squared error's mean is v_i within a few v_i sqrt(2 / N).
    task = GPPairs(length=60, context=20)
    count = 20_000
    examples = task.generate(count, np.random.default_rng(13))
    _, variance = marginal_posterior(task, examples.inputs[:1])
    by_position = task.score_positions(task.solve(examples.inputs), examples.targets)
    expected = 0.5 * np.log(2 * math.pi * variance) + 0.5
    assert np.abs(by_position["nll"] - expected).max() < 5 * 0.5 * math.sqrt(2 / count)
    assert np.abs(by_position["mse"] / variance - 1).max() < 5 * math.sqrt(2 / count)
    # The posterior is least certain at the far end: position matters here.
    assert expected[-1] - expected[0] > 10 * 0.5 * math.sqrt(2 / count)


@pytest.mark.parametrize("bad", [0.0, np.nan])
def test_position_metrics_refuse_non_positive_variances_as_score_does(bad):
    targets = np.zeros((2, 3))
    predictions = np.stack([targets, np.ones_like(targets)], axis=-1)
    predictions[0, 1, 1] = bad
    with pytest.raises(ValueError, match="must be positive"):
        GPPairs(length=4, context=1).score_positions(predictions, targets)


# The reference's own process: random x per sequence, an offset per sequence, no noise
# but a jitter. Small sizes: every pair has its own covariance to factor.
ORIGINAL = dict(length=12, context=4, process="original", noise=1e-4, spacing=0.5, shift=0.5)


def original_posterior_by_hand(task: GPPairs, x_a, x_b, a, b_context) -> tuple[np.ndarray, np.ndarray]:
    """The posterior of B's hidden points, written out from the process as documented:
    entry by entry in Python (A at x_a, B at x_b, f shared, one N(shift, shift_std^2)
    offset per sequence, the jitter on the diagonal), conditioned by the textbook
    formula. Nothing here is the task's code."""
    points = [(x, 0) for x in x_a] + [(x, 1) for x in x_b]
    n = len(points)
    cov = np.empty((n, n))
    for i, (xi, si) in enumerate(points):
        for j, (xj, sj) in enumerate(points):
            kernel = task.variance * math.exp(-((xi - xj) ** 2) / (2 * task.length_scale**2))
            cov[i, j] = kernel + (task.shift_std**2 if si == sj else 0.0) + (task.noise if i == j else 0.0)
    mean = np.full(n, task.shift)
    observed = np.arange(len(x_a) + task.context)
    hidden = np.arange(len(x_a) + task.context, n)
    values = np.concatenate([a, b_context])[None, :]
    cond_mean, cond_var = gaussian_conditional(mean, cov, observed, hidden, values)
    return cond_mean[0], cond_var


def test_original_process_oracle_is_the_posterior_computed_independently():
    task = GPPairs(**ORIGINAL)
    examples = task.generate(5, np.random.default_rng(0))
    predictions = task.solve(examples.inputs)
    n, c = task.length, task.context
    for inputs, prediction in zip(examples.inputs.astype(np.float64), predictions):
        mean, variance = original_posterior_by_hand(
            task, inputs[:n, 0], inputs[n:, 0], inputs[:n, 1], inputs[n : n + c, 1]
        )
        np.testing.assert_allclose(prediction[:, 0], mean, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(prediction[:, 1], variance, rtol=1e-6)


def test_original_process_layout_a_then_bs_context_then_bs_hidden_points():
    task = GPPairs(**ORIGINAL)
    examples = task.generate(50, np.random.default_rng(1))
    n, c = task.length, task.context
    inputs = examples.inputs
    assert inputs.shape == (50, 2 * n, 4) and examples.targets.shape == (50, n - c)
    assert task.signature.input_length == 2 * n and task.signature.target_length == n - c
    np.testing.assert_array_equal(inputs[0, :, 2], [0] * n + [1] * n)  # which sequence
    np.testing.assert_array_equal(inputs[0, :, 3], [1] * (n + c) + [0] * (n - c))  # observed
    assert np.all(inputs[:, n + c :, 1] == 0)  # B's hidden values are not shown
    x = inputs[..., 0]
    assert np.all(np.diff(x[:, :n]) >= 0) and np.all(np.diff(x[:, n:]) >= 0)  # sorted per sequence
    assert x.min() >= 0 and x.max() < n * task.spacing
    assert not np.allclose(x[:, :n], x[:, n:])  # A and B sit at their own positions


def test_original_process_gives_each_sequence_its_own_offset():
    # Far apart (x = 0 against x = 6, six length scales), f is independent, so the
    # covariance is the offsets' alone: shift_std^2 = 4 within a sequence, 0 across.
    task = GPPairs(length=12, context=4, process="original", noise=1e-4, spacing=0.5)
    examples = task.generate(4_000, np.random.default_rng(2))
    n, c = task.length, task.context
    a_first, a_last = examples.inputs[:, 0, 1], examples.inputs[:, n - 1, 1]
    b_first, b_last = examples.inputs[:, n, 1], examples.targets[:, -1]
    assert np.cov(a_first, a_last)[0, 1] == pytest.approx(4.0, abs=0.4)
    assert np.cov(b_first, b_last)[0, 1] == pytest.approx(4.0, abs=0.4)
    assert np.cov(a_first, b_last)[0, 1] == pytest.approx(0.0, abs=0.3)
    # Near each other, A and B share f but not the offset: cov = k(~0) = 1.
    assert np.cov(a_first, b_first)[0, 1] == pytest.approx(1.0, abs=0.3)


def test_original_process_oracle_is_calibrated_on_its_own_samples():
    task = GPPairs(**ORIGINAL)
    examples = task.generate(400, np.random.default_rng(3))
    predictions = task.solve(examples.inputs)
    z = (examples.targets - predictions[..., 0]) / np.sqrt(predictions[..., 1])
    assert abs(z.mean()) < 0.06 and z.var() == pytest.approx(1.0, abs=0.08)


def test_original_process_has_no_fixed_linear_map_for_the_graph_oracles():
    with pytest.raises(ValueError, match="process 'original'"):
        GPPairs(**ORIGINAL).conditional_at(12)
