"""``seqbench report``: formats, filtering, and clear errors."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main


SUITE = """
[suite]
name = "quick"
seeds = [0, 1]
[run]
epochs = 1
train_size = 200
eval_size = 100
batch_size = 100
[task]
name = "adding"
[sweep]
task.seq_len = [5, 10]
[[model]]
name = "numpy:ridge"
[[model]]
name = "oracle"
"""


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    store_path = directory / "store.sqlite"
    suite = directory / "quick.toml"
    suite.write_text(SUITE)
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    return store_path


def report(store, *args):
    return CliRunner().invoke(main, ["report", "--store", str(store), *args])


def test_table_shows_swept_parameter_model_and_metric(filled_store):
    result = report(filled_store)
    assert result.exit_code == 0
    header = result.output.splitlines()[0].split()
    assert header[:3] == ["suite", "task", "task.seq_len"]
    assert {"model", "seed", "status", "metric", "value"} <= set(header)
    assert len(result.output.splitlines()) == 1 + len(results.load(filled_store))


def test_csv_rows_match_the_store(filled_store):
    rows = list(csv.DictReader(io.StringIO(report(filled_store, "--format", "csv").output)))
    frame = results.load(filled_store)
    assert len(rows) == len(frame)
    assert sorted(float(r["primary_value"]) for r in rows) == sorted(frame["primary_value"])


def test_json_is_a_list_of_records(filled_store):
    records = json.loads(report(filled_store, "--format", "json").output)
    assert {r["model"] for r in records} == {"numpy:ridge", "oracle"}
    assert all(r["status"] == "ok" for r in records)


def test_markdown_is_a_pipe_table(filled_store):
    lines = report(filled_store, "--format", "markdown").output.splitlines()
    assert lines[0].startswith("| suite | task |")
    assert set(lines[1]) <= set("|-")
    assert len(lines) == 2 + len(results.load(filled_store))


def test_suite_filter_keeps_only_that_suite(filled_store, write_suite, store_path):
    other = write_suite("[suite]\nname='other'\n[task]\nname='adding'\nseq_len=5\n[[model]]\nname='oracle'\n")
    store_path.parent.mkdir(parents=True)
    shutil.copy(filled_store, store_path)
    CliRunner().invoke(main, ["run", str(other), "--smoke", "--store", str(store_path)])
    records = json.loads(report(store_path, "--suite", "other", "--smoke", "--format", "json").output)
    assert [r["suite"] for r in records] == ["other [smoke]"]


def test_unknown_suite_is_a_usage_error_listing_the_suites(filled_store):
    result = report(filled_store, "--suite", "nope")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --suite: no runs of suite 'nope' in {filled_store}; suites: quick"
    )


def test_a_missing_store_is_a_usage_error_and_is_not_created(store_path):
    result = report(store_path)
    assert result.exit_code == 2
    assert "no results store here" in result.output
    assert "Traceback" not in result.output
    assert not store_path.exists()
