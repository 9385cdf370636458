"""Figures of result sets (``seqbench.report.sets``), one module per family, and the
canvas they are drawn on (``canvas``: figure objects saved without pyplot, so the
backend and style of a user's own session stay as they were).

``figures(sets)`` returns every figure the data supports, undrawn;
``seqbench.report.files`` draws and saves them beside the summary page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from seqbench.plots import cost, curves, flops, generalisation, metric, pareto, positions
from seqbench.plots.canvas import Palette, Plot, save
from seqbench.plots.charts import line_grid, point_grid
from seqbench.report.sets import ResultSet, Sweep, sweep_of, tidy

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Figures", "figures", "save", "Plot", "ResultSet", "FAMILIES"]

FAMILIES = (metric, cost, flops, curves, pareto, generalisation, positions)


@dataclass
class Figures:
    """What a group of side-by-side result sets shows: what they swept, their successful
    runs in tidy form, and the figures."""

    sets: list[ResultSet]
    sweep: Sweep
    runs: "pd.DataFrame"
    palette: Palette
    plots: list[Plot]


def figures(sets: list[ResultSet], band: str = "ci") -> Figures:
    """Every figure the sets support; ``band`` ("ci" or "minmax") is the spread over
    seeds the line and point charts draw."""
    sweep = sweep_of(sets)
    runs = tidy(sets, sweep)
    palette = Palette(runs["series"].unique())
    plots = [_banded(plot, band) for family in FAMILIES for plot in family.plots(sets, sweep, runs, palette)]
    return Figures(sets=sets, sweep=sweep, runs=runs, palette=palette, plots=plots)


def _banded(plot: Plot, band: str) -> Plot:
    """The plot drawn with ``band`` where it is one of the charts that draw a band."""
    draw = plot.draw
    if isinstance(draw, partial) and draw.func in (line_grid, point_grid):
        return replace(plot, draw=partial(draw, band=band))
    return plot
