"""The framework-free models: the oracle and numpy:ridge, through the whole pipeline."""

from __future__ import annotations

from seqbench import results
from seqbench.cli import main
from click.testing import CliRunner

SUITE = """
[suite]
name = "ridge"
[run]
epochs = 3
train_size = 3000
eval_size = 500
batch_size = 250
[task]
name = "adding"
seq_len = 20
[[model]]
name = "numpy:ridge"
[[model]]
name = "oracle"
[sweep]
model.features = ["linear", "quadratic"]
"""


def run(write_suite, store_path):
    result = CliRunner().invoke(main, ["run", str(write_suite(SUITE)), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    return results.load(store_path).set_index("model.features", drop=False)


def test_ridge_with_quadratic_features_learns_the_adding_problem(write_suite, store_path):
    frame = run(write_suite, store_path)
    ridge = frame[frame["model"] == "numpy:ridge"].set_index("model.features")
    # Predicting the mean scores ~0.167; the value*marker products make the task linear.
    assert ridge.loc["quadratic", "metric.mse"] < 0.01
    assert ridge.loc["linear", "metric.mse"] > 10 * ridge.loc["quadratic", "metric.mse"]


def test_ridge_reports_one_epoch_with_its_training_loss(write_suite, store_path):
    run(write_suite, store_path)
    curves = results.load_curves(store_path)
    ridge = curves[curves["model"] == "numpy:ridge"]
    assert set(ridge["epoch"]) == {1}
    assert {"train_loss", "val_mse", "val_mae", "seconds"} <= set(ridge["name"])


def test_the_oracle_trains_no_epochs_and_is_exact(write_suite, store_path):
    frame = run(write_suite, store_path)
    oracle = frame[frame["model"] == "oracle"]
    assert len(oracle) == 1  # the model.features axis does not multiply the oracle
    assert oracle["time.epochs"].iloc[0] == 0
    assert oracle["metric.mse"].iloc[0] < 1e-10


def test_ridge_dual_and_primal_forms_give_the_same_weights():
    import numpy as np

    from seqbench.data import Split
    from seqbench.default_plugins.ridge import Ridge
    from seqbench.model import EpochOutcome, FitSettings
    from seqbench_tasks import Adding

    task = Adding(seq_len=10)
    train = Split(task, "train", 40, seed=0)  # 40 examples < 51 features: the dual form
    settings = FitSettings(1, 8, "cpu", 0, None)
    dual = Ridge(alpha=1e-2)
    dual.build(task, settings)
    dual.fit(train, settings, lambda *_: EpochOutcome(False, True))
    primal = Ridge(alpha=1e-2)
    primal.build(task, settings)
    mean_x, mean_y, weights = primal._solve_primal(train, 8)
    np.testing.assert_allclose(weights, dual._weights, atol=1e-10)
    np.testing.assert_allclose(mean_y - mean_x @ weights, dual._bias, atol=1e-10)
