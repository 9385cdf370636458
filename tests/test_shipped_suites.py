"""Every suite shipped in suites/ is valid, and the reproductions and the synthetic-task suites run in --smoke mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.suite import load_suite

SUITES = Path(__file__).resolve().parent.parent / "suites"
ALL = sorted(SUITES.rglob("*.toml"))
# Every reproduction, full size and CPU-sized (reproductions/cpu/), runs in --smoke
# mode: the CPU-sized ones set other learning rates, patience and lengths.
REPRODUCTIONS = sorted((SUITES / "reproductions").rglob("*.toml"))


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(SUITES)) for p in ALL])
def test_shipped_suite_validates_into_distinct_points(path):
    suite = load_suite(path)
    assert suite.points
    assert len({point.hash for point in suite.points}) == len(suite.points)
    assert load_suite(path, smoke=True).points


# The synthetic-task suites (synthetic/, synthetic/cpu/) run in --smoke mode too.
SYNTHETIC = sorted((SUITES / "synthetic").rglob("*.toml"))


def runs_in_smoke_mode(path: Path, store_path: Path) -> None:
    # Two points at a time: these suites are most of the suite's run time.
    args = ["run", str(path), "--smoke", "--jobs", "2", "--store", str(store_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert set(results.load(store_path)["status"]) == {"ok"}


@pytest.mark.parametrize("path", REPRODUCTIONS, ids=[str(p.relative_to(SUITES / "reproductions")) for p in REPRODUCTIONS])
def test_reproduction_suite_runs_in_smoke_mode(path, store_path):
    runs_in_smoke_mode(path, store_path)


@pytest.mark.parametrize("path", SYNTHETIC, ids=[str(p.relative_to(SUITES / "synthetic")) for p in SYNTHETIC])
def test_synthetic_suite_runs_in_smoke_mode(path, store_path):
    runs_in_smoke_mode(path, store_path)
