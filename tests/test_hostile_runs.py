"""Issue 18, class 3 (the part done): values that passed validation but failed the
store's write after the point had run, losing it, and failing every resume the same
way, are refused at validation."""

from __future__ import annotations

import pytest

from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

TASK = '[task]\nname = "adding"\nseq_len = 5\n'


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("[run]\neval_lengths = [6, 7, 6]\n" + TASK + ORACLE,
         ["[run] eval_lengths: repeated length 6 in [6, 7, 6]"]),
        ("[suite]\nseeds = [0, 4294967296]\n" + TASK + ORACLE,
         ["[suite] seeds: expected a non-empty list of integers between 0 and 4294967295"]),
    ],
    ids=["repeated-eval-length", "seed-over-32-bits"],
)
def test_what_the_store_cannot_hold_is_refused_before_running(tmp_path, store_path, text, fragments):
    path = tmp_path / "suite.toml"
    path.write_text(text)

    result = invoke_run(str(path), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {path}: ", *fragments)


def test_the_largest_seed_is_accepted(tmp_path, store_path):
    path = tmp_path / "suite.toml"
    path.write_text("[suite]\nseeds = [4294967295]\n" + TASK + ORACLE)

    assert invoke_run(str(path), "--store", str(store_path), "--dry-run").exit_code == 0


def test_a_record_the_store_refuses_is_kept_beside_it_and_the_sweep_goes_on(tmp_path, monkeypatch):
    import json
    import sqlite3

    from click.testing import CliRunner

    from seqbench import runner
    from seqbench import store as store_module
    from seqbench.cli import main

    monkeypatch.setattr(runner, "WRITE_RETRY_SECONDS", (0.0, 0.0))
    store_path = tmp_path / "store.sqlite"
    real_prepare = store_module._prepare

    def prepare_then_fail_one_point(connection: sqlite3.Connection) -> None:
        # A real failure of the real store, for one point only: SQLite aborts its insert.
        # Made once the run has opened the store: a store holding a trigger is refused.
        real_prepare(connection)
        connection.execute("CREATE TRIGGER IF NOT EXISTS refuse BEFORE INSERT ON runs WHEN NEW.seed = 1"
                           " BEGIN SELECT RAISE(ABORT, 'simulated: disk full'); END")

    monkeypatch.setattr(store_module, "_prepare", prepare_then_fail_one_point)
    suite = tmp_path / "suite.toml"
    suite.write_text("[suite]\nname = \"s\"\nseeds = [0, 1, 2]\n[run]\nepochs = 1\ntrain_size = 32\n"
                     "eval_size = 16\nbatch_size = 16\ndevice = \"cpu\"\n" + TASK + ORACLE)

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "simulated: disk full" in errors[0] and "the sweep goes on" in errors[0]
    kept = list((tmp_path / "store.sqlite.unsaved").iterdir())
    assert len(kept) == 1 and kept[0].name in errors[0]
    assert json.loads(kept[0].read_text())["record"]["seed"] == 1
    connection = sqlite3.connect(store_path)
    assert sorted(s for (s,) in connection.execute("SELECT seed FROM runs")) == [0, 2]
    connection.close()
