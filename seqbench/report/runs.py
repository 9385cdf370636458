"""The table ``seqbench report`` prints: a store's runs (or two result sets' runs, with
``--compare``) as a right-aligned table of the headline columns, or complete (every
column, ``export``) as CSV, JSON or Markdown; with ``per``, the per-position, per-length
or per-epoch rows instead."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seqbench.errors import UserError
from seqbench.report.export import export_frame, to_csv, to_json
from seqbench.report.selection import select
from seqbench.report.text import fixed_width_table, markdown_table
from seqbench.results import load

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "COMPLETE_FORMATS", "TABLE_RESULTS", "report_frame", "report_table", "table_columns",
           "render"]

FORMATS = ("table", "csv", "json", "markdown")
# The formats that carry every column (files to keep or load elsewhere); ``table`` is
# for reading in a terminal and shows the headline columns only.
COMPLETE_FORMATS = ("csv", "json", "markdown")
LEADING = ["suite", "task"]
TRAILING = ["model", "seed", "status", "primary_metric", "primary_value",
            "time.epochs", "time.train_s", "time.total_s", "error"]
# The only results the table shows: SQLite extracts them, the rest is never parsed.
TABLE_RESULTS = ["time.epochs", "time.train_s", "time.total_s"]


def report_frame(store: Path, suite: str | None = None) -> "pd.DataFrame":
    """The runs to report: identity, whatever parameters vary, the headline results."""
    frame = load(store, results=TABLE_RESULTS)
    if frame.empty:
        raise UserError(f"{store}: the store has no runs yet; run a suite first")
    if suite is not None:
        suites = sorted(frame["suite"].unique())
        if suite not in suites:
            raise UserError(f"--suite: no runs of suite {suite!r} in {store}; suites: {', '.join(suites)}")
        frame = frame[frame["suite"] == suite]
    return table_columns(frame)


def report_table(
    store: Path, suite: str | None, compare: str | None, fmt: str = "table", per: str = "run"
) -> "pd.DataFrame":
    """The table of runs (or of ``per`` rows); with ``compare``, both result sets and a
    leading source column. Complete in the COMPLETE_FORMATS or with ``per``."""
    import pandas as pd

    if per == "config":
        return configuration_rows(store, suite, compare, fmt)
    complete = fmt in COMPLETE_FORMATS or per != "run"
    if compare is None:
        if not complete:
            return report_frame(store, suite)
        select(store, suite, None)  # the store and the suite exist
        return export_frame(store, suite, per)
    frames = []
    for group in select(store, suite, compare):
        for ref in group:
            frame = export_frame(ref.store, ref.suite, per) if complete else report_frame(ref.store, ref.suite)
            frame.insert(0, "source", ref.label)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def configuration_rows(store: Path, suite: str | None, compare: str | None, fmt: str) -> "pd.DataFrame":
    """One row per configuration (suite, model, swept setting): the mean over seeds of
    the primary metric, time and energy with their 95% intervals. Printed as ``mean ±
    half-width`` in a table or Markdown; as separate mean, low and high columns in CSV
    and JSON. A suite (or, with ``compare``, a pair of sets) at a time, as ``--plot``
    groups them."""
    import pandas as pd

    from seqbench.report.compare import configuration_display, configuration_table
    from seqbench.report.sets import load_set, sweep_of, tidy

    frames = []
    for group in select(store, suite, compare):
        sets = [load_set(ref.store, ref.suite, ref.label) for ref in group]
        sweep = sweep_of(sets)
        table = configuration_table(sets, sweep, tidy(sets, sweep))
        if table.empty:
            continue
        if fmt in ("table", "markdown"):
            table = configuration_display(table)
        if compare is None:
            table.insert(0, "suite", group[0].suite)
        frames.append(table.rename(columns={"series": "model"}))
    if not frames:
        raise UserError(f"{store}: no successful runs{f' of suite {suite!r}' if suite else ''} to summarise")
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
    trailing = [c for c in TRAILING if c in frame.columns]
    columns = LEADING + varying + [c for c in trailing if not frame[c].isna().all()
                                   or c in ("primary_metric", "primary_value")]
    shown = frame[columns].rename(columns={"primary_value": "value", "primary_metric": "metric"})
    return shown.reset_index(drop=True)


def render(frame: "pd.DataFrame", fmt: str) -> str:
    """``frame`` in one of FORMATS."""
    if fmt == "csv":
        return to_csv(frame)
    if fmt == "json":
        return to_json(frame)
    if fmt == "markdown":
        return "\n".join(markdown_table(frame)) + "\n"
    return fixed_width_table(frame)
