"""The tutorial's plugin, installed from plugins/seqbench-example as the README's test
set-up does, works as a user would use it: listed, and its suite runs."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

from seqbench import results

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "plugins" / "seqbench-example"


def seqbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seqbench", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_the_example_plugin_is_installed_from_its_folder():
    direct_url = json.loads(distribution("seqbench-example").read_text("direct_url.json"))
    assert Path(direct_url["url"].removeprefix("file://")).resolve() == EXAMPLE.resolve()


def test_seqbench_plugins_lists_the_example_and_what_it_registers(tmp_path):
    result = seqbench("plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "seqbench-example  (seqbench-example 0.1.0)\n    models: numpy:lookup\n    tasks: reverse" in result.stdout


def test_the_example_suite_runs_and_the_lookup_model_learns_to_reverse(tmp_path):
    store = tmp_path / "store.sqlite"
    result = seqbench("run", str(EXAMPLE / "reverse.toml"), "--store", str(store), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    frame = results.load(store)
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}
    assert set(frame["model"]) == {"numpy:lookup", "oracle"}
    assert (frame["metric.exact_match"] == 1.0).all()


def test_a_lookup_table_past_memory_is_refused_while_the_suite_validates(tmp_path):
    """At associative-recall's defaults the count table would hold 34 billion cells
    (275 GB): every point failed with a MemoryError, exit 1, failed rows stored."""
    suite = tmp_path / "s.toml"
    suite.write_text('[task]\nname = "associative-recall"\n[[model]]\nname = "numpy:lookup"\n')
    store = tmp_path / "store.sqlite"

    result = seqbench("run", str(suite), "--store", str(store), cwd=tmp_path)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "its count table would hold 34,359,738,368 cells" in result.stderr
    assert "allowed: at most 134,217,728" in result.stderr
    assert not store.exists()
    smoke = seqbench("run", str(suite), "--smoke", "--dry-run", "--store", str(store), cwd=tmp_path)
    assert smoke.returncode == 0, smoke.stderr  # small sizes fit
