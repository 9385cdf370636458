"""Complete exports (``report --format csv|json|markdown``, ``--per``) and bundles
(``seqbench export``), on a real store: gp-pairs and its exact oracle, whose runs carry
several metrics (nll, mse, r2), per-position metrics, timings and meters."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.bundle import bundle_origin
from seqbench.cli import main
from seqbench.store import Store

SUITE = """
[suite]
name = "gp"
seeds = [0, 1]
[run]
epochs = 1
train_size = 64
eval_size = 32
batch_size = 32
eval_lengths = [40]
[task]
name = "gp-pairs"
length = 40
context = 20
[[model]]
name = "oracle"
"""

# A model that trains an epoch, so the bundle has curves to carry.
OTHER = """
[suite]
name = "other"
[run]
epochs = 1
train_size = 64
eval_size = 32
batch_size = 32
[task]
name = "adding"
seq_len = 5
[[model]]
name = "numpy:ridge"
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("exports")
    path = folder / "store.sqlite"
    for name, text in (("gp", SUITE), ("other", OTHER)):
        suite = folder / f"{name}.toml"
        suite.write_text(text)
        code, output = invoke("run", str(suite), "--store", str(path))
        assert code == 0, output
    return path


def stored_columns(path: Path, suite: str) -> list[dict[str, Any]]:
    """Each run's columns as the store's own JSON holds them, read without seqbench."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT id, config, metrics, timings, measurements FROM runs WHERE suite = ? ORDER BY id", (suite,))
        runs = []
        for run_id, config, *result_texts in rows.fetchall():
            flat: dict[str, Any] = {"id": run_id}
            config = json.loads(config)
            sections = [("task", config["task"]["params"]), ("model", config["model"]["params"]), ("run", config["run"])]
            sections += zip(("metric", "time", "meter"), map(json.loads, result_texts))
            for prefix, document in sections:
                flatten(prefix, document, flat)
            runs.append(flat)
    return runs


def flatten(prefix: str, document: dict[str, Any], into: dict[str, Any]) -> None:
    for key, value in document.items():
        if isinstance(value, dict):
            flatten(f"{prefix}.{key}", value, into)
        else:
            into[f"{prefix}.{key}"] = value


def test_every_stored_metric_timing_meter_and_parameter_is_exported(store):
    stored = stored_columns(store, "gp")
    assert {"metric.nll", "metric.mse", "metric.r2", "time.train_s", "task.context",
            "meter.resources.eval.cpu_s"} <= set(stored[0])
    code, as_json = invoke("report", "--store", str(store), "--suite", "gp", "--format", "json")
    assert code == 0, as_json
    code, as_csv = invoke("report", "--store", str(store), "--suite", "gp", "--format", "csv")
    code, as_markdown = invoke("report", "--store", str(store), "--suite", "gp", "--format", "markdown")
    json_rows = json.loads(as_json)
    csv_rows = list(csv.DictReader(io.StringIO(as_csv)))
    markdown_header = [c.strip() for c in as_markdown.splitlines()[0].strip("|").split("|")]
    assert len(json_rows) == len(csv_rows) == len(stored) == 2
    assert len(as_markdown.splitlines()) == 2 + len(stored)
    for run, from_json, from_csv in zip(stored, json_rows, csv_rows):
        assert set(run) <= set(from_json) and set(run) <= set(from_csv) and set(run) <= set(markdown_header)
        for column, value in run.items():
            assert from_json[column] == value, column
            if isinstance(value, float):
                assert float(from_csv[column]) == value, column
            elif isinstance(value, list):
                assert json.loads(from_csv[column]) == value, column


def test_exports_name_and_hold_what_results_load_reads(store):
    loaded = results.load(store, "gp").drop(columns=["provenance"])
    code, output = invoke("report", "--store", str(store), "--suite", "gp", "--format", "json")
    exported = pd.DataFrame(json.loads(output))
    assert sorted(exported.columns) == sorted(loaded.columns)
    for column in loaded.columns:
        assert exported[column].tolist() == loaded[column].tolist(), column
    # Positions: the export is load_position_metrics, row for row.
    code, output = invoke("report", "--store", str(store), "--suite", "gp", "--per", "position", "--format", "json")
    assert code == 0, output
    positions = pd.DataFrame(json.loads(output))
    expected = results.load_position_metrics(store, "gp")
    assert set(positions["name"]) == {"nll", "mse"} and len(positions) == len(expected) > 0
    pd.testing.assert_frame_equal(positions, expected, check_dtype=False)


def test_json_and_csv_keep_every_digit(tmp_path):
    path = tmp_path / "store.sqlite"
    values = {"tiny": 3e-12, "short": 1.3008e-07, "sum": 0.1 + 0.2, "big": 123456789.123456789, "zero": 0.0}
    with Store(path) as written:
        written.write({"suite": "s", "point": "p", "task": "adding", "model": "oracle", "seed": 0,
                       "status": "ok", "primary_metric": "tiny", "direction": "min", "primary_value": 3e-12,
                       "config": {"task": {"name": "adding", "params": {"seq_len": 5}},
                                  "model": {"name": "oracle", "params": {}}, "run": {}, "seed": 0},
                       "metrics": values, "timings": {}, "measurements": {}}, {})
    # A value an earlier seqbench could store: JSON Infinity, which the store now refuses.
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE runs SET timings = '{\"train_s\": Infinity}'")
    code, output = invoke("report", "--store", str(path), "--format", "json")
    assert code == 0, output
    (row,) = json.loads(output, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert {name: row[f"metric.{name}"] for name in values} == values
    assert row["primary_value"] == 3e-12 and '"metric.tiny": 3e-12' in output
    assert row["time.train_s"] == "Infinity"
    code, output = invoke("report", "--store", str(path), "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(output))
    assert {name: float(row[f"metric.{name}"]) for name in values} == values
    assert math.isinf(float(row["time.train_s"]))


def test_a_bundle_reports_as_its_source_does(store, tmp_path):
    bundle = tmp_path / "shared" / "gp.sqlite"
    code, output = invoke("export", "gp", "--store", str(store), "--out", str(bundle))
    assert code == 0, output
    assert sorted(p.name for p in bundle.parent.iterdir()) == ["gp.sqlite"]  # one file, nothing beside it
    assert results.suites(bundle) == ["gp"]
    origin = bundle_origin(bundle)
    assert origin is not None and origin["suites"] == ["gp"] and origin["runs"] == 2
    for per in ("run", "position", "length", "epoch"):
        code, source = invoke("report", "--store", str(store), "--suite", "gp", "--per", per, "--format", "csv")
        code, copy = invoke("report", "--store", str(bundle), "--per", per, "--format", "csv")
        assert code == 0 and copy == source, per
        if per != "epoch":  # the oracle trains no epochs
            assert len(source.splitlines()) > 2, per
    code, output = invoke("report", "--store", str(store), "--suite", "gp", "--compare", str(bundle), "--format", "csv")
    assert code == 0, output
    both = pd.read_csv(io.StringIO(output))
    first, second = (part.drop(columns="source").reset_index(drop=True) for _, part in both.groupby("source", sort=False))
    assert len(first) == 2
    pd.testing.assert_frame_equal(first, second)
    assert [item.record for item in results.load_records(bundle)] == [
        item.record for item in results.load_records(store, "gp")]


def test_export_counts_the_runs_it_wrote_in_words(store, tmp_path):
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    assert invoke("export", "other", "--store", str(store), "--out", str(one))[1].startswith(
        f"exported 1 run of other from {store} to {one} ")
    assert invoke("export", "gp", "--store", str(store), "--out", str(two))[1].startswith(
        f"exported 2 runs of gp from {store} to {two} ")


def test_export_refuses_without_writing(store, tmp_path):
    out = tmp_path / "bundle.sqlite"
    code, output = invoke("export", "nope", "--store", str(store), "--out", str(out))
    assert code == 2 and output == f"Error: export: no runs of suite 'nope' in {store}; suites: gp, other\n"
    assert list(tmp_path.iterdir()) == []
    out.write_text("keep me")
    code, output = invoke("export", "gp", "--store", str(store), "--out", str(out))
    assert code == 2 and output == f"Error: --out: {out} exists; add --force to replace it\n"
    assert out.read_text() == "keep me"
    code, output = invoke("export", "gp", "other", "--store", str(store), "--out", str(out), "--force")
    assert code == 0, output
    assert results.suites(out) == ["gp", "other"]
    code, source = invoke("report", "--store", str(store), "--suite", "other", "--per", "epoch", "--format", "csv")
    code, copy = invoke("report", "--store", str(out), "--suite", "other", "--per", "epoch", "--format", "csv")
    assert copy == source and "train_loss" in copy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.sqlite"]
    code, output = invoke("export", "gp", "--store", str(store), "--out", str(store), "--force")
    assert code == 2 and "is the store being exported" in output


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_export_refuses_the_files_sqlite_keeps_beside_the_store(store, tmp_path, suffix):
    """--out STORE-wal --force replaced the log holding committed runs (they were lost);
    a bundle written at STORE-journal made the store read as stopped half-way."""
    beside = Path(f"{store}{suffix}")
    existed = beside.exists()
    before = beside.read_bytes() if existed else None

    code, output = invoke("export", "gp", "--store", str(store), "--out", str(beside), "--force")

    assert code == 2 and "is the store being exported, or a file SQLite keeps beside it" in output
    assert beside.exists() == existed and (beside.read_bytes() if existed else None) == before
    assert results.suites(store) == ["gp", "other"]


def test_whole_numbers_missing_from_some_runs_export_as_whole_numbers(tmp_path):
    """A model's `hidden` beside a model without one, or a task parameter beside
    another suite's task, exported as 8.0 (pandas makes floats of a column with gaps);
    JSON read it back as a float."""
    path = tmp_path / "store.sqlite"
    big = 2**62 + 1  # past what a float holds exactly

    def run(suite: str, task: dict[str, Any], model: dict[str, Any], timings: dict[str, Any]) -> dict[str, Any]:
        return {"suite": suite, "point": f"{suite}{len(model)}", "task": task["name"], "model": "m", "seed": 0,
                "status": "ok", "primary_metric": "mse", "direction": "min", "primary_value": 0.5,
                "config": {"task": task, "model": {"name": "m", "params": model}, "run": {}, "seed": 0},
                "metrics": {"mse": 0.5}, "timings": timings, "measurements": {}}

    adding = {"name": "adding", "params": {"seq_len": 12}}
    with Store(path) as written:
        written.write(run("a", adding, {"hidden": 8, "lr": 1.0, "big": big}, {"epochs": 3}), {})
        written.write(run("a", adding, {}, {}), {})
        written.write(run("b", {"name": "gp-pairs", "params": {"length": 16}}, {"hidden": 4}, {"epochs": 1}), {})

    for suite in (["--suite", "a"], []):
        code, output = invoke("report", "--store", str(path), *suite, "--format", "csv")
        assert code == 0, output
        rows = list(csv.DictReader(io.StringIO(output)))
        assert [row["model.hidden"] for row in rows] == ["8", ""] + (["4"] if not suite else [])
        assert [row["time.epochs"] for row in rows] == ["3", ""] + (["1"] if not suite else [])
        assert [row["model.lr"] for row in rows][:2] == ["1.0", ""]  # a float stays one
        assert [row["model.big"] for row in rows][:2] == [str(big), ""]
        assert [row["task.seq_len"] for row in rows] == ["12", "12"] + ([""] if not suite else [])

        code, output = invoke("report", "--store", str(path), *suite, "--format", "json")
        assert code == 0, output
        rows = json.loads(output)
        hidden = [row["model.hidden"] for row in rows]
        assert hidden == [8, None] + ([4] if not suite else []) and type(hidden[0]) is int
        assert [row["model.big"] for row in rows][:2] == [big, None]
        assert type(rows[0]["model.lr"]) is float

        code, output = invoke("report", "--store", str(path), *suite, "--format", "markdown")
        assert code == 0 and "<NA>" not in output and "nan" not in output, output


def test_whole_numbers_with_gaps_beside_another_sets_floats_or_huge_integers(tmp_path):
    """Joined across suites, a nullable whole-number column beside another suite's
    floats made CSV a traceback ("boolean value of NA is ambiguous"), and beside an
    integer past int64 both CSV and JSON ("cannot safely cast")."""
    path = tmp_path / "store.sqlite"

    def run(suite: str, point: str, model: dict[str, Any]) -> dict[str, Any]:
        return {"suite": suite, "point": point, "task": "adding", "model": "m", "seed": 0, "status": "ok",
                "primary_metric": "mse", "direction": "min", "primary_value": 0.5,
                "config": {"task": {"name": "adding", "params": {"seq_len": 5}},
                           "model": {"name": "m", "params": model}, "run": {}, "seed": 0},
                "metrics": {"mse": 0.5}, "timings": {}, "measurements": {}}

    with Store(path) as written:
        written.write(run("a", "a1", {"hidden": 8, "width": 3}), {})
        written.write(run("a", "a2", {}), {})
        written.write(run("b", "b1", {"hidden": 8.5, "width": 2**63 + 5}), {})

    code, output = invoke("report", "--store", str(path), "--format", "csv")
    assert code == 0, output
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [row["model.hidden"] for row in rows] == ["8.0", "", "8.5"]  # floats, as a float column
    assert [row["model.width"] for row in rows] == ["3", "", str(2**63 + 5)]
    code, output = invoke("report", "--store", str(path), "--format", "json")
    assert code == 0, output
    assert [row["model.width"] for row in json.loads(output)] == [3, None, 2**63 + 5]
