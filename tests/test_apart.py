"""Smoke runs stay apart from a suite's full-size runs, --smoke never collapses a swept
axis, and points a suite file no longer holds are flagged by report and deleted by prune.
Real runs (oracle points, real subprocesses) into a real store."""

from __future__ import annotations

import json
import os
import sqlite3

from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.plots import SMOKE_MARK, figures
from seqbench.report.files import prepare_files
from seqbench.report.sets import load_set
from seqbench.smoke_sizes import shrink_axis
from seqbench.suite import load_suite

REVERSE = """
[task]
name = "reverse"
[sweep]
task.length = [10, 50, 100]
[[model]]
name = "oracle"
"""

TINY = """
[suite]
name = "tiny"
[task]
name = "adding"
[sweep]
task.seq_len = {lengths}
[[model]]
name = "oracle"
"""


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def as_before_the_fix(monkeypatch, folder):
    """``adding`` as before its hochreiter fix, with no data version: here, and in the
    worker processes (a ``sitecustomize`` on their PYTHONPATH), since a worker checks
    its task's data version against its point's. ``monkeypatch.undo()`` ends it."""
    from seqbench_tasks.adding import Adding

    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "from seqbench_tasks.adding import Adding\nAdding.data_version = lambda self: None\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])))
    monkeypatch.setattr(Adding, "data_version", lambda self: None)


def test_shrunk_axes_keep_their_values_apart():
    assert shrink_axis([10, 50, 100], 5, cap=False) == [5, 25, 50]
    assert shrink_axis([256, 512, 1024], 64, cap=True) == [16, 32, 64]
    assert shrink_axis([32, 64], 64, cap=True) == [32, 64]  # within the cap: as written
    # Ratios that round together: consecutive numbers in the axis' order, not full sizes.
    assert shrink_axis([101, 100], 5, cap=False) == [6, 5]
    assert shrink_axis([2_000_000, 2_000_001], 64, cap=True) == [63, 64]
    assert shrink_axis(list(range(1000, 1100)), 64, cap=True) == list(range(1000, 1100))  # 100 > 64 values
    assert shrink_axis(["a", "b"], 5, cap=False) == ["a", "b"]


def test_smoke_sizes_do_not_collapse_a_swept_length_or_batch_axis(write_suite):
    # The plugin case of issue 20: reverse's smoke length is 5; its T sweep ran only at 5.
    reverse = load_suite(write_suite(REVERSE), smoke=True)
    assert sorted(p.task_params["length"] for p in reverse.points) == [5, 25, 50]
    batches = write_suite(TINY.format(lengths="[10]").replace(
        "task.seq_len = [10]", "run.batch_size = [128, 256, 512]"), name="batch.toml")
    assert sorted(p.run.batch_size for p in load_suite(batches, smoke=True).points) == [16, 32, 64]
    assert reverse.name.endswith(" [smoke]")


def test_smoke_run_is_apart_and_absent_from_the_default_report(write_suite, store_path):
    suite = write_suite(TINY.format(lengths="[10]") + '[[model]]\nname = "numpy:ridge"\n')
    store = str(store_path)
    assert invoke("run", str(suite), "--store", store).exit_code == 0
    assert invoke("run", str(suite), "--smoke", "--store", store).exit_code == 0
    assert sorted(results.suites(store_path)) == ["tiny", "tiny [smoke]"]

    default = invoke("report", "--store", store, "--format", "json")
    assert {row["suite"] for row in json.loads(default.stdout)} == {"tiny"}
    assert default.stderr.strip() == "not shown: smoke runs (tiny [smoke]); add --smoke to see them"

    smoke = invoke("report", "--store", store, "--suite", "tiny", "--smoke", "--format", "json")
    assert {row["suite"] for row in json.loads(smoke.stdout)} == {"tiny [smoke]"}

    # Its figures say they are smoke, on the figure itself; the full-size ones do not.
    marked = figures([load_set(store_path, "tiny [smoke]", "tiny [smoke]")]).plots
    assert marked and all(plot.title.endswith(SMOKE_MARK) for plot in marked)
    assert marked[0].draw().get_suptitle().endswith(SMOKE_MARK)
    full = figures([load_set(store_path, "tiny", "tiny")]).plots
    assert not any(SMOKE_MARK in p.title for p in full)
    # ridge trains in one pass (one epoch), the oracle not at all: no training-curve grid.
    assert not any(p.name.startswith("curves") for p in full + marked)


def test_stale_point_is_flagged_after_an_edit_and_removed_by_prune(write_suite, store_path):
    suite = write_suite(TINY.format(lengths="[10, 20]"))
    store = str(store_path)
    assert invoke("run", str(suite), "--store", store).exit_code == 0
    suite.write_text(TINY.format(lengths="[10]"))  # 20 taken out of the sweep

    shown = invoke("report", "--store", store, "--suite", "tiny", "--format", "json")
    (only,) = json.loads(shown.stdout)  # the 20 point is left out
    assert only["status"] == "ok"
    assert f"not shown: 1 stored point is no longer in {suite}" in shown.stderr
    every = invoke("report", "--store", store, "--suite", "tiny", "--include-stale", "--format", "json")
    assert len(json.loads(every.stdout)) == 2
    # The figures and summary page leave it out too.
    ((shown_set,),) = prepare_files(store_path, "tiny", None, None, None)
    assert list(shown_set.runs["task.seq_len"]) == [10]

    dry = invoke("prune", str(suite), "--store", store, "--dry-run")
    assert dry.exit_code == 0 and "would delete" in dry.stdout and "seq_len=20" in dry.stdout
    assert len(results.load(store_path)) == 2  # a dry run deletes nothing

    pruned = invoke("prune", str(suite), "--store", store)
    assert pruned.exit_code == 0 and "deleted 1 run from" in pruned.stdout
    left = results.load(store_path)
    assert list(left["task.seq_len"]) == [10]
    assert invoke("report", "--store", store, "--suite", "tiny").stderr == ""


def test_cpu_seconds_are_shown_beside_wall_seconds_where_a_run_waited_for_cores():
    import pandas as pd

    from seqbench.report.runs import table_columns

    def table(wall: float, cpu: float) -> list[str]:
        frame = pd.DataFrame([{
            "suite": "s", "task": "adding", "model": "torch:lstm", "seed": 0, "status": "ok",
            "primary_metric": "mse", "primary_value": 0.1, "time.train_s": wall,
            "meter.resources.train.cpu_s": cpu, "time.total_s": wall + 1}])
        return list(table_columns(frame).columns)

    busy = table(wall=20.0, cpu=6.5)  # the quick suite's T = 100 point on a loaded machine
    assert busy.index("time.train_cpu_s") == busy.index("time.train_s") + 1
    assert "time.train_cpu_s" not in table(wall=20.0, cpu=19.0)  # it had its cores


def test_a_failed_smoke_run_points_to_the_report_options_that_show_it():
    from seqbench.runner import _suite_option

    assert _suite_option("quick [smoke]") == "--suite quick --smoke"
    assert _suite_option("my suite") == "--suite 'my suite'"


def test_a_report_from_another_folder_still_finds_the_suite_file(write_suite, store_path, tmp_path, monkeypatch):
    suite = write_suite(TINY.format(lengths="[10, 20]"))
    monkeypatch.chdir(suite.parent)
    assert invoke("run", suite.name, "--store", str(store_path)).exit_code == 0  # a relative path
    suite.write_text(TINY.format(lengths="[10]"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    shown = invoke("report", "--store", str(store_path), "--suite", "tiny", "--format", "json")

    assert len(json.loads(shown.stdout)) == 1
    assert f"not shown: 1 stored point is no longer in {suite.resolve()}" in shown.stderr


def test_compare_leaves_out_each_sides_stale_points(write_suite, store_path):
    first = write_suite(TINY.format(lengths="[10, 20]"), name="first.toml")
    second = write_suite(TINY.replace('"tiny"', '"other"').format(lengths="[10, 20]"), name="second.toml")
    store = str(store_path)
    for suite in (first, second):
        assert invoke("run", str(suite), "--store", store).exit_code == 0
    second.write_text(TINY.replace('"tiny"', '"other"').format(lengths="[10]"))

    shown = invoke("report", "--store", store, "--suite", "tiny", "--compare", "other", "--format", "json")

    rows = json.loads(shown.stdout)
    assert sorted((row["source"], row["task.seq_len"]) for row in rows) == [
        ("other", 10), ("tiny", 10), ("tiny", 20)]
    assert f"other: not shown: 1 stored point is no longer in {second}" in shown.stderr


def test_smoke_rows_an_earlier_seqbench_stored_under_the_suites_name_stay_out_of_figures(
        write_suite, store_path):
    import sqlite3

    suite = write_suite(TINY.format(lengths="[10, 20]"))
    store = str(store_path)
    assert invoke("run", str(suite), "--store", store).exit_code == 0
    assert invoke("run", str(suite), "--store", store, "--smoke").exit_code == 0
    with sqlite3.connect(store) as connection:  # as an earlier seqbench stored them
        connection.execute("UPDATE runs SET suite = 'tiny' WHERE suite = 'tiny [smoke]'")

    table = json.loads(invoke("report", "--store", store, "--suite", "tiny", "--format", "json").stdout)
    ((shown_set,),) = prepare_files(store_path, "tiny", None, None, None)

    assert len(table) == 2 and not any(row["run.smoke"] for row in table)
    assert sorted(shown_set.runs["point"]) == sorted(row["point"] for row in table)


def test_a_task_whose_data_changed_gets_a_new_identity_and_its_old_points_go_stale(
        write_suite, store_path, monkeypatch):
    suite = write_suite(TINY.format(lengths="[10]").replace('name = "adding"', 'name = "adding"\nplacement = "hochreiter"'))
    store = str(store_path)
    # A store made before the hochreiter fix: its point has no data version.
    as_before_the_fix(monkeypatch, store_path.parent.parent / "before-the-fix")
    assert invoke("run", str(suite), "--store", store).exit_code == 0
    (old,) = json.loads(invoke("report", "--store", store, "--suite", "tiny", "--format", "json").stdout)
    monkeypatch.undo()

    again = invoke("run", str(suite), "--store", store)  # the fixed data: made again, not resumed

    assert again.exit_code == 0 and "already stored" not in again.output
    shown = invoke("report", "--store", store, "--suite", "tiny", "--format", "json")
    assert f"not shown: 1 stored point is no longer in {suite}" in shown.stderr
    (new,) = json.loads(shown.stdout)
    assert new["point"] != old["point"]
    with sqlite3.connect(store_path) as connection:
        stored = dict(connection.execute("SELECT point, config FROM runs").fetchall())
    assert json.loads(stored[new["point"]])["task"]["data_version"] == 2
    assert "data_version" not in json.loads(stored[old["point"]])["task"]
    # Placements whose data never changed keep the identity they always had.
    (uniform,) = load_suite(write_suite(TINY.format(lengths="[10]"), "uniform.toml")).points
    assert "data_version" not in uniform.config()["task"]


def test_a_report_says_when_rows_mix_runs_made_from_different_versions_of_a_tasks_data(
        write_suite, tmp_path, monkeypatch):
    suite = write_suite(TINY.format(lengths="[10]").replace('name = "adding"', 'name = "adding"\nplacement = "hochreiter"'))
    before, after = tmp_path / "before.sqlite", tmp_path / "after.sqlite"
    as_before_the_fix(monkeypatch, tmp_path / "before-the-fix")
    assert invoke("run", str(suite), "--store", str(before)).exit_code == 0
    assert invoke("run", str(suite), "--store", str(after)).exit_code == 0  # resumed below, in the same store
    monkeypatch.undo()
    assert invoke("run", str(suite), "--store", str(after)).exit_code == 0
    warning = "task adding: runs made from different versions of its data"

    current = invoke("report", "--store", str(after), "--suite", "tiny", "--format", "json")
    mixed = invoke("report", "--store", str(after), "--suite", "tiny", "--format", "json", "--include-stale")

    assert len(json.loads(current.stdout)) == 1 and warning not in current.stderr  # the old point is hidden
    assert len(json.loads(mixed.stdout)) == 2
    assert f"{warning} (tiny: none and 2); rows with the same settings mix results on different data" in mixed.stderr
    # A store kept from before the fix, compared where its suite file is gone (nothing
    # marks its point stale): the two sides' rows pair up by settings alone.
    suite.unlink()
    compared = invoke("report", "--store", str(after), "--compare", str(before), "--format", "json")
    assert compared.exit_code == 0, compared.output
    assert f"{warning} ({after}: none and 2; {before}: none)" in compared.stderr


def test_smoke_runs_a_task_at_the_suites_values_where_its_smoke_sizes_do_not_fit(write_suite):
    """associative-recall's smoke length (16) cannot hold 32 pairs: the suite, valid at
    full size, was refused under --smoke for a length it never named."""
    from seqbench.suite import load_suite

    suite = write_suite('[task]\nname = "associative-recall"\nlength = 256\n[sweep]\ntask.pairs = [4, 32]\n'
                        '[[model]]\nname = "oracle"\n')

    points = load_suite(suite, smoke=True).points

    assert sorted((p.task_params["pairs"], p.task_params["length"]) for p in points) == [(4, 16), (32, 256)]
