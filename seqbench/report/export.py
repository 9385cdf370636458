"""Complete exports: what ``seqbench report --format csv|json|markdown`` prints. Every
column ``seqbench.results.load`` reads (identity, resolved parameters, every metric,
timing and meter figure), named as it names them, so an export and ``load`` agree
column for column; ``--per position|length|epoch`` prints the per-run tables the store
keeps beside the runs, as ``load_position_metrics``, ``load_length_metrics`` and
``load_curves`` read them. The column naming is docs/results-format.md.

JSON is written at full precision (Python's shortest repr that reads back to the same
float); a missing value is ``null``, an infinity the string ``"Infinity"`` or
``"-Infinity"``, so the file stays valid JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from seqbench.errors import UserError
from seqbench.results import load, load_curves, load_length_metrics, load_position_metrics

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PER", "export_frame", "to_csv", "to_json", "json_value"]

# What one row is, and how the store's rows of that kind are read.
PER: dict[str, Callable[..., "pd.DataFrame"]] = {
    "run": load,
    "position": load_position_metrics,
    "length": load_length_metrics,
    "epoch": load_curves,
}
# Left out of the run export: the sweep's whole provenance is one JSON document per run
# (a bundle, ``seqbench export``, keeps it; ``results.load_provenance`` reads it).
NOT_EXPORTED = ("provenance",)
# A run's columns in this order: who and what first, as the table reads; then the
# parameters and results, each section in the order ``load`` reads them; then the rest.
FIRST = ("suite", "task", "model", "seed", "status", "primary_metric", "direction", "primary_value")
SECTIONS = ("task.", "model.", "run.", "metric.", "time.", "meter.")


def export_frame(store: Path, suite: str | None, per: str = "run") -> "pd.DataFrame":
    """The rows of ``store`` (of ``suite`` when given), one per ``per``, every column."""
    # A whole-number column with gaps exported as whole numbers (see results.load).
    frame = load(store, suite, integers=True) if per == "run" else PER[per](store, suite)
    if per == "run":
        if frame.empty:
            raise UserError(f"{store}: the store has no runs{f' of suite {suite!r}' if suite else ''} yet")
        frame = frame[_run_columns([c for c in frame.columns if c not in NOT_EXPORTED])]
    return frame.reset_index(drop=True)


def _run_columns(columns: list[str]) -> list[str]:
    first = [c for c in FIRST if c in columns]
    sections = [c for prefix in SECTIONS for c in columns if c.startswith(prefix)]
    return first + sections + [c for c in columns if c not in first and c not in sections]


def json_value(value: Any) -> Any:
    """A cell as JSON writes it: NumPy scalars as Python's, NaN (no value) as None,
    infinities as the strings "Infinity" and "-Infinity"."""
    if value is None or type(value) in (str, int, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        value = value.item()  # a NumPy scalar
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, list):
        return [json_value(inner) for inner in value]
    if isinstance(value, dict):
        return {key: json_value(inner) for key, inner in value.items()}
    import pandas as pd

    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _json_column(values: "pd.Series") -> list[Any]:
    """A column's cells as JSON writes them; whole columns at once where NumPy can."""
    import numpy as np

    cells = values.tolist()  # Python floats, ints and bools, which repr exactly
    if (values.dtype.kind in "iub" and not values.hasnans) or (
            values.dtype.kind == "f" and np.isfinite(values.to_numpy()).all()):
        return cells
    return [json_value(cell) for cell in cells]


def to_json(frame: "pd.DataFrame") -> str:
    """A list of objects, one per row and one row a line, every float written exactly."""
    columns = [str(c) for c in frame.columns]
    cells = [_json_column(frame[name]) for name in frame.columns]
    lines = ["  " + json.dumps(dict(zip(columns, row)), allow_nan=False) for row in zip(*cells)]
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def _csv_cell(value: Any) -> Any:
    # No value as an empty cell; a list (run.eval_lengths) as JSON text, not Python's repr;
    # an infinity as str() writes it, ``inf``.
    if isinstance(value, (list, dict)):
        return json.dumps(json_value(value))
    if hasattr(value, "item"):
        value = value.item()  # a NumPy scalar
    return "" if json_value(value) is None else value


def _csv_column(values: "pd.Series") -> list[Any]:
    import numpy as np
    import pandas as pd

    cells = values.tolist()
    if values.dtype.kind in "iub":
        # A nullable integer column (results.load's integers) holds pd.NA where missing.
        return cells if not values.hasnans else ["" if cell is pd.NA else cell for cell in cells]
    if values.dtype.kind == "f":
        # Python's str of a float is its repr (exact); NaN (no value) is an empty cell.
        return cells if not np.isnan(values.to_numpy()).any() else ["" if c != c else c for c in cells]
    return [_csv_cell(cell) if not isinstance(cell, str) else cell for cell in cells]


def to_csv(frame: "pd.DataFrame") -> str:
    """CSV: floats at full precision (repr), no value an empty cell, an infinity
    ``inf``, a list as JSON text, booleans True/False."""
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([str(c) for c in frame.columns])
    writer.writerows(zip(*[_csv_column(frame[name]) for name in frame.columns]))
    return text.getvalue()
