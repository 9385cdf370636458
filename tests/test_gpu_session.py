"""benchmarks/gpu_session.py: the one command a GPU session runs (issue 21). Without a
GPU only its --smoke path can run: every step, on the CPU, at `seqbench run --smoke`
sizes, each step's result written as soon as it exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_session.py"


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


def test_suites_it_writes_are_valid_toml():
    sys.path.insert(0, str(SCRIPT.parent))
    import gpu_session

    text = gpu_session.suite_text(
        "s", "adding", {"epochs": 2, "target": {"metric": "exact_match", "value": 0.85}},
        [{"name": "torch:transformer", "precision": "bf16", "compile": True}],
        sweep={"task.seq_len": [100, 200]}, task_params={"seq_len": 1000},
    )
    suite = tomllib.loads(text)
    assert suite["run"]["target"] == {"metric": "exact_match", "value": 0.85}
    assert suite["model"] == [{"name": "torch:transformer", "precision": "bf16", "compile": True}]
    assert suite["sweep"]["task"]["seq_len"] == [100, 200] and suite["task"]["seq_len"] == 1000


def test_smoke_runs_every_step_and_writes_each_as_it_goes(tmp_path):
    out = tmp_path / "out"
    result = run_script("--smoke", "--no-install", "--out", str(out))
    assert result.returncode == 0, result.stderr
    steps = {}
    for line in (out / "session.jsonl").read_text().splitlines():
        entry = json.loads(line)
        steps[entry["step"]] = entry
    assert [*steps] == ["environment", "calibrate", "nvml_probes", "nvml", "throughput",
                        "polynomial", "adding", "done"]
    assert not any("error" in entry for entry in steps.values()), steps
    versions = steps["environment"]["versions"]
    assert versions["seqbench"] and versions["torch"] and versions["gpu"] is None
    # NVML: both sweeps ran, the meter reported unavailable on the CPU.
    (row,) = steps["nvml"]["rows"]
    assert row["status"] == "ok" and row["nvml_unavailable"] == "point ran on cpu"
    assert row["examples_per_s"] > 0 and row["examples_per_s_without_nvml"] > 0
    # Every torch architecture the registry lists, found there, each on a task it serves.
    models = dict(steps["throughput"]["models"])
    assert models["torch:transformer"] == "polynomial" and models["torch:lstm"] == "adding"
    assert "torch:oracle" not in models
    rows = steps["throughput"]["rows"]
    assert sorted(r["model"] for r in rows) == sorted(models)
    assert all(r["status"] == "ok" and r["steady_examples_per_s"] > 0 for r in rows)
    polynomial = steps["polynomial"]["rows"]
    assert sorted(r["run.batch_size"] for r in polynomial) == [16, 32]  # 512, 256 on a GPU
    assert all(r["status"] == "ok" and 0 <= r["metric.exact_match"] <= 1 for r in polynomial)
    adding = steps["adding"]["rows"]
    # The original's lengths, divided by 20 under --smoke.
    assert [r["task.seq_len"] for r in adding if r["model"] == "torch:lstm"] == [50]
    assert sorted(r["task.seq_len"] for r in adding if r["model"] == "torch:attention") == [5, 10, 15, 20]
    # What comes back from a device call: at most 8 files; the summary names every step.
    assert sorted(p.name for p in out.iterdir()) == ["session.jsonl", "session.log", "session.md", "stores.tar.gz"]
    summary = (out / "session.md").read_text()
    assert all(f"## {step} " in summary for step in steps)
    with tarfile.open(out / "stores.tar.gz") as archive:
        names = archive.getnames()
    assert {"calibrate.sqlite", "nvml.sqlite", "nvml_off.sqlite", "throughput.sqlite",
                                           "polynomial.sqlite", "adding.sqlite"} <= set(names)


def test_the_gpu_variants_it_would_run_pass_suite_validation(tmp_path, monkeypatch):
    """What only a GPU runs (bf16, compile, one suite per variant) is checked as far as a
    CPU can: `seqbench run --dry-run` validates every suite and lists its points, on a
    machine shown one GPU (the fake NVML's; bf16 on the CPU is refused up front)."""
    from fake_nvml import use_fake_nvml

    sys.path.insert(0, str(SCRIPT.parent))
    import gpu_session

    found = [["torch:transformer", "polynomial"], ["torch:lstm", "adding"]]
    files = []
    for index, text in enumerate(gpu_session.throughput_suites(found, "cuda", 40_000)):
        files.append(tmp_path / f"{index}.toml")
        files[-1].write_text(text)
    with use_fake_nvml(monkeypatch) as configure:
        configure({"uuid": "GPU-aaaaaaaa-0000-0000-0000-000000000000", "name": "NVIDIA H100 80GB HBM3"})
        result = subprocess.run(
            [sys.executable, "-m", "seqbench", "run", *map(str, files), "--dry-run", "--store",
             str(tmp_path / "s.sqlite")],
            capture_output=True, text=True, timeout=120, env={**os.environ, "CUDA_VISIBLE_DEVICES": "0"},
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": 1 point (") == 6
    precisions = [tomllib.loads(f.read_text())["model"][0] for f in files]
    assert precisions[:3] == [{"name": "torch:transformer", "precision": "fp32"},
                              {"name": "torch:transformer", "precision": "bf16"},
                              {"name": "torch:transformer", "precision": "bf16", "compile": True}]
