"""Accuracy against cost per model, the Pareto front marked: the configurations that no
other one beats on both. Cost is GPU training energy where measured, and training time.
Each sequence length is its own problem, so each gets its own panel and front."""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from seqbench.plots.canvas import (
    Palette, Plot, draw_floor, figure_legend, panels, set_scales, zero_position,
)
from seqbench.plots.charts import facet_values, panel_title
from seqbench.plots.cost import has_energy
from seqbench.report.naming import axis_name, floor_label
from seqbench.report.sets import ResultSet, Sweep

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["plots", "pareto_front", "COSTS"]

COSTS = {"train-energy": ("train_energy_j", "training energy (J)"),
         "train-time": ("train_s", "training time (s)")}
# The figure is read at the width report.html gives it (page.py: a 1200 px column, less
# its padding): a row of four or more panels is shrunk to about half, and its tick
# labels to 6-7 px. Three panels a row keep the ticks at 11 px there (tested).
PAGE_WIDTH_PX = 1168
MAX_COLUMNS = 3


def pareto_front(cost: np.ndarray, metric: np.ndarray, direction: str) -> np.ndarray:
    """Which points no other point beats: none is at most as costly and at least as good
    while strictly better on one of the two."""
    good = -np.asarray(metric, dtype=float) if direction == "max" else np.asarray(metric, dtype=float)
    order = np.lexsort((good, cost))
    front = np.zeros(len(good), dtype=bool)
    best = np.inf
    for index in order:
        if good[index] < best:
            front[index] = True
            best = good[index]
    return front


def _points(runs: "pd.DataFrame", sweep: Sweep, cost: str, direction: str) -> "pd.DataFrame":
    """Means over seeds per configuration; ``front`` marks the Pareto front of each
    (source, length) panel, the oracle left out (it is the floor, not a contender)."""
    by = ["source", "series", "oracle"] + sweep.axes
    kept = runs.dropna(subset=[cost, "metric"])
    data = kept.groupby(by, dropna=False, observed=True)[[cost, "metric"]].mean().reset_index()
    data = data.rename(columns={cost: "cost"})
    data["front"] = False
    panel = ["source", sweep.length] if sweep.length else "source"
    for _, index in data[~data["oracle"]].groupby(panel, dropna=False, observed=True).groups.items():
        rows = data.loc[index]
        data.loc[index, "front"] = pareto_front(rows["cost"].to_numpy(), rows["metric"].to_numpy(), direction)
    return data


def _configuration(row: "pd.Series", axes: list[str]) -> str:
    return ", ".join(f"{axis_name(a)}={row[a]:g}" if isinstance(row[a], float) else f"{axis_name(a)}={row[a]}"
                     for a in axes)


def _draw(data: "pd.DataFrame", *, title: str, xlabel: str, ylabel: str, sweep: Sweep,
          floor: str, palette: Palette, best: str) -> "Figure":
    keys = [(s, v) for s in facet_values(data, "source") for v in facet_values(data, sweep.length)]
    cols = min(MAX_COLUMNS, len(keys))
    rows = math.ceil(len(keys) / cols)
    note = "means over seeds; the front: configurations no other beats on both cost and metric"
    figure, grid = panels(rows, cols, title, note, sharey=False)
    labelled = [a for a in sweep.axes if a != sweep.length]
    for ax in grid.flat[len(keys):]:
        ax.set_visible(False)
    for ax, (source, length) in zip(grid.flat, keys):
        panel = data[data["source"] == source]
        if sweep.length:
            panel = panel[panel[sweep.length] == length]
        learners = panel[~panel["oracle"]]
        set_scales(ax, None, learners["metric"].tolist())
        if learners["cost"].nunique() > 1:
            set_scales(ax, learners["cost"].tolist(), [], ticks=False)
        for series, group in learners.groupby("series", sort=True):
            ax.scatter(group["cost"], group["metric"], color=palette(series), label=series, s=28, zorder=3)
        front = learners[learners["front"]].sort_values("cost")
        if not front.empty:
            ax.step(front["cost"], front["metric"], where="post", color="black", linewidth=1,
                    zorder=2, label="Pareto front")
            ax.scatter(front["cost"], front["metric"], facecolors="none", edgecolors="black",
                       s=90, linewidths=1.2, zorder=4)
            for _, item in front.iterrows() if labelled else ():
                ax.annotate(_configuration(item, labelled), (item["cost"], item["metric"]),
                            fontsize="x-small", xytext=(4, 4), textcoords="offset points")
        oracle = panel[panel["oracle"]]["metric"]
        if len(oracle):
            value = oracle.min() if best == "min" else oracle.max()
            draw_floor(ax, [0], [value], f"oracle ({floor})", zero_position(learners["metric"]))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        parts = [("", source if data["source"].nunique() > 1 else None)]
        parts += [(axis_name(sweep.length), length)] if sweep.length else []
        ax.set_title(panel_title(parts), fontsize="medium")
    figure_legend(figure, grid)
    return figure


def plots(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame", palette: Palette) -> list[Plot]:
    metric = sets[0].primary_metric
    if metric is None or runs.empty:
        return []
    direction = sets[0].direction
    found = []
    for name, (column, xlabel) in COSTS.items():
        if column == "train_energy_j" and not has_energy(runs):
            continue
        data = _points(runs, sweep, column, direction)
        if data[~data["oracle"]].empty:
            continue
        cost_name = xlabel.split(" (")[0]
        title = f"Test {metric} against {cost_name}, Pareto front marked"
        found.append(Plot(
            name=f"{metric}-vs-{name}", title=title,
            data=data,
            draw=partial(_draw, data, title=title, xlabel=xlabel, ylabel=f"test {metric}",
                         sweep=sweep, floor=floor_label(direction), palette=palette, best=direction),
        ))
    return found
