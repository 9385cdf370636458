"""Achieved model FLOP/s per phase (train, eval), and model FLOPs utilisation where the
GPU's peak is known, against sequence length and batch size; one mean per model when
the suite swept neither. Only where the models counted their FLOPs (seqbench.flops)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from seqbench.plots.canvas import Palette, Plot
from seqbench.plots.charts import line_grid, point_grid
from seqbench.report.naming import axis_name
from seqbench.report.sets import FLOPS_COLUMNS, ResultSet, Sweep, summarise_by_phase

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plots", "COLUMNS"]

# name in file names: the record's column per phase, axis label, heading
COLUMNS = {
    "flops": (FLOPS_COLUMNS["flop_per_s"], "achieved FLOP/s", "Achieved model FLOP/s"),
    "mfu": (FLOPS_COLUMNS["utilisation"], "model FLOPs utilisation", "Model FLOPs utilisation"),
}


def _by_phase(sets: list[ResultSet], runs: "pd.DataFrame", columns: dict[str, str],
              by: list[str]) -> "pd.DataFrame":
    """The tidy runs joined to each set's figures for ``columns``, one row per run and
    phase, summarised over seeds."""
    import pandas as pd

    figures = []
    for result_set in sets:
        source = result_set.runs
        part = pd.DataFrame({"source": result_set.label, "id": source["id"]})
        for phase, column in columns.items():
            values = source[column] if column in source.columns else None
            part[phase] = pd.to_numeric(values, errors="coerce") if values is not None else float("nan")
        figures.append(part)
    joined = runs.assign(source_key=runs["source"].astype(str)).merge(
        pd.concat(figures, ignore_index=True).rename(columns={"source": "source_key"}),
        on=["source_key", "id"], how="left",
    )
    return summarise_by_phase(joined, {phase: phase for phase in columns}, by)


def plots(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame", palette: Palette) -> list[Plot]:
    if runs.empty:
        return []
    col = "source" if len(sets) > 1 else None
    found = []
    for quantity, (columns, ylabel, heading) in COLUMNS.items():
        labels = {phase: f"{phase} {ylabel}" for phase in columns}
        groupings: list[tuple[str | None, list[str]]] = [
            (axis, ["source", "series", "oracle", axis]) for axis in sweep.axes
        ] or [(None, ["source", "series", "oracle"])]
        for axis, by in groupings:
            data = _by_phase(sets, runs, columns, by)
            if data.empty:
                break  # no run has the figure (no FLOP counts, or no known GPU peak)
            if axis is None:
                title = f"{heading} per model"
                draw = partial(point_grid, data, title=title, ylabel=labels, palette=palette,
                               row="phase", col=col, row_label="phase")
                found.append(Plot(name=f"{quantity}-by-model", title=title, data=data, draw=draw))
                continue
            name = axis_name(axis)
            title = f"{heading} against {name}"
            draw = partial(line_grid, data, x=axis, title=title, xlabel=name, ylabel=labels,
                           palette=palette, row="phase", col=col, row_label="phase", same_scale="row")
            found.append(Plot(name=f"{quantity}-vs-{name}", title=title, data=data, draw=draw))
    return found
