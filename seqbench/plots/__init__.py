"""Figures of result sets (``seqbench.report.sets``), one module per family, and the
canvas they are drawn on (``canvas``: figure objects saved without pyplot, so the
backend and style of a user's own session stay as they were).

``figures(sets)`` returns every figure the data supports, undrawn;
``seqbench.report.files`` draws and saves them beside the summary page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqbench.plots import cost, curves, flops, generalisation, metric, pareto, positions
from seqbench.plots.canvas import Palette, Plot, save
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


def figures(sets: list[ResultSet]) -> Figures:
    sweep = sweep_of(sets)
    runs = tidy(sets, sweep)
    palette = Palette(runs["series"].unique())
    plots = [plot for family in FAMILIES for plot in family.plots(sets, sweep, runs, palette)]
    return Figures(sets=sets, sweep=sweep, runs=runs, palette=palette, plots=plots)
