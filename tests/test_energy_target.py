"""``run.target``: the training time and energy spent until the validation metric first
reaches a target (MLPerf's time-to-train), or the record that it never did; and the
one-line refusal of a malformed target."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from fake_nvml import use_fake_nvml
from seqbench.cli import main
from seqbench.pipeline import reaches
from seqbench.results import load, load_curves

# Validation error 0.1 / 2**epoch: mse 2.5e-3, 6.25e-4, 1.5625e-4, 3.9e-5; mae 0.05, 0.025, ...
CONVERGING_MODEL = """
import time
from dataclasses import dataclass

from seqbench import Model, hookimpl


@dataclass
class Converging(Model):
    name = "fake:converging"
    serves = frozenset({("continuous", "scalar")})

    def build(self, task, settings):
        self._task = task
        self._error = 1.0
        self._device = settings.device

    def devices(self):
        return ["cpu"] if self._device == "cpu" else ["cuda:0"]

    def fit(self, train, settings, on_epoch):
        for epoch in range(1, settings.epochs + 1):
            time.sleep(0.05)
            self._error = 0.1 / 2**epoch
            on_epoch(epoch, self._error, len(train))

    def predict(self, inputs):
        return self._task.solve(inputs) + self._error


@hookimpl
def register_models(register):
    register(Converging)
"""

SUITE = """
[suite]
name = "target"

[run]
epochs = 4
train_size = 32
eval_size = 16
batch_size = 16
device = "{device}"
{run}

[task]
name = "adding"
seq_len = 3
{sweep}

[[model]]
name = "fake:converging"
"""


@pytest.fixture
def run_suite(install_plugin, write_suite, store_path):
    """``run_suite(run="...", sweep="...", device="cpu")`` runs the converging model;
    returns the click Result."""
    install_plugin("seqbench-converging", CONVERGING_MODEL)

    def run(run: str = "", sweep: str = "", device: str = "cpu"):
        path = write_suite(SUITE.format(run=run, sweep=sweep, device=device))
        return CliRunner().invoke(main, ["run", str(path), "--store", str(store_path)])

    return run


def test_target_is_reached_at_the_first_epoch_that_meets_it_in_its_direction(run_suite, store_path):
    targets = [
        '{metric = "mse", value = 1e-3}',  # the task's direction, min: epoch 2
        '{metric = "mae", value = 0.013}',  # a metric other than the primary: epoch 3
        '{metric = "mse", value = 2e-3, direction = "max"}',  # at least 2e-3: epoch 1
    ]
    result = run_suite(sweep=f"\n[sweep]\nrun.target = [{', '.join(targets)}]\n")

    assert result.exit_code == 0, result.output
    frame = load(store_path)
    epochs = {
        (row["run.target.metric"], row["run.target.value"]): row["time.target_epoch"]
        for row in frame.to_dict("records")
    }
    assert epochs == {("mse", 1e-3): 2, ("mae", 0.013): 3, ("mse", 2e-3): 1}
    assert frame["time.target_reached"].tolist() == [True, True, True]


def test_time_to_target_covers_the_epochs_until_the_target_and_no_more(run_suite, store_path):
    result = run_suite(run='target = {metric = "mse", value = 1e-3}')

    assert result.exit_code == 0, result.output
    (row,) = load(store_path).to_dict("records")
    curves = load_curves(store_path)
    seconds = curves[curves["name"] == "seconds"].set_index("epoch")["value"]
    assert row["time.target_epoch"] == 2
    two_epochs = seconds[1] + seconds[2]
    assert two_epochs <= row["time.time_to_target_s"] < two_epochs + seconds[3]
    assert row["time.time_to_target_s"] < row["time.train_s"]
    # Other meters report their figures until the target too; the GPU meter says why not.
    assert 0 < row["meter.resources.to_target.cpu_s"] <= row["meter.resources.train.cpu_s"]
    assert row["meter.nvml.unavailable"] == "point ran on cpu"


def test_energy_to_target_is_read_from_the_gpu_mid_training(
    run_suite, store_path, monkeypatch
):
    with use_fake_nvml(monkeypatch) as fake_gpu:
        fake_gpu({"idle_w": 250.0})
        result = run_suite(run='target = {metric = "mse", value = 1e-3}', device="cuda")

    assert result.exit_code == 0, result.output
    (row,) = load(store_path).to_dict("records")
    assert row["meter.nvml.to_target.energy_method"] == "counter"
    # Constant 250 W: energy is power x time, and stops counting at the target.
    assert row["meter.nvml.to_target.energy_j"] == pytest.approx(
        250.0 * row["time.time_to_target_s"], rel=0.05
    )
    assert row["meter.nvml.to_target.energy_j"] < row["meter.nvml.train.energy_j"]
    assert row["meter.nvml.to_target.energy_above_idle_j"] == pytest.approx(0.0, abs=0.5)


def test_a_target_never_reached_is_recorded_as_such(run_suite, store_path):
    result = run_suite(run='target = {metric = "mse", value = 1e-12}')

    assert result.exit_code == 0, result.output
    (row,) = load(store_path).to_dict("records")
    assert row["time.target_reached"] is not None and not row["time.target_reached"]
    assert row["time.target_epoch"] is None
    assert row["time.time_to_target_s"] is None
    assert not [column for column in row if ".to_target." in column]


def test_without_a_target_no_target_columns_are_recorded(run_suite, store_path):
    result = run_suite()

    assert result.exit_code == 0, result.output
    assert not [column for column in load(store_path).columns if "target" in column]


@pytest.mark.parametrize(
    "value, target, direction, expected",
    [
        (0.5, 1.0, "min", True),
        (1.0, 1.0, "min", True),
        (1.5, 1.0, "min", False),
        (0.5, 1.0, "max", False),
        (1.0, 1.0, "max", True),
        (1.5, 1.0, "max", True),
    ],
)
def test_reaching_a_target_respects_the_direction(value, target, direction, expected):
    assert reaches(value, target, direction) is expected


BAD_TARGETS = [
    ("unknown-metric", 'target = {metric = "accuracy", value = 0.9}',
     "[run] target: metric 'accuracy' is not a metric of task 'adding'; allowed: mse, mae"),
    ("value-a-string", 'target = {metric = "mse", value = "small"}',
     "[run] target: value: expected a finite number, got 'small'"),
    ("value-a-bool", 'target = {metric = "mse", value = true}',
     "[run] target: value: expected a finite number, got True"),
    ("value-nan", 'target = {metric = "mse", value = nan}',
     "[run] target: value: expected a finite number, got nan"),
    ("no-metric", "target = {value = 1e-3}", "[run] target: metric is required (one of mse, mae)"),
    ("no-value", 'target = {metric = "mse"}', "[run] target: value is required (the mse to reach)"),
    ("unknown-key", 'target = {metric = "mse", value = 1e-3, by = "epoch"}',
     "[run] target: unknown key 'by'; allowed: metric, value, direction"),
    ("bad-direction", 'target = {metric = "mse", value = 1e-3, direction = "down"}',
     "[run] target: direction: expected 'min' or 'max', got 'down'"),
    ("not-a-table", "target = 1e-3",
     '[run] target: expected a table like {metric = "mse", value = 1e-3}, got 0.001'),
]


@pytest.mark.parametrize(
    "run, message", [case[1:] for case in BAD_TARGETS], ids=[case[0] for case in BAD_TARGETS]
)
def test_a_bad_target_is_one_line_exit_2_and_nothing_written(run_suite, store_path, run, message):
    result = run_suite(run=run)

    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ") and lines[0].endswith(f"suite.toml: {message}"), lines
    assert not store_path.exists()


def test_a_bad_swept_target_names_the_sweep(run_suite, store_path):
    targets = '{metric = "mse", value = 1e-3}, {metric = "acc", value = 1}'
    sweep = f"\n[sweep]\nrun.target = [{targets}]\n"

    result = run_suite(sweep=sweep)

    assert result.exit_code == 2
    assert "[sweep] run.target: metric 'acc' is not a metric of task 'adding'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not store_path.exists()
