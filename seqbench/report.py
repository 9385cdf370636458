"""``seqbench report``: the runs of a store as a table, CSV, JSON or Markdown; with
``--plot`` and ``--tensorboard``, files (seqbench.plots, seqbench.tensorboard)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from seqbench.errors import UserError
from seqbench.results import load

if TYPE_CHECKING:
    import pandas as pd

    from seqbench.plots.sets import ResultSet

__all__ = ["FORMATS", "TABLE_RESULTS", "report_frame", "report_table", "table_columns", "render",
           "prepare_files", "write_files"]

FORMATS = ("table", "csv", "json", "markdown")
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


def report_table(store: Path, suite: str | None, compare: str | None) -> "pd.DataFrame":
    """The table of runs; with ``compare``, both result sets and a leading source column."""
    if compare is None:
        return report_frame(store, suite)
    import pandas as pd

    from seqbench.plots.selection import select

    frames = []
    for group in select(store, suite, compare):
        for ref in group:
            frame = report_frame(ref.store, ref.suite)
            frame.insert(0, "source", ref.label)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def prepare_files(
    store: Path, suite: str | None, compare: str | None, out: Path | None, tensorboard: Path | None
) -> list[list["ResultSet"]]:
    """Check every option and load the result sets: a mistake is a UserError before any
    file is written."""
    from seqbench.plots.files import check_out, load_groups
    from seqbench.plots.selection import select

    groups = select(store, suite, compare)
    if out is not None:
        check_out(out)
    if tensorboard is not None:
        check_out(tensorboard, "--tensorboard")
    return load_groups(groups)


def write_files(
    groups: list[list["ResultSet"]], out: Path | None, formats: Sequence[str],
    tensorboard: Path | None, echo: Callable[[str], None],
) -> None:
    """``--plot`` (figures and the summary page under ``out``) and ``--tensorboard``."""
    if out is not None:
        from seqbench.plots.files import write_report

        echo(f"writing the report to {out}")
        write_report(groups, out, formats, echo)
    if tensorboard is not None:
        from seqbench.tensorboard import write_runs

        written = write_runs([s for group in groups for s in group], tensorboard)
        echo(f"tensorboard: {written} runs' curves in {tensorboard} (view with: tensorboard --logdir {tensorboard})")


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
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", indent=2)
    if fmt == "markdown":
        return _markdown(frame)
    return _fixed_width(frame)


def _text_column(values: "pd.Series") -> list[str]:
    if values.dtype.kind == "f":
        return ["" if v != v else f"{v:.4g}" for v in values.tolist()]
    return ["" if v is None or v != v else str(v).replace("\n", " ") for v in values.tolist()]


def _fixed_width(frame: "pd.DataFrame") -> str:
    """Right-aligned columns, as pandas' to_string prints them, several times faster on
    100,000 rows."""
    columns = [[str(name)] + _text_column(frame[name]) for name in frame.columns]
    widths = [max(map(len, column)) for column in columns]
    padded = [[text.rjust(width) for text in column] for column, width in zip(columns, widths)]
    return "\n".join(" ".join(row) for row in zip(*padded)) if padded else ""


def _markdown(frame: "pd.DataFrame") -> str:
    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
