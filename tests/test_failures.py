"""A point that raises, produces NaN, dies or hangs is stored as failed with its error
text; the other points still run and succeed; the exit code is 1."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from seqbench.cli import main
from seqbench.results import load
from worker_processes import live_workers

# [run] timeout applies to every point of a suite, the oracle's included: it must be
# long enough for any worker to start and finish on a busy machine.
TIMEOUT_S = 3

BAD_MODELS = """
import os
import signal
import time
from dataclasses import dataclass

import numpy as np

from seqbench import Model, hookimpl

SERVES = frozenset({("continuous", "scalar")})


@dataclass
class Raises(Model):
    name = "bad:raises"
    serves = SERVES

    def fit(self, train, settings, on_epoch):
        raise ValueError("boom")


@dataclass
class NanPredictions(Model):
    name = "bad:nan-predictions"
    serves = SERVES

    def fit(self, train, settings, on_epoch):
        pass

    def predict(self, inputs):
        return np.full(len(inputs), np.nan)


@dataclass
class NanLoss(Model):
    name = "bad:nan-loss"
    serves = SERVES

    def fit(self, train, settings, on_epoch):
        on_epoch(1, float("nan"), len(train))

    def predict(self, inputs):
        return np.zeros(len(inputs))


@dataclass
class KillsItself(Model):
    name = "bad:kills-itself"
    serves = SERVES

    def fit(self, train, settings, on_epoch):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Hangs(Model):
    name = "bad:hangs"
    serves = SERVES

    def fit(self, train, settings, on_epoch):
        while True:
            time.sleep(60)


@hookimpl
def register_models(register):
    for model in (Raises, NanPredictions, NanLoss, KillsItself, Hangs):
        register(model)
"""


SUITE = """\
[suite]
name = "failures"

[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "cpu"
"""
TASK = """
[task]
name = "adding"
seq_len = 3
"""


@pytest.fixture
def worker_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Workers started by this test keep their result file under this directory, so
    their command lines contain it."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return str(directory)


@pytest.fixture
def run_with(install_plugin, worker_marker, write_suite, store_path):
    """``run_with(*models, timeout=None, jobs=1)`` runs those models and the oracle on a
    tiny adding suite through the CLI; returns the click Result."""
    install_plugin("seqbench-bad-models", BAD_MODELS)

    def run(*models: str, timeout: float | None = None, jobs: int = 1) -> Result:
        text = SUITE + (f"timeout = {timeout}\n" if timeout is not None else "") + TASK
        text += "".join(f'\n[[model]]\nname = "{name}"\n' for name in (*models, "oracle"))
        path = write_suite(text)
        return CliRunner().invoke(
            main, ["run", str(path), "--store", str(store_path), "--jobs", str(jobs)]
        )

    return run


def stored(store: Path) -> dict[str, dict]:
    """Each model's stored row, by model name."""
    frame = load(store)
    assert frame["model"].is_unique
    return {row["model"]: row for row in frame.to_dict("records")}


def test_exit_code_is_1_when_a_point_fails(run_with):
    result = run_with("bad:raises")

    assert result.exit_code == 1, result.output


def test_other_points_succeed_when_one_raises(run_with, store_path):
    run_with("bad:raises")

    assert stored(store_path)["oracle"]["status"] == "ok"
    assert stored(store_path)["oracle"]["metric.mse"] == 0.0


def test_raising_point_is_stored_failed_with_exception_type_and_message(run_with, store_path):
    run_with("bad:raises")

    row = stored(store_path)["bad:raises"]
    assert row["status"] == "failed"
    assert row["error"] == "ValueError: boom"


def test_raising_point_keeps_its_traceback(run_with, store_path):
    run_with("bad:raises")

    connection = sqlite3.connect(store_path)
    try:
        (traceback,) = connection.execute(
            "SELECT traceback FROM runs WHERE model = 'bad:raises'"
        ).fetchone()
    finally:
        connection.close()
    assert 'raise ValueError("boom")' in traceback
    assert "seqbench_bad_models.py" in traceback


def test_failed_point_is_printed_as_FAILED_with_its_error(run_with):
    result = run_with("bad:raises")

    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert any(
        "FAILED" in line and "bad:raises" in line and "ValueError: boom" in line for line in lines
    )
    assert any(line.split("] ", 1)[1].startswith("ok") and "oracle" in line for line in lines)
    assert "suite failures: 1 of 2 points failed" in result.stdout


def test_nan_predictions_fail_the_point(run_with, store_path):
    result = run_with("bad:nan-predictions")

    row = stored(store_path)["bad:nan-predictions"]
    assert result.exit_code == 1
    assert row["status"] == "failed"
    assert row["error"] == "NonFiniteResult: test metric mse is nan"


def test_nan_training_loss_fails_the_point(run_with, store_path):
    result = run_with("bad:nan-loss")

    row = stored(store_path)["bad:nan-loss"]
    assert result.exit_code == 1
    assert row["status"] == "failed"
    assert row["error"] == "NonFiniteResult: training loss is nan at epoch 1"


def test_worker_that_kills_itself_is_stored_as_killed_by_sigkill(run_with, store_path):
    result = run_with("bad:kills-itself")

    row = stored(store_path)["bad:kills-itself"]
    assert result.exit_code == 1
    assert row["status"] == "failed"
    assert "killed by signal SIGKILL" in row["error"]
    assert stored(store_path)["oracle"]["status"] == "ok"


def test_point_past_its_timeout_is_stored_as_timed_out(run_with, store_path):
    result = run_with("bad:hangs", timeout=TIMEOUT_S)

    row = stored(store_path)["bad:hangs"]
    assert result.exit_code == 1
    assert row["status"] == "failed"
    assert row["error"] == f"timed out after {TIMEOUT_S} s (run.timeout)"
    assert stored(store_path)["oracle"]["status"] == "ok"


def test_timed_out_worker_process_is_gone(run_with, worker_marker):
    run_with("bad:hangs", timeout=TIMEOUT_S)

    assert live_workers(worker_marker) == []


def test_every_kind_of_failure_is_stored_while_the_sweep_goes_on_in_parallel(run_with, store_path):
    bad = ["bad:raises", "bad:nan-predictions", "bad:nan-loss", "bad:kills-itself", "bad:hangs"]

    result = run_with(*bad, timeout=TIMEOUT_S, jobs=2)

    rows = stored(store_path)
    assert result.exit_code == 1, result.output
    statuses = {name: row["status"] for name, row in rows.items()}
    assert statuses == {**{name: "failed" for name in bad}, "oracle": "ok"}
    assert result.stdout.count("FAILED") == len(bad)
    assert "suite failures: 5 of 6 points failed" in result.stdout


def test_a_long_or_many_line_error_is_one_short_line_in_progress_and_whole_in_the_store():
    """A framework's error (a page of C++ stack) filled the progress line: 1,400
    characters for torch's allocator failure."""
    from seqbench.runner import MAX_ERROR_CHARACTERS, _brief_error

    assert _brief_error("ValueError: bad") == "ValueError: bad"
    page = "RuntimeError: allocation failed\n" + "frame #0: c10::alloc\n" * 80
    brief = _brief_error(page)
    assert brief.startswith("RuntimeError: allocation failed... (") and "\n" not in brief
    assert f"({len(page):,} characters in the store)" in brief
    wide = "x" * 1000
    assert _brief_error(wide) == "x" * MAX_ERROR_CHARACTERS + "... (1,000 characters in the store)"
