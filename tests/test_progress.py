"""Progress of a running point: each epoch reaches `seqbench run`'s output while the
point still runs, as a heartbeat line in logs and on the live bar on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from seqbench import progress as progress_module
from seqbench.executors.local import LocalExecutor
from seqbench.pipeline import run_point
from seqbench.progress import HEARTBEAT_SECONDS, Progress
from seqbench.suite import load_suite

EPOCH_MODEL = """
import time
from dataclasses import dataclass

import numpy as np

from seqbench import Model, hookimpl, param


@dataclass
class Epochs(Model):
    name = "slow:epochs"
    serves = frozenset({("continuous", "scalar")})
    pause: float = param(0.0, min=0.0, help="seconds per epoch")

    def fit(self, train, settings, on_epoch):
        for epoch in range(1, settings.epochs + 1):
            time.sleep(self.pause)
            on_epoch(epoch, 1.0 / epoch, len(train))

    def predict(self, inputs):
        return np.ones(len(inputs))


@hookimpl
def register_models(register):
    register(Epochs)
"""

SUITE = """\
[suite]
name = "epochs"

[run]
epochs = {epochs}
train_size = 16
eval_size = 16
batch_size = 16
device = "cpu"

[task]
name = "adding"
seq_len = 3

[[model]]
name = "slow:epochs"
pause = {pause}
"""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def epoch_report(epoch: int, seconds: float) -> dict:
    return {"epoch": epoch, "epochs": 20, "metric": "mse", "value": 0.1688, "seconds": seconds}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def epoch_point(install_plugin, write_suite):
    def point(epochs: int, pause: float = 0.0):
        install_plugin("seqbench-slow-epochs", EPOCH_MODEL)
        (only,) = load_suite(write_suite(SUITE.format(epochs=epochs, pause=pause))).points
        return only

    return point


def test_a_log_gets_a_line_for_a_long_point_at_most_every_heartbeat(clock):
    out = io.StringIO()
    progress = Progress(2, out)
    progress.epoch("adding seq_len=1000 torch:lstm", epoch_report(1, HEARTBEAT_SECONDS - 1))
    assert out.getvalue() == ""  # a quick point adds nothing to the log

    progress.epoch("adding seq_len=1000 torch:lstm", epoch_report(2, HEARTBEAT_SECONDS + 5))
    clock[0] += HEARTBEAT_SECONDS / 2
    progress.epoch("adding seq_len=1000 torch:lstm", epoch_report(3, HEARTBEAT_SECONDS + 20))
    clock[0] += HEARTBEAT_SECONDS
    progress.epoch("adding seq_len=1000 torch:lstm", epoch_report(4, HEARTBEAT_SECONDS + 50))

    lines = out.getvalue().splitlines()
    assert lines == [
        "  ... adding seq_len=1000 torch:lstm: epoch 2/20  val mse=0.1688  0:35",
        "  ... adding seq_len=1000 torch:lstm: epoch 4/20  val mse=0.1688  1:20",
    ]


def test_a_terminal_shows_the_latest_epoch_on_the_bar_until_the_point_finishes(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = Terminal()
    progress = Progress(2, out)
    progress.epoch("adding seq_len=300 torch:lstm", epoch_report(3, 4.0))
    bar = out.getvalue().rsplit("\r", 1)[-1]
    assert bar.endswith("| adding seq_len=300 torch:lstm: epoch 3/20  val mse=0.1688  0:04")

    progress.finished("ok     adding seq_len=300 torch:lstm", ok=True, label="adding seq_len=300 torch:lstm")
    assert "epoch 3/20" not in out.getvalue().rsplit("\r", 1)[-1]


def test_the_bar_fits_one_terminal_row_so_it_can_be_redrawn(monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")
    out = Terminal()
    Progress(2, out).epoch("adding seq_len=300 torch:lstm", epoch_report(3, 4.0))
    assert len(out.getvalue().rsplit("\r", 1)[-1]) <= 49


@pytest.mark.parametrize("columns", [80, 40])
def test_a_narrow_terminal_shortens_the_label_never_the_epoch_metric_or_clock(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = Terminal()
    label = "adding seq_len=50 torch:attention seed=0"
    Progress(9, out).epoch(label, epoch_report(3, 77.0))
    line = out.getvalue().rsplit("\r", 1)[-1]
    assert len(line) <= columns - 1
    assert line.endswith("epoch 3/20  val mse=0.1688  1:17")
    if columns == 80:  # room for the counts, the ETA and the start of the label
        assert line.startswith("[") and "0/9  eta --  | adding se" in line and label not in line


def test_run_point_reports_every_epoch_as_it_ends(epoch_point):
    heard: list[dict] = []
    record = run_point(epoch_point(epochs=3), on_epoch=heard.append)
    assert record.ok
    assert [report["epoch"] for report in heard] == [1, 2, 3]
    assert {report["epochs"] for report in heard} == {3}
    assert {report["metric"] for report in heard} == {"mse"}
    assert [report["value"] for report in heard] == [curve["val_mse"] for curve in record.curves]


def test_the_local_executor_passes_on_a_running_workers_epochs(epoch_point):
    point = epoch_point(epochs=4, pause=0.4)
    heard: list[tuple[str, int]] = []
    with LocalExecutor(jobs=1) as executor:
        on_progress = lambda p, report: heard.append((p.hash, report["epoch"]))  # noqa: E731
        (record,) = list(executor.run([point], on_progress=on_progress))
    assert record.ok
    epochs = [epoch for _, epoch in heard]
    # Read every half second from another process: some epochs may be skipped, but the
    # last one is always passed on, in order, and at least one while the point ran.
    assert epochs == sorted(set(epochs)) and epochs[-1] == 4 and len(epochs) >= 2
    assert {hash_ for hash_, _ in heard} == {point.hash}


def test_the_worker_leaves_its_progress_beside_its_record(epoch_point, tmp_path: Path):
    import subprocess
    import sys

    result = tmp_path / "record.json"
    subprocess.run(
        [sys.executable, "-m", "seqbench.worker", str(result)],
        input=epoch_point(epochs=2).to_json().encode(),
        check=True,
    )
    assert result.exists()
    progress = Path(f"{result}.progress").read_text()
    assert '"epoch": 2' in progress and '"epochs": 2' in progress


def test_the_eta_adds_up_stored_timings_of_similar_points_and_the_mean_for_the_rest(clock, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = Terminal()
    expected = {"a oracle": 0.2, "a torch": 100.0, "b new": None}
    progress = Progress(3, out, expected)
    # An unknown point and none finished: nothing to go on yet.
    assert "eta --" in out.getvalue().rsplit("\r", 1)[-1]
    clock[0] += 10.0
    progress.finished("ok     a oracle", ok=True, label="a oracle")
    # 100 s stored for the torch point, the current mean (10 s) for the unknown one.
    assert "eta 1:50" in out.getvalue().rsplit("\r", 1)[-1]
    clock[0] += 10.0
    progress.finished("ok     b new", ok=True, label="b new")
    assert "eta 1:40" in out.getvalue().rsplit("\r", 1)[-1]


def test_similar_points_are_the_same_task_model_and_length(store_path, write_suite):
    import sqlite3

    from click.testing import CliRunner

    from seqbench.cli import main
    from seqbench.eta import expected_seconds

    suite = write_suite("[task]\nname='adding'\n[sweep]\ntask.seq_len=[5, 6]\n[[model]]\nname='oracle'\n")
    assert CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)]).exit_code == 0
    other = write_suite("[suite]\nname='x'\n[task]\nname='adding'\n[sweep]\ntask.seq_len=[6, 7]\n"
                        "[[model]]\nname='oracle'\n", name="other.toml")
    points = {p.task_params["seq_len"]: p for p in load_suite(other).points}
    with sqlite3.connect(store_path) as connection:
        expected = expected_seconds(connection, list(points.values()))
    assert set(expected) == {points[6].hash}  # length 7 never ran
    assert 0 < expected[points[6].hash] < 60
