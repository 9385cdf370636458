"""The table ``seqbench report`` prints: a store's runs (or two result sets' runs, with
``--compare``) as a right-aligned table, CSV, JSON or Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seqbench.errors import UserError
from seqbench.report.selection import drop_rows, select, shown_suites
from seqbench.report.text import fixed_width_table, markdown_table
from seqbench.results import load

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "TABLE_RESULTS", "report_frame", "report_table", "table_columns", "render"]

FORMATS = ("table", "csv", "json", "markdown")
LEADING = ["suite", "task"]
# CPU seconds sit beside the wall seconds where some run waited for cores (_waited): on
# a busy machine the two part, and the wall seconds alone overstate the model's cost.
TRAILING = ["model", "seed", "status", "primary_metric", "primary_value",
            "time.epochs", "time.train_s", "meter.resources.train.cpu_s", "time.total_s", "error"]
CPU = "meter.resources.train.cpu_s"
# A point "waited" when its training took this many times its CPU seconds, or more.
WAITED = 1.5
# The only results the table shows: SQLite extracts them, the rest is never parsed.
TABLE_RESULTS = ["time.epochs", "time.train_s", "meter.resources.train.cpu_s", "time.total_s"]


def report_frame(store: Path, suite: str | None = None, smoke: bool = False,
                 include_stale: bool = False, notes: list[str] | None = None) -> "pd.DataFrame":
    """The runs to report: identity, whatever parameters vary, the headline results.
    Smoke runs and stale points are left out unless asked for (selection.shown_suites);
    ``notes`` gets a line for each."""
    frame = load(store, results=TABLE_RESULTS)
    if frame.empty:
        raise UserError(f"{store}: the store has no runs yet; run a suite first")
    shown = shown_suites(store, suite, smoke, include_stale)
    if notes is not None:
        notes.extend(shown.notes)
    return table_columns(drop_rows(frame, shown, smoke))


def report_table(store: Path, suite: str | None, compare: str | None, smoke: bool = False,
                 include_stale: bool = False, notes: list[str] | None = None) -> "pd.DataFrame":
    """The table of runs; with ``compare``, both result sets and a leading source column."""
    if compare is None:
        return report_frame(store, suite, smoke, include_stale, notes)
    import pandas as pd

    frames = []
    for group in select(store, suite, compare, smoke, include_stale):
        for ref in group:
            runs = load(ref.store, results=TABLE_RESULTS)  # the set select chose, as it is
            frame = table_columns(runs[(runs["suite"] == ref.suite) & ~runs["point"].isin(ref.stale)])
            frame.insert(0, "source", ref.label)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def table_columns(frame: "pd.DataFrame") -> "pd.DataFrame":
    """Identity, the parameters that vary, the headline results; empty results left out."""
    varying = [
        column
        for column in frame.columns
        if column.split(".")[0] in ("task", "model", "run")
        and "." in column
        and frame[column].astype(str).nunique() > 1
    ]
    trailing = [c for c in TRAILING if c in frame.columns and (c != CPU or _waited(frame))]
    columns = LEADING + varying + [c for c in trailing if not frame[c].isna().all()
                                   or c in ("primary_metric", "primary_value")]
    shown = frame[columns].rename(columns={"primary_value": "value", "primary_metric": "metric",
                                           "meter.resources.train.cpu_s": "time.train_cpu_s"})
    return shown.reset_index(drop=True)


def _waited(frame: "pd.DataFrame") -> bool:
    """Whether some run's training waited for cores (wall seconds over WAITED times its CPU
    seconds, over half a second): then the CPU seconds are shown beside the wall seconds,
    so a figure from a busy machine is not read as the model's cost."""
    wall, cpu = frame["time.train_s"], frame[CPU]
    return bool(((wall >= 0.5) & (wall >= WAITED * cpu)).any())


def render(frame: "pd.DataFrame", fmt: str) -> str:
    """``frame`` in one of FORMATS."""
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", indent=2)
    if fmt == "markdown":
        return "\n".join(markdown_table(frame)) + "\n"
    return fixed_width_table(frame)
