"""Issue 18, classes 9 and 10 (output): names and values from suites, stores and
plugins reach the terminal, logs and report.md only as text (never as control
sequences, forged lines or markup), a ``$`` is not mathtext, and the rough edges (an
unwritable --out, a data_file's content, an unbounded --jobs) are one clear line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from seqbench.cli import SeqbenchUsageError, main
from seqbench.report.text import fixed_width_table, markdown_table
from seqbench.store import Store
from test_store import record
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

HOSTILE = "ev\x1b[2J\x1b]0;title\x07il\r\n[9/9] ok     forged\u202e | `x` <script>alert(1)</script> [l](u)"


def test_printable_shows_every_control_character_escaped():
    from seqbench.printable import printable

    shown = printable(HOSTILE)

    assert shown.isprintable()
    assert "\\x1b[2J" in shown and "\\r\\n" in shown and "\\u202e" in shown and "\\x07" in shown
    assert printable("plain é 中 seq_len=3") == "plain é 中 seq_len=3"


def test_a_usage_error_is_one_printable_line_whatever_it_quotes():
    message = SeqbenchUsageError(f"unknown model {HOSTILE}").format_message()

    assert message.isprintable() and "\n" not in message


FAILS_LOUDLY = f"""
from dataclasses import dataclass

from seqbench import Model, hookimpl


@dataclass
class Loud(Model):
    name = "loud:fails"
    serves = frozenset({{("continuous", "scalar")}})

    def fit(self, train, settings, on_epoch):
        raise ValueError({HOSTILE!r})


@hookimpl
def register_models(register):
    register(Loud)
"""


def test_names_values_and_errors_reach_the_terminal_as_plain_lines(install_plugin, write_suite, store_path):
    install_plugin("seqbench-loud", FAILS_LOUDLY)
    # A suite name with control characters is refused (test_hostile_cli.py); markup is
    # printable, so it is a name, shown as text. The error below carries the rest.
    name = "ev | `x` <script>alert(1)</script> [l](u)"
    suite = write_suite(f'[suite]\nname = "{name}"\n[run]\nepochs = 1\ntrain_size = 16\n'
                        'eval_size = 16\nbatch_size = 16\ndevice = "cpu"\n'
                        '[task]\nname = "adding"\nseq_len = 2\n[[model]]\nname = "loud:fails"\n')

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert all(line.isprintable() for line in lines), lines
    assert not any(line.startswith("[9/9]") for line in lines)  # no forged line
    (failed,) = [line for line in lines if line.startswith("[1/1] FAILED")]
    assert "\\x1b[2J" in failed and "ValueError" in failed
    summary = CliRunner().invoke(main, ["report", "--store", str(store_path)])
    assert summary.exit_code == 0 and "\x1b" not in summary.output and "\r" not in summary.output


def test_markdown_tables_escape_markup_and_keep_one_row_per_line():
    frame = pd.DataFrame({"model": [HOSTILE, "plain"], "mse": [0.5, 1.0]})

    lines = markdown_table(frame)

    assert len(lines) == 4
    row = lines[2]
    assert row.count(" | ") == 1 + 0 and row.startswith("| ") and row.endswith(" |")  # 2 cells
    assert "<script>" not in row and "&lt;script&gt;" in row
    assert "\\`x\\`" in row and "\\[l\\](u)" in row and "\\|" in row
    assert "\x1b" not in row and "\\x1b" in row
    assert "\x1b" not in fixed_width_table(frame) and "\n" not in fixed_width_table(frame).splitlines()[1]


def hostile_store(path: Path) -> Path:
    """Two runs whose model (a swept string) holds mathtext, markup and escapes."""
    with Store(path) as store:
        for index, model in enumerate(["$\\frac{1}{$ " + HOSTILE, "$x_{$"]):
            run = record(f"p{index}", epochs=2)
            run["model"] = model
            run["config"]["model"] = {"name": model, "params": {"variant": model}}
            run["config"]["task"]["params"]["seq_len"] = 3 + index
            store.write(run, {})
    return path


def test_report_plot_draws_dollars_as_text_and_escapes_report_md(tmp_path):
    store = hostile_store(tmp_path / "hostile.sqlite")
    out = tmp_path / "out"

    result = CliRunner().invoke(main, ["report", "--store", str(store), "--plot", "--out", str(out)])

    assert result.exit_code == 0, (result.output, result.exception)
    assert list(out.glob("*.png"))
    page = (out / "report.md").read_text()
    assert "<script>" not in page and "\x1b" not in page
    assert not any(line.startswith("[9/9]") for line in page.splitlines())
    html_page = (out / "report.html").read_text()
    # The direction override reordered what a browser showed; ESC reached the page raw.
    assert "<script>" not in html_page
    assert not any(hidden in html_page for hidden in ("\x1b", "\u202e", "\x07", "\r"))


def test_an_unwritable_out_is_one_line(tmp_path):
    store = hostile_store(tmp_path / "store.sqlite")

    # /proc/self is a folder nobody, root included, can make a folder in.
    result = CliRunner().invoke(main, ["report", "--store", str(store), "--plot",
                                       "--out", "/proc/self/seqbench-report"])

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [
        "Error: --out: cannot write /proc/self/seqbench-report (/proc/self is not writable)"]
    assert "writing the report" not in result.stdout  # refused before it is announced


def test_a_data_file_error_names_the_line_without_quoting_the_file(tmp_path, store_path):
    secret = tmp_path / "credentials"
    secret.write_text("password=hunter2\n")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "polynomial"\ndata_file = "{secret}"\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    line = assert_one_line_error(result, store_path, str(secret), "line 1 is not")
    assert "hunter2" not in line and "password" not in line


def test_jobs_has_an_upper_bound(tmp_path, store_path):
    from seqbench.threads import usable_cores

    suite = tmp_path / "suite.toml"
    suite.write_text('[task]\nname = "adding"\nseq_len = 5\n' + ORACLE)
    limit = 4 * usable_cores()

    result = invoke_run(str(suite), "--store", str(store_path), "--jobs", str(limit + 1))

    assert_one_line_error(result, store_path, f"--jobs {limit + 1}: the local executor runs at most "
                          f"{limit} points at once here")
    assert invoke_run(str(suite), "--store", str(store_path), "--jobs", str(limit),
                      "--dry-run").exit_code == 0


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_a_data_file_that_is_not_a_regular_file_is_refused_without_reading(tmp_path, store_path, kind):
    """A FIFO blocked validation for ever (no writer ever comes), /dev/zero read until
    memory ran out; both, and a folder, are one line naming [task] data_file."""
    import os

    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    elif kind == "device":
        target = Path("/dev/zero")
    else:
        target = tmp_path
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "polynomial"\ndata_file = "{target}"\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    reason = "is a directory" if kind == "directory" else "not a regular file"
    assert_one_line_error(result, store_path, "[task]", "data_file", str(target), reason)


def test_the_terminal_table_caps_a_huge_cell():
    import pandas as pd

    from seqbench.report.text import MAX_CELL_CHARACTERS

    table = fixed_width_table(pd.DataFrame({"model": ["a", "b"], "error": ["x" * 1_500_000, None]}))

    assert max(len(line) for line in table.splitlines()) <= MAX_CELL_CHARACTERS + len("model") + 1
    assert "(1,500,000 chars)" in table
