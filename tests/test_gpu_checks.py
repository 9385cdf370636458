"""benchmarks/gpu_checks.py: the GPU acceptance figures in one command. Without a GPU
only its plumbing can run: two real sweeps (with and without the NVML meter) and the
summary built from their stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_checks.py"


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread: a busy machine stays usable
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600, env=env
    )


def test_without_a_gpu_it_refuses_unless_smoke(tmp_path):
    result = run_script("--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "no CUDA GPU here" in result.stderr
    assert not (tmp_path / "out").exists()


def test_smoke_runs_both_sweeps_and_summarises_them(tmp_path):
    out = tmp_path / "out"
    result = run_script("--smoke", "--out", str(out))
    assert result.returncode == 0, result.stderr
    (row,) = json.loads((out / "gpu_checks.json").read_text())["rows"]
    assert row["variant"] == "fp32" and row["status"] == "ok"
    assert row["examples_per_s"] > 0 and row["examples_per_s_without_nvml"] > 0
    assert row["sampler_cost"] == 1 - row["examples_per_s"] / row["examples_per_s_without_nvml"]
    assert row["nvml_unavailable"] == "point ran on cpu" and row["counter_j"] is None
    assert row["device"] == "cpu" and row["gpus"] is None and row["idle_method"] is None
    assert row["train_flop_per_s"] > 0 and row["train_utilisation"] is None
    # The second sweep really ran without the meter: its store has no NVML column.
    from seqbench import results

    assert "meter.nvml.unavailable" in results.load(out / "with_nvml.sqlite").columns
    assert not any(c.startswith("meter.nvml") for c in results.load(out / "without_nvml.sqlite").columns)
    assert (out / "gpu_checks.md").read_text() in result.stdout
