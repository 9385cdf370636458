"""What a model's loop hands the harness while a point runs: each ``on_epoch(epoch,
train_loss, examples_seen)`` report is held to the model contract (epochs 1, 2, ... up to
``run.epochs``, a real loss, the examples that epoch used) and each batch of predictions
is seqbench's own copy. A report seqbench would store wrongly fails its point, named with
the model and its plugin, never the sweep or the store; a report the contract allows
(NumPy numbers, no epochs at all for a model with nothing to learn) still runs."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from seqbench import registry
from seqbench.cli import main
from seqbench.params import coerce_params
from seqbench.pipeline import run_point
from seqbench.point import Point
from seqbench.settings import RunSettings
from test_suite_validation import invoke_run

# 32: the examples of one epoch, RUN's train_size.
SCRIPTED = '''
from dataclasses import dataclass
import numpy as np
from seqbench import Model, hookimpl, param

N = 32
REPORTS = {
    "float-epoch": [(1.5, 0.5, N)],
    "bool-epoch": [(True, 0.5, N)],
    "text-epoch": [("1", 0.5, N)],
    "huge-epoch": [(10**400, 0.5, N)],
    "zero-epoch": [(0, 0.5, N)],
    "repeated-epoch": [(1, 0.5, N), (1, 0.4, N)],
    "skipped-epoch": [(1, 0.5, N), (3, 0.4, N)],
    "too-many-epochs": [(1, 0.5, N), (2, 0.4, N), (3, 0.3, N)],
    "text-loss": [(1, "0.5", N)],
    "huge-loss": [(1, 10**400, N)],
    "negative-examples": [(1, 0.5, -300)],
    "running-total": [(1, 0.5, N), (2, 0.4, 2 * N)],
    "float-examples": [(1, 0.5, 1e308)],
    "huge-examples": [(1, 0.5, 10**400)],
    "text-examples": [(1, 0.5, "300")],
    "numpy-numbers": [(np.int64(1), np.float32(0.5), np.int64(N)), (np.int32(2), np.float64(0.4), np.uint16(N))],
    "no-epochs": [],
}

@dataclass
class Scripted(Model):
    name = "epochs:scripted"
    framework = "numpy"
    serves = frozenset({("continuous", "scalar")})
    mode: str = param("numpy-numbers")
    swallow: bool = param(False)
    ignore_stop: bool = param(False)

    def build(self, task, settings):
        self._task = task

    def fit(self, train, settings, on_epoch):
        reports = REPORTS[self.mode]
        if self.ignore_stop:
            reports = [(epoch, 0.5, len(train)) for epoch in range(1, settings.epochs + 1)]
        for report in reports:
            try:
                on_epoch(*report)  # the answer's stop is ignored where ignore_stop says so
            except Exception:
                if not self.swallow:
                    raise

    def predict(self, inputs):
        return self._task.solve(inputs)

@dataclass
class OneBuffer(Model):
    """Writes every batch's exact answers into one array and returns that array."""
    name = "predictions:one-buffer"
    framework = "numpy"
    serves = frozenset({("continuous", "scalar")})

    def build(self, task, settings):
        self._task, self._buffer = task, None

    def fit(self, train, settings, on_epoch):
        on_epoch(1, 0.0, len(train))

    def predict(self, inputs):
        if self._buffer is None or len(self._buffer) != len(inputs):
            self._buffer = np.empty(len(inputs))
        self._buffer[:] = self._task.solve(inputs)
        return self._buffer

@hookimpl
def register_models(register):
    register(Scripted)
    register(OneBuffer)
'''

OWNER = "of plugin 'seqbench-scripted' (seqbench-scripted 0.0.1) is broken: "
RUN = RunSettings(epochs=2, train_size=32, eval_size=16, batch_size=16, device="cpu")


def scripted_point(model: str = "epochs:scripted", run: RunSettings = RUN, eval_size: int | None = None,
                   **params: object) -> Point:
    if eval_size is not None:
        run = RunSettings(**{**run.as_dict(), "eval_size": eval_size})
    return Point("epochs", "adding", coerce_params(registry.tasks().get("adding"), {"seq_len": 5}), model,
                 coerce_params(registry.models().get(model), params), run, seed=0)


# A report the contract refuses, and the start of the problem its point fails with.
BAD_REPORTS = {
    "float-epoch": "on_epoch call 1 reported epoch 1.5; expected the int 1",
    "bool-epoch": "on_epoch call 1 reported epoch True; expected the int 1",
    "text-epoch": "on_epoch call 1 reported epoch '1'; expected the int 1",
    "huge-epoch": "on_epoch call 1 reported epoch an integer of 1,329 bits; expected epoch 1",
    "zero-epoch": "on_epoch call 1 reported epoch 0; expected epoch 1 (epochs count 1, 2, ..., one more each call)",
    "repeated-epoch": "on_epoch call 2 reported epoch 1, after epoch 1; expected epoch 2",
    "skipped-epoch": "on_epoch call 2 reported epoch 3, after epoch 1; expected epoch 2",
    "too-many-epochs": "on_epoch reported epoch 3, past run.epochs = 2",
    "text-loss": "epoch 1 reported train_loss '0.5'; expected the epoch's mean training loss, a float",
    "huge-loss": "epoch 1 reported train_loss an integer of 1,329 bits; expected",
    "negative-examples": "epoch 1 reported examples_seen -300; expected the int count of training examples that "
                         "epoch used, 0 to 32 (the training split; not a running total)",
    "running-total": "epoch 2 reported examples_seen 64; expected",
    "float-examples": "epoch 1 reported examples_seen 1e+308; expected",
    "huge-examples": "epoch 1 reported examples_seen an integer of 1,329 bits; expected",
    "text-examples": "epoch 1 reported examples_seen '300'; expected",
}


@pytest.mark.parametrize("mode", list(BAD_REPORTS))
def test_an_epoch_report_the_contract_refuses_fails_the_point_naming_the_model(install_plugin, mode):
    install_plugin("seqbench-scripted", SCRIPTED)
    record = run_point(scripted_point(mode=mode))
    assert record.status == "failed" and not record.metrics
    assert record.error.startswith(f"PluginOutputError: model 'epochs:scripted' {OWNER}{BAD_REPORTS[mode]}"), \
        record.error
    assert "\n" not in record.error and len(record.error) < 400
    # The epochs before the bad report are kept, each once, numbered as stored.
    assert [row["epoch"] for row in record.curves] == list(range(1, len(record.curves) + 1))
    assert all(type(row["epoch"]) is int for row in record.curves)


def test_a_report_that_fails_fails_the_point_even_when_the_loop_catches_it(install_plugin):
    install_plugin("seqbench-scripted", SCRIPTED)
    record = run_point(scripted_point(mode="repeated-epoch", swallow=True))
    assert record.status == "failed"
    assert "on_epoch call 2 reported epoch 1, after epoch 1" in record.error
    assert [row["epoch"] for row in record.curves] == [1]


def test_training_on_after_being_told_to_stop_fails_the_point(install_plugin):
    install_plugin("seqbench-scripted", SCRIPTED)
    # The oracle's answers never improve after epoch 1: patience 1 says stop after epoch 2.
    run = RunSettings(**{**RUN.as_dict(), "epochs": 4, "patience": 1})
    record = run_point(scripted_point(run=run, ignore_stop=True))
    assert record.status == "failed"
    assert record.error.endswith(f"{OWNER}on_epoch reported epoch 3 after epoch 2 was answered stop=True; "
                                 "fit must return when told to stop"), record.error


def test_numpy_numbers_are_reports_the_contract_allows_stored_as_python_numbers(install_plugin):
    """An np.int64 epoch kept as it came failed the worker's progress line (JSON), and
    SQLite stores a NumPy integer as a blob, which the store's check refuses."""
    install_plugin("seqbench-scripted", SCRIPTED)
    record = run_point(scripted_point(mode="numpy-numbers"))
    assert record.status == "ok", record.error
    assert [row["epoch"] for row in record.curves] == [1, 2]
    assert all(type(row["epoch"]) is int and type(row["train_loss"]) is float for row in record.curves)
    assert record.timings["epochs"] == 2 and record.timings["train_examples"] == 64
    assert type(record.timings["train_examples"]) is int


def test_a_model_with_nothing_to_learn_may_report_no_epoch(install_plugin):
    """As the oracles do (docs/plugins.md, the model contract): no curve, 0 epochs."""
    install_plugin("seqbench-scripted", SCRIPTED)
    record = run_point(scripted_point(mode="no-epochs"))
    assert record.status == "ok", record.error
    assert record.curves == [] and record.timings["epochs"] == 0


def test_predictions_written_into_one_reused_array_score_as_answered(install_plugin):
    """Each batch's answers were kept by reference: a model returning one buffer for
    every batch scored the last batch's answers for all of them (mse 0.2, not 0)."""
    install_plugin("seqbench-scripted", SCRIPTED)
    record = run_point(scripted_point("predictions:one-buffer", eval_size=48))
    assert record.status == "ok", record.error
    assert record.metrics["mse"] == 0.0
    assert record.curves[0]["val_mse"] == 0.0


def test_bad_epoch_reports_leave_the_sweep_and_the_store_whole(install_plugin, write_suite, store_path):
    """10**400 crashed the whole run at the store write (every resume too), epoch 1
    twice was a UNIQUE failure kept aside unsaved, and epoch 1.5 was stored ok and then
    made the store's curves refused as damaged for every suite."""
    install_plugin("seqbench-scripted", SCRIPTED)
    suite = write_suite(
        '[suite]\nname = "epochs"\n[run]\nepochs = 2\ntrain_size = 32\neval_size = 16\nbatch_size = 16\n'
        'device = "cpu"\n[task]\nname = "adding"\nseq_len = 5\n[[model]]\nname = "epochs:scripted"\n'
        '[sweep]\nmodel.mode = ["huge-epoch", "float-epoch", "repeated-epoch", "numpy-numbers"]\n')

    result = invoke_run(str(suite), "--store", str(store_path), "--jobs", "2")

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not store_path.with_name(store_path.name + ".unsaved").exists()
    with sqlite3.connect(store_path) as connection:
        statuses = dict(connection.execute(
            "SELECT json_extract(config, '$.model.params.mode'), status FROM runs").fetchall())
        errors = [error for (error,) in connection.execute("SELECT error FROM runs WHERE status = 'failed'")]
    assert statuses == {"huge-epoch": "failed", "float-epoch": "failed", "repeated-epoch": "failed",
                        "numpy-numbers": "ok"}
    assert all(error.startswith(f"PluginOutputError: model 'epochs:scripted' {OWNER}on_epoch call ")
               for error in errors), errors
    per_epoch = CliRunner().invoke(main, ["report", "--store", str(store_path), "--per", "epoch",
                                          "--format", "csv"])
    assert per_epoch.exit_code == 0, per_epoch.output
    assert "damaged" not in per_epoch.output
    again = invoke_run(str(suite), "--store", str(store_path), "--resume")
    assert again.exit_code == 1 and "Traceback" not in again.output, again.output


def test_a_loss_left_as_a_0d_array_or_tensor_is_the_number_it_holds():
    """``loss.detach()`` and ``loss.cpu().numpy()`` are what a torch loop has at hand;
    ``float()`` read them before the checks, and they passed then."""
    import torch

    from seqbench.plugin_output import PluginOutputError, checked_epoch

    for loss, epoch, seen in ((torch.tensor(0.5), torch.tensor(1), torch.tensor(8)),
                              (np.array(0.5, dtype=np.float32), np.array(1), np.array(8))):
        checked = checked_epoch("m", epoch, loss, seen, expected=1, epochs=2, train_size=8)
        assert checked == (1, 0.5, 8) and [type(value) for value in checked] == [int, float, int]
    with pytest.raises(PluginOutputError, match="train_loss"):  # a bool is no loss, 0-d or not
        checked_epoch("m", 1, torch.tensor(True), 8, expected=1, epochs=2, train_size=8)
    with pytest.raises(PluginOutputError, match="train_loss"):  # many losses are not the epoch's one
        checked_epoch("m", 1, np.array([0.5, 0.25]), 8, expected=1, epochs=2, train_size=8)


def test_a_plugin_object_with_a_shape_is_judged_as_it_is_not_asked_for_its_item():
    from seqbench.plugin_output import PluginOutputError, checked_epoch

    class RaisingShape:
        @property
        def shape(self):
            raise ValueError("boom")

    class ExitingItem:
        shape = ()

        def item(self):
            raise SystemExit(3)

    for loss in (RaisingShape(), ExitingItem()):
        with pytest.raises(PluginOutputError, match="train_loss an object of type"):
            checked_epoch("m", 1, loss, 8, expected=1, epochs=2, train_size=8)
