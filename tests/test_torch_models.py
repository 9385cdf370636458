"""seqbench-torch: every architecture trains on the tasks it serves; the oracle is exact.

Tiny sizes on the CPU. The figures that matter (Batuketa's MSE, the GRU's exact match)
are reproduced by suites, not here; these tests check behaviour.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seqbench import registry  # noqa: E402
from seqbench.data import Split  # noqa: E402
from seqbench.model import EpochOutcome, FitSettings  # noqa: E402
from seqbench_tasks import Adding  # noqa: E402
from torch_training import settings, train  # noqa: E402


@pytest.mark.parametrize("model_name", ["torch:lstm", "torch:attention"])
def test_scalar_models_training_loss_falls_clearly_on_adding(model_name):
    task = Adding(seq_len=10)
    _, losses = train(model_name, task, epochs=6, train_size=1024, lr=3e-3)
    assert len(losses) == 6
    assert losses[-1] < 0.6 * losses[0]


def test_scalar_predictions_have_the_task_shape():
    task = Adding(seq_len=8)
    model, _ = train("torch:lstm", task, epochs=1, train_size=64)
    inputs = task.generate(5, np.random.default_rng(0)).inputs
    predictions = model.predict(inputs)
    assert predictions.shape == (5,) and predictions.dtype == np.float64


def test_torch_oracle_is_an_exact_fixed_graph_on_adding():
    task = Adding(seq_len=300)
    model = registry.models().get("torch:oracle")()
    model.build(task, settings())
    assert model._trainer.network.is_graph
    assert not model._trainer.trainable
    examples = task.generate(500, np.random.default_rng(1))
    assert task.score(model.predict(examples.inputs), examples.targets)["mse"] < 1e-10


def test_same_seed_gives_the_same_trained_model():
    task = Adding(seq_len=6)
    first, _ = train("torch:lstm", task, epochs=2, train_size=128)
    second, _ = train("torch:lstm", task, epochs=2, train_size=128)
    inputs = task.generate(16, np.random.default_rng(2)).inputs
    np.testing.assert_array_equal(first.predict(inputs), second.predict(inputs))


def test_best_epoch_weights_are_restored_when_later_epochs_are_worse():
    task = Adding(seq_len=6)
    model = registry.models().get("torch:lstm")(lr=1e-2)
    run = settings(epochs=3)
    model.build(task, run)
    probe = task.generate(16, np.random.default_rng(3)).inputs
    snapshots = []

    def on_epoch(epoch, loss, examples):
        snapshots.append(model.predict(probe))
        return EpochOutcome(stop=False, improved=epoch == 1)

    model.fit(Split(task, "train", 256, seed=0), run, on_epoch)
    np.testing.assert_array_equal(model.predict(probe), snapshots[0])
    assert not np.array_equal(snapshots[0], snapshots[-1])


def test_early_stop_ends_training_when_the_harness_says_so():
    task = Adding(seq_len=6)
    model = registry.models().get("torch:lstm")()
    run = settings(epochs=10)
    model.build(task, run)
    seen = []

    def on_epoch(epoch, loss, examples):
        seen.append(epoch)
        return EpochOutcome(stop=epoch == 2, improved=True)

    model.fit(Split(task, "train", 64, seed=0), run, on_epoch)
    assert seen == [1, 2]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_mixed_precision_on_the_cpu_is_refused_with_a_clear_error(precision):
    model = registry.models().get("torch:lstm")(precision=precision)
    with pytest.raises(ValueError, match=f"precision '{precision}' needs a CUDA device"):
        model.build(Adding(seq_len=5), settings())


def test_cuda_device_without_cuda_is_a_clear_error():
    model = registry.models().get("torch:lstm")()
    with pytest.raises(RuntimeError, match="torch sees no CUDA device"):
        model.build(Adding(seq_len=5), FitSettings(1, 8, "cuda", 0, None))


def test_an_impossible_pair_is_refused_listing_the_models_that_can_serve_the_task(write_suite, store_path):
    from click.testing import CliRunner

    from seqbench.cli import main

    suite = write_suite("[task]\nname = 'subsequence'\n[[model]]\nname = 'torch:attention'\n")
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 2
    assert "[[model]] 'torch:attention' cannot serve task 'subsequence' (tokens -> tokens); " in result.output
    # Other installed plugins (seqbench-tensorflow) may add their own models to the list.
    able = set(result.output.split("models that can: ")[1].strip().split(", "))
    assert {"oracle", "torch:gru-seq2seq", "torch:lstm", "torch:oracle", "torch:transformer"} <= able
    assert "torch:attention" not in able
    assert not store_path.exists()


def test_importing_the_plugin_does_not_import_torch():
    # `seqbench models` and suite validation must not pay for torch's import.
    import subprocess
    import sys

    script = "import sys, seqbench_torch; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True).stdout.strip() == "False"
