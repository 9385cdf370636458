"""The table ``seqbench report`` prints: a store's runs (or two result sets' runs, with
``--compare``) as a right-aligned table of the headline columns, or complete (every
column, ``export``) as CSV, JSON or Markdown; with ``per``, the per-position, per-length
or per-epoch rows instead."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seqbench.errors import UserError
from seqbench.report.caveats import COLUMNS as CAVEAT_COLUMNS
from seqbench.report.caveats import notes_for
from seqbench.report.export import export_frame, to_csv, to_json
from seqbench.report.data_versions import data_version_notes
from seqbench.report.selection import SetRef, drop_rows, select, shown_suites
from seqbench.report.sets import smoke_flags
from seqbench.report.text import fixed_width_table, markdown_table
from seqbench.results import load
from seqbench.smoke_sizes import is_smoke_name

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "COMPLETE_FORMATS", "TABLE_RESULTS", "report_frame", "report_table", "table_columns",
           "render"]

FORMATS = ("table", "csv", "json", "markdown")
# The formats that carry every column (files to keep or load elsewhere); ``table`` is
# for reading in a terminal and shows the headline columns only.
COMPLETE_FORMATS = ("csv", "json", "markdown")
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
    # report.caveats' flags ride along: SQLite parses each run's measurements once.
    frame = load(store, results=TABLE_RESULTS + CAVEAT_COLUMNS)
    if frame.empty:
        raise UserError(f"{store}: the store has no runs yet; run a suite first")
    shown = shown_suites(store, suite, smoke, include_stale)
    rows = drop_rows(frame, shown, smoke)
    if notes is not None:
        notes.extend(shown.notes)
        for name in shown.suites:
            notes.extend(data_version_notes([SetRef(store, name, name, shown.stale.get(name, frozenset()))]))
            notes.extend(notes_for(name, rows[rows["suite"] == name]))
    return table_columns(rows.drop(columns=CAVEAT_COLUMNS))


def report_table(
    store: Path, suite: str | None, compare: str | None, fmt: str = "table", per: str = "run",
    smoke: bool = False, include_stale: bool = False, notes: list[str] | None = None,
) -> "pd.DataFrame":
    """The table of runs (or of ``per`` rows); with ``compare``, both result sets and a
    leading source column. Complete in the COMPLETE_FORMATS or with ``per``. Smoke runs
    and stale points are left out unless asked for, in every format (``notes`` gets a
    line for each)."""
    import pandas as pd

    if per == "config":
        return configuration_rows(store, suite, compare, fmt, smoke, include_stale, notes)
    complete = fmt in COMPLETE_FORMATS or per != "run"
    if compare is None and not complete:
        return report_frame(store, suite, smoke, include_stale, notes)
    frames = []
    for group in select(store, suite, compare, smoke, include_stale, notes):
        for ref in group:
            if complete:
                frame = _complete_rows(ref, per, smoke)
            else:
                runs = load(ref.store, results=TABLE_RESULTS)  # the set select chose, as it is
                frame = table_columns(runs[(runs["suite"] == ref.suite) & ~runs["point"].isin(ref.stale)])
            if compare is not None:
                frame.insert(0, "source", ref.label)
            frames.append(frame)
    return _joined(frames) if complete else pd.concat(frames, ignore_index=True)


def _joined(frames: list["pd.DataFrame"]) -> "pd.DataFrame":
    """The frames one below another; a column of whole numbers in every frame holding it
    stays whole numbers (nullable Int64) where another frame lacks it, as ``load`` keeps
    it within a set: pandas would make floats of it, and a CSV would read 12.0."""
    import pandas as pd

    integer = {
        name: all(pd.api.types.is_integer_dtype(frame[name].dtype) for frame in frames if name in frame.columns)
        for name in dict.fromkeys(name for frame in frames for name in frame.columns)
    }
    # A nullable integer column beside floats of another set: floats, as pandas joins
    # plain ones (a Float64 column with NA is no column the exports write).
    frames = [frame.astype({name: "float64" for name in frame.columns
                            if not integer[name] and isinstance(frame[name].dtype, pd.Int64Dtype)})
              for frame in frames]
    joined = pd.concat(frames, ignore_index=True)
    for name, whole in integer.items():
        if not whole or joined[name].dtype.kind not in "fO":
            continue
        try:
            parts = [frame[name].astype("Int64") if name in frame.columns
                     else pd.Series(pd.NA, index=range(len(frame)), dtype="Int64") for frame in frames]
        except (TypeError, OverflowError, ValueError):  # past int64 (2**63 and up): exact as objects
            parts = [frame[name].astype(object) if name in frame.columns
                     else pd.Series(None, index=range(len(frame)), dtype=object) for frame in frames]
        joined[name] = pd.concat(parts, ignore_index=True)
    return joined


def _complete_rows(ref: SetRef, per: str, smoke: bool) -> "pd.DataFrame":
    """Every column of the set's runs (or its ``per`` rows), without its stale points
    nor, unless ``smoke``, smoke runs an earlier seqbench stored under the suite's own
    name."""
    runs = export_frame(ref.store, ref.suite, "run")
    kept = ~runs["point"].isin(ref.stale)
    if not smoke and not is_smoke_name(ref.suite):
        kept &= ~smoke_flags(runs)
    runs = runs[kept]
    if per == "run":
        return runs.reset_index(drop=True)
    rows = export_frame(ref.store, ref.suite, per)
    return rows[rows["id"].isin(set(runs["id"]))].reset_index(drop=True)


def configuration_rows(store: Path, suite: str | None, compare: str | None, fmt: str, smoke: bool = False,
                       include_stale: bool = False, notes: list[str] | None = None) -> "pd.DataFrame":
    """One row per configuration (suite, model, swept setting): the mean over seeds of
    the primary metric, time and energy with their 95% intervals. Printed as ``mean ±
    half-width`` in a table or Markdown; as separate mean, low and high columns in CSV
    and JSON. A suite (or, with ``compare``, a pair of sets) at a time, as ``--plot``
    groups them."""
    import pandas as pd

    from seqbench.report.compare import configuration_display, configuration_table
    from seqbench.report.selection import load_shown
    from seqbench.report.sets import sweep_of, tidy

    frames = []
    for group in select(store, suite, compare, smoke, include_stale, notes):
        sets = [load_shown(ref, smoke) for ref in group]
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
    import pandas as pd

    # A meter's figure that every run of a store holds as text is not refused by the
    # reading (a text field looks like that); here it is no number.
    wall = pd.to_numeric(frame["time.train_s"], errors="coerce")
    cpu = pd.to_numeric(frame[CPU], errors="coerce")
    return bool(((wall >= 0.5) & (wall >= WAITED * cpu)).any())


def render(frame: "pd.DataFrame", fmt: str) -> str:
    """``frame`` in one of FORMATS."""
    if fmt == "csv":
        return to_csv(frame)
    if fmt == "json":
        return to_json(frame)
    if fmt == "markdown":
        return "\n".join(markdown_table(frame)) + "\n"
    return fixed_width_table(frame)
