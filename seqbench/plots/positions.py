"""Test metrics per target position, for tasks that define ``score_positions``: a figure
per metric, the metric against target position, a line per series, a row of panels per
swept sequence length or batch size, the oracle as the floor."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from seqbench.plots.canvas import Palette, Plot
from seqbench.plots.charts import line_grid
from seqbench.report.naming import floor_label
from seqbench.report.sets import ResultSet, Sweep, setting_rows, summarise

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plots", "position_points", "POSITION"]

POSITION = "position"
CAPTION = ("Position 0 is the first target position. Each run's value is its mean over the "
           "test split's examples; the line is the mean over seeds, the band their range.")


def position_points(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame") -> "pd.DataFrame":
    """One row per (successful run, metric, position), with the run's source, series and
    swept axes."""
    import pandas as pd

    keep = ["id", "source", "series", "oracle", *sweep.axes]
    parts = []
    for result_set in sets:
        metrics = result_set.position_metrics
        if metrics.empty:
            continue
        own = runs.loc[runs["source"] == result_set.label, keep]
        parts.append(metrics[["id", "name", POSITION, "value"]].merge(own, on="id", how="inner"))
    if not parts:
        return pd.DataFrame(columns=keep + ["name", POSITION, "value"])
    return pd.concat(parts, ignore_index=True)


def _metric_order(names: list[str], primary: str | None) -> list[str]:
    return sorted(names, key=lambda name: (name != primary, name))


def plots(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame", palette: Palette) -> list[Plot]:
    if runs.empty:
        return []
    points = position_points(sets, sweep, runs)
    if points.empty:
        return []
    # A run's positions only make sense beside runs of the same setting: a longer
    # sequence has more of them.
    points, row, row_label = setting_rows(points, sweep)
    by = ["source", "series", "oracle", POSITION] + ([row] if row else [])
    col = "source" if len(sets) > 1 else None
    # The task's direction names the oracle's line; its per-position metrics are of the
    # same kind as its averaged ones (gp-pairs: NLL and MSE, lower is better).
    floor = floor_label(sets[0].direction)
    found = []
    for name in _metric_order(points["name"].unique().tolist(), sets[0].primary_metric):
        data = summarise(points[points["name"] == name], by, "value")
        if data.empty:  # no finite value at any position
            continue
        title = f"Test {name} per target position"
        found.append(Plot(
            name=f"{name}-vs-target-position", title=title, data=data, caption=CAPTION,
            draw=partial(line_grid, data, x=POSITION, title=title, xlabel="target position",
                         ylabel=f"test {name}", palette=palette, row=row, col=col,
                         row_label=row_label, floor=floor, marker=None),
        ))
    return found
