"""Training curves: the training loss and the validation primary metric per epoch, a
row of panels per swept sequence length or batch size (or pair of them). Only runs that
trained for more than one epoch have a curve."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from seqbench.plots.canvas import Palette, Plot
from seqbench.plots.charts import line_grid
from seqbench.report.naming import axis_name
from seqbench.report.sets import ResultSet, Sweep, setting_rows, summarise

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plots", "curve_points"]


def curve_points(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame") -> "pd.DataFrame":
    """One row per (run, epoch, quantity) of the successful runs, with each run's source,
    series and swept length and batch size."""
    import pandas as pd

    keep = ["id", "source", "series", "oracle", *sweep.axes]
    parts = []
    for result_set in sets:
        curves = result_set.curves()[["id", "epoch", "name", "value"]]
        if curves.empty:  # an empty frame's object columns would spoil the others' types
            continue
        own = runs.loc[runs["source"] == result_set.label, keep]
        parts.append(curves.merge(own, on="id", how="inner"))
    if not parts:
        return pd.DataFrame(columns=keep + ["epoch", "name", "value", "quantity"])
    points = pd.concat(parts, ignore_index=True)
    # A run of one epoch (a closed-form or one-pass model: numpy:ridge) has no curve to
    # draw, only a dot: left out, so such models get no grid of near-empty panels.
    epochs = points.groupby("id")["epoch"].nunique()
    points = points[points["id"].isin(epochs[epochs > 1].index)]
    metric = sets[0].primary_metric
    names = {"train_loss": "train loss", f"val_{metric}": f"validation {metric}"}
    points["quantity"] = points["name"].map(names)
    return points.dropna(subset=["quantity"])


def plots(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame", palette: Palette) -> list[Plot]:
    if runs.empty:
        return []
    points = curve_points(sets, sweep, runs)
    if points.empty:
        return []
    if len(sets) > 1:
        points["panel"] = points["source"].astype(str) + ": " + points["quantity"]
    else:
        points["panel"] = points["quantity"]
    points, row, row_label = setting_rows(points, sweep)
    by = ["source", "panel", "quantity", "series", "oracle", "epoch"] + ([row] if row else [])
    data = summarise(points, by, "value")
    name = "-and-".join(axis_name(axis) for axis in sweep.axes)
    title = "Training curves" + (f" per {name.replace('-and-', ' and ')}" if name else "")
    return [Plot(
        name=f"curves-by-{name}" if name else "curves", title=title, data=data,
        draw=partial(line_grid, data, x="epoch", title=title, xlabel="epoch", ylabel="",
                     palette=palette, row=row, col="panel", row_label=row_label, same_scale="col",
                     log_x=False),
    )]
