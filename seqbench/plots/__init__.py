"""Figures of a results store, one module per family. Importing this package selects
matplotlib's non-interactive Agg backend.

``figures(sets)`` returns every figure the data supports, undrawn; ``seqbench.report``
draws and saves them beside the summary page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqbench.plots import cost, curves, flops, generalisation, metric, pareto, positions
from seqbench.plots.canvas import Palette, Plot, save
from seqbench.plots.sets import ResultSet, Sweep, sweep_of, tidy

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
