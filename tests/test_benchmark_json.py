"""``seqbench run --benchmark-json FILE`` writes pytest-benchmark's JSON format: the real
``pytest-benchmark compare`` reads it, and its statistics are pytest-benchmark's own."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_benchmark.stats import Stats

from seqbench import __version__, results
from seqbench.benchmark_json import stats
from seqbench.cli import main

SUITE = """
[suite]
name = "bench"
seeds = [0, 1]
[run]
epochs = 1
train_size = 64
eval_size = 32
batch_size = 32
device = "cpu"
[task]
name = "adding"
seq_len = 5
[[model]]
name = "numpy:ridge"
[[model]]
name = "oracle"
"""


@pytest.mark.parametrize("rounds", [1, 2, 3, 4, 5, 6, 7, 8, 9, 20])
def test_statistics_are_the_ones_pytest_benchmark_computes(rounds):
    data = [random.Random(rounds).lognormvariate(0, 1) for _ in range(rounds)]
    theirs = Stats()
    for value in data:
        theirs.update(value)
    expected = {**theirs.as_dict(), "data": data, "iterations": 1}
    assert stats(data) == expected


def run(suite: Path, store: Path, *options: str):
    return CliRunner().invoke(main, ["run", str(suite), "--store", str(store), *options])


def pytest_benchmark_compare(*args: str) -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "pytest-benchmark"
    return subprocess.run([str(command), "compare", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """SUITE run once for this module, writing benchmark JSON: (suite, store, json path)."""
    directory = tmp_path_factory.mktemp("bench")
    suite, store = directory / "suite.toml", directory / "store.sqlite"
    output = directory / "out" / "run.json"
    suite.write_text(SUITE)
    result = run(suite, store, "--benchmark-json", str(output))
    assert result.exit_code == 0, result.output
    assert f"benchmark json: {output} (8 benchmarks)" in result.output
    return suite, store, output


def test_one_benchmark_per_setting_and_phase_with_a_round_per_seed(ran):
    _, store, output = ran
    document = json.loads(output.read_text())
    benchmarks = {(b["group"], b["name"]): b for b in document["benchmarks"]}
    assert set(benchmarks) == {
        (f"bench {phase}", f"adding {model}")
        for phase in ("total", "data", "train", "eval")
        for model in ("numpy:ridge", "oracle")
    }
    runs = results.load(store).set_index(["model", "seed"])
    for (group, name), benchmark in benchmarks.items():
        phase, model = group.split()[1], name.split()[1]
        assert benchmark["stats"]["rounds"] == 2
        assert benchmark["stats"]["data"] == [runs.loc[(model, seed), f"time.{phase}_s"] for seed in (0, 1)]
        info = benchmark["extra_info"]
        assert info["seeds"] == [0, 1]
        assert info["seqbench"] == __version__
        assert info["plugins"]["seqbench-tasks"].startswith("seqbench-tasks ")
        assert info["provenance"]["python"] and info["provenance"]["suite_hash"]
        assert set(info["metrics"]["0"]) == {"mse", "mae"}
        assert benchmark["params"]["task.seq_len"] == 5


def test_pytest_benchmark_compare_reads_the_file_and_compares_two_runs(ran, tmp_path):
    _, _, output = ran
    shown = pytest_benchmark_compare(str(output), "--columns=min,max,rounds")
    assert shown.returncode == 0, shown.stderr
    assert "benchmark 'bench train': 2 tests" in shown.stdout
    assert "adding numpy:ridge" in shown.stdout and "adding oracle" in shown.stdout

    other = tmp_path / "other.json"
    other.write_text(output.read_text())
    both = pytest_benchmark_compare(str(output), str(other), "--group-by=fullname", "--columns=mean")
    assert both.returncode == 0, both.stderr
    # Grouped by full name, each benchmark sits beside its twin from the other file.
    assert "benchmark 'bench::train::adding numpy:ridge': 2 tests" in both.stdout


def test_a_run_with_nothing_left_to_do_still_writes_every_stored_point(ran, tmp_path):
    suite, store_path, _ = ran
    again = tmp_path / "again.json"
    result = run(suite, store_path, "--benchmark-json", str(again))
    assert result.exit_code == 0, result.output
    assert "nothing to run" in result.output
    assert len(json.loads(again.read_text())["benchmarks"]) == 8


def test_an_unwritable_file_is_one_error_line_with_exit_2(ran, tmp_path):
    suite, store_path, _ = ran
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run(suite, store_path, "--benchmark-json", str(blocker / "x.json"))
    assert result.exit_code == 2
    assert f"Error: --benchmark-json: cannot write {blocker / 'x.json'}" in result.output
    assert "Traceback" not in result.output


def test_a_dry_run_writes_no_file(write_suite, store_path, tmp_path):
    output = tmp_path / "dry.json"
    result = run(write_suite(SUITE), store_path, "--dry-run", "--benchmark-json", str(output))
    assert result.exit_code == 0
    assert not output.exists()


def test_the_benchmarks_run_under_pytest_benchmark_with_seqbench_metadata(tmp_path):
    root = Path(__file__).resolve().parent.parent
    output = tmp_path / "bench.json"
    # Not an xdist worker, though this test may run in one: pytest-benchmark turns
    # itself off inside xdist (it reads PYTEST_XDIST_WORKER).
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_XDIST")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/test_bench_harness.py", "-k", "in_process",
         "--benchmark-only", f"--benchmark-json={output}", "-p", "no:cacheprovider", "-q"],
        cwd=root, capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (benchmark,) = json.loads(output.read_text())["benchmarks"]
    assert benchmark["name"] == "test_point_in_process"
    assert benchmark["options"]["max_time"] == 0.1  # the short default for a quick full run
    info = benchmark["extra_info"]
    assert info["seqbench"] == __version__
    assert info["plugins"]["seqbench-tasks"].startswith("seqbench-tasks ")
    assert info["provenance"]["python"] and info["provenance"]["cpu"]


def test_the_default_test_run_leaves_the_benchmarks_out():
    import tomllib

    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert config["testpaths"] == ["tests"]


def test_a_bad_suite_writes_no_file(write_suite, store_path, tmp_path):
    output = tmp_path / "bad.json"
    result = run(write_suite("[task]\nname = 'adding'\n"), store_path, "--benchmark-json", str(output))
    assert result.exit_code == 2
    assert "no [[model]] given" in result.output
    assert not output.exists() and not store_path.exists()


def test_an_unwritable_file_is_refused_before_any_point_runs(write_suite, store_path, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run(write_suite(SUITE), store_path, "--benchmark-json", str(blocker / "deeper" / "x.json"))
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --benchmark-json: cannot write {blocker / 'deeper' / 'x.json'} ({blocker} is not a folder)"
    )
    assert not store_path.exists()  # nothing ran, nothing was written
