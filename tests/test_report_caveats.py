"""The notes a report adds about measurements to read with care, from a real store
whose runs' GPU figures are then edited as a GPU run (or a hostile store) would leave
them: read by SQLite's JSON where it can, in Python where it cannot (Infinity), through
results.load either way."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from seqbench.cli import main

SUITE = """
[suite]
name = "tiny"
seeds = [0, 1, 2]
[run]
train_size = 16
eval_size = 16
[task]
name = "adding"
seq_len = 3
[[model]]
name = "oracle"
"""

SHARED = "tiny: {n} shared a GPU with other processes during training or evaluation"
SHORT = "tiny: {n} a train or eval phase shorter than a few updates of the GPU's energy counter"


@pytest.fixture
def store(write_suite, store_path):
    result = CliRunner().invoke(main, ["run", str(write_suite(SUITE)), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    return store_path


def set_gpu_figures(store, by_seed: dict) -> None:
    """Replace each run's ``measurements.nvml`` (by seed), as Python's json writes it."""
    with sqlite3.connect(store) as connection:
        for run_id, seed, text in connection.execute("SELECT id, seed, measurements FROM runs").fetchall():
            measurements = json.loads(text)
            measurements["nvml"] = by_seed[seed]
            connection.execute("UPDATE runs SET measurements = ? WHERE id = ?", (json.dumps(measurements), run_id))


def notes(store) -> str:
    result = CliRunner().invoke(main, ["report", "--store", str(store)])
    assert result.exit_code == 0, result.output
    return result.stderr


@pytest.mark.parametrize("extra", [{}, {"mean_power_w": float("inf")}], ids=["sqlite-json", "python-json"])
def test_runs_that_shared_a_gpu_or_had_a_short_phase_are_counted(store, extra):
    set_gpu_figures(store, {
        0: {"train": {"other_processes": 2, "short_phase": False, **extra}, "eval": {"other_processes": 0}},
        1: {"train": {"other_processes": 0, "short_phase": False}, "eval": {"other_processes": 1, "short_phase": True}},
        # The data phase is often short, and its energy shown nowhere: not noted.
        2: {"data": {"short_phase": True, "other_processes": 3},
            "train": {"other_processes": 0, "short_phase": False, **extra}},
    })

    said = notes(store)

    assert SHARED.format(n="2 runs") in said
    assert SHORT.format(n="1 run has") in said


@pytest.mark.parametrize("figures", [
    {"unavailable": "point ran on cpu"},
    {"train": {"other_processes": None, "short_phase": None}},
    {"train": {"other_processes": "5", "short_phase": "true"}},  # wrong types: not flags
    ["not", "an", "object"],
    {"train": ["other_processes", 3]},
    {"train": {"other_processes": float("nan"), "x": float("-inf")}},
])
def test_nothing_is_said_of_runs_without_such_figures_whatever_their_shape(store, figures):
    set_gpu_figures(store, {seed: figures for seed in range(3)})

    said = notes(store)

    assert "shared a GPU" not in said and "energy counter" not in said


def test_a_lost_reading_missing_samples_and_a_busy_idle_are_counted(store):
    """gpu_error, missing_readings and idle_note/idle_other_processes were stored beside
    the figures but the report said nothing of them."""
    set_gpu_figures(store, {
        0: {"train": {"gpu_error": "GPU GPU-1: NVMLError_GpuIsLost: GPU is lost", "energy_j": None},
            "eval": {"missing_readings": "GPU GPU-1: utilization: 1 of 12 samples without it (x)"}},
        1: {"train": {"idle_other_processes": 1, "idle_other_pids": "4242",
                      "idle_note": "GPU GPU-1: other processes on the GPU during the window (4242): not idle"},
            "eval": {"missing_readings": None, "gpu_error": None}},
        # Empty text, no processes, and the data phase (shown nowhere): not noted.
        2: {"train": {"idle_other_processes": 0, "idle_note": "", "missing_readings": None},
            "data": {"gpu_error": "GPU GPU-1: lost", "idle_note": "x"}},
    })

    said = notes(store)

    assert "tiny: 1 run lost a GPU reading during training or evaluation" in said
    assert "tiny: 1 run had GPU samples without some reading" in said
    assert "tiny: 1 run measured idle power with another process on the GPU or by a fallback" in said
