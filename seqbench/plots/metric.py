"""The primary metric against sequence length (and batch size), one line per model,
the oracle as the floor; one mean per model when the suite swept neither."""

from __future__ import annotations

from functools import partial

from seqbench.plots.canvas import Palette, Plot
from seqbench.plots.charts import line_grid, point_grid
from seqbench.report.naming import axis_name, floor_label
from seqbench.report.sets import ResultSet, Sweep, summarise

__all__ = ["plots"]


def plots(sets: list[ResultSet], sweep: Sweep, runs, palette: Palette) -> list[Plot]:
    metric = sets[0].primary_metric
    if metric is None or runs.empty:
        return []
    col = "source" if len(sets) > 1 else None
    floor = floor_label(sets[0].direction)
    label = f"test {metric}"
    found = []
    for axis in sweep.axes:
        data = summarise(runs, ["source", "series", "oracle", axis], "metric")
        name = axis_name(axis)
        title = f"Test {metric} against {name}"
        found.append(Plot(
            name=f"{metric}-vs-{name}", title=title, data=data,
            draw=partial(line_grid, data, x=axis, title=title, xlabel=name, ylabel=label,
                         palette=palette, col=col, floor=floor),
        ))
    if not sweep.axes:
        data = summarise(runs, ["source", "series", "oracle"], "metric")
        title = f"Test {metric} per model"
        found.append(Plot(
            name=f"{metric}-by-model", title=title, data=data,
            draw=partial(point_grid, data, title=title, ylabel=label, palette=palette, col=col,
                         floor=floor),
        ))
    return found
