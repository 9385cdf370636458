"""A store written by seqbench before the typed run path (``Point`` with ``RunSettings``,
``Record``) is read, resumed and reported by this version exactly as that version did.

The fixture in tests/data/legacy_store/ was made by the earlier code (its README says
how): the store, with five points deleted and one failed, and what that code printed
or wrote for it. Also here: executors written for the earlier executor contract
(a ``run(points)`` that yields plain dicts and reads ``self.on_progress``) still work.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqbench import registry
from seqbench.benchmark_json import benchmark_document
from seqbench.cli import main
from seqbench.point import Point
from seqbench.record import Record
from seqbench.results import load_records
from seqbench.suite import load_suite

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("tests/data/legacy_store")  # relative: the saved outputs name the suites so
SUITES = [DATA / "legacy.toml", DATA / "legacy_gp.toml"]
DELETED = {  # the README's table: the points deleted from the store
    "5127201301a6d07a", "b22659bdddc61cc1", "c498f0de26d4603e", "8c9fb8a97936f55f", "3adc93d25d934385",
}
FAILED = "0fcaec0316a7f246"  # legacy_gp's point with run.timeout = 0.001


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    copy = tmp_path / "legacy.sqlite"
    shutil.copyfile(DATA / "legacy.sqlite", copy)
    return copy


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_every_point_keeps_its_hash_and_label():
    code, output = invoke("run", "--dry-run", *map(str, SUITES))
    assert code == 0, output
    assert output == (DATA / "dry_run.txt").read_text()


def test_a_point_goes_to_its_worker_as_the_same_bytes():
    (ridge, gp) = (load_suite(SUITES[0]).points[2], load_suite(SUITES[1]).points[1])
    for point, name in ((ridge, "wire_ridge"), (gp, "wire_gp")):
        written = (DATA / f"{name}.point.json").read_text()
        assert point.to_json() == written
        assert Point.from_json(written) == point


def test_a_workers_record_reads_and_writes_back_byte_for_byte():
    for name in ("wire_ridge", "wire_gp"):
        written = (DATA / f"{name}.record.json").read_text()
        record = Record.from_json(written)
        assert record.ok and record.metrics and record.timings and record.measurements
        assert record.to_json() == written


@pytest.mark.parametrize("options, saved", [
    (["--format", "table"], "report.table.txt"),
    (["--suite", "legacy_gp"], "report.legacy_gp.txt"),
])
def test_the_report_is_what_the_earlier_version_printed(old_store, options, saved):
    code, output = invoke("report", "--store", str(old_store), *options)
    assert code == 0, output
    assert output == (DATA / saved).read_text()


def _rows(text: str, fmt: str) -> list[dict[str, object]]:
    if fmt == "json":
        return json.loads(text)
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    lines = [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in text.splitlines()]
    return [dict(zip(lines[0], line)) for line in lines[2:]]


def _same(earlier: object, now: object) -> bool:
    """The earlier JSON rounded to 10 decimals and Markdown to 4 digits; now both are
    exact or wider."""
    if earlier in (None, "") or now in (None, ""):
        return earlier in (None, "") and now in (None, "")
    try:
        return math.isclose(float(earlier), float(now), rel_tol=1e-3, abs_tol=1e-10)  # type: ignore[arg-type]
    except ValueError:
        return str(earlier) == str(now)


@pytest.mark.parametrize("fmt", ["csv", "json", "markdown"])
def test_the_complete_exports_hold_what_the_earlier_version_printed(old_store, fmt):
    # The earlier exports held the headline columns only, naming the primary metric
    # ``metric`` and ``value``; now they hold every column, named as results.load names them.
    code, output = invoke("report", "--store", str(old_store), "--format", fmt)
    assert code == 0, output
    earlier, now = _rows((DATA / f"report.{fmt}.txt").read_text(), fmt), _rows(output, fmt)
    assert len(now) == len(earlier) > 0
    renamed = {"metric": "primary_metric", "value": "primary_value"}
    for old_row, new_row in zip(earlier, now):
        for column, value in old_row.items():
            assert _same(value, new_row[renamed.get(column, column)]), (column, value, new_row)


def test_benchmark_json_is_what_the_earlier_version_wrote(old_store):
    suites = [load_suite(path) for path in SUITES]
    written = json.loads(json.dumps(benchmark_document(suites, old_store)["benchmarks"], default=str))
    assert written == json.loads((DATA / "benchmarks.json").read_text())


def rows(store: Path) -> dict[str, tuple]:
    with sqlite3.connect(store) as connection:
        return {row[2]: row for row in connection.execute("SELECT * FROM runs")}


def test_resume_runs_exactly_the_missing_and_failed_points(old_store):
    before = rows(old_store)

    code, output = invoke("run", "--store", str(old_store), *map(str, SUITES))

    # The failed point fails again (its timeout is shorter than any start-up): exit 1.
    assert code == 1, output
    assert "suite legacy: 16 points, 11 already done (--fresh reruns them), running 5" in output
    assert "suite legacy_gp: 2 points, 1 already done (--fresh reruns them), running 1" in output
    after = rows(old_store)
    assert set(after) - set(before) == DELETED
    rerun = {point for point in before if after[point] != before[point]}
    assert rerun == {FAILED}, "a point stored as ok was run again"
    # New and old rows read back alike: a full record each, old ones unchanged.
    stored = {item.record.point: item.record for item in load_records(old_store)}
    assert len(stored) == 18
    assert all(stored[point].ok and stored[point].curves for point in DELETED if "ridge" in stored[point].model)
    code, report = invoke("report", "--store", str(old_store), "--suite", "legacy", "--format", "csv")
    assert code == 0 and len(report.strip().splitlines()) == 1 + 16


EARLIER_EXECUTOR = '''
from seqbench import hookimpl
from seqbench.executors import Executor
from seqbench.pipeline import run_point


class Earlier(Executor):
    """Written for the earlier contract: no on_progress argument, dict records."""

    name = "earlier"

    def run(self, points):
        for point in points:
            self.on_progress(point, {"epoch": 1, "epochs": 1, "metric": "mse", "value": 0.0})
            yield run_point(point).to_dict()


@hookimpl
def register_executors(register):
    register(Earlier)
'''


def test_an_executor_written_for_the_earlier_contract_still_runs(install_plugin, old_store):
    install_plugin("seqbench-earlier", EARLIER_EXECUTOR)
    assert registry.executors().plugin_of("earlier") == "seqbench-earlier"

    code, output = invoke("run", "--store", str(old_store), "--executor", "earlier", str(SUITES[0]))

    assert code == 0, output
    assert "running 5" in output
    assert {item.record.point for item in load_records(old_store, "legacy")} >= DELETED
