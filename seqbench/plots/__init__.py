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

from seqbench.paths import safe_name
from seqbench.plots import cost, curves, flops, generalisation, metric, pareto, positions
from seqbench.plots.canvas import Palette, Plot, save
from seqbench.plots.charts import line_grid, point_grid
from seqbench.report.sets import ResultSet, Sweep, smoke_flags, sweep_of, tidy
from seqbench.smoke_sizes import is_smoke_name

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["Figures", "figures", "save", "Plot", "ResultSet", "FAMILIES", "SMOKE_MARK", "is_smoke_set",
           "distinct_names"]

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
    plots = distinct_names(plots)
    if any(is_smoke_set(result_set) for result_set in sets):
        plots = [smoke_marked(plot) for plot in plots]
    return Figures(sets=sets, sweep=sweep, runs=runs, palette=palette, plots=plots)


SMOKE_MARK = " [smoke run: shrunk sizes, not results]"


def is_smoke_set(result_set: ResultSet) -> bool:
    """Smoke runs: stored under 'NAME [smoke]', or (stores made before that) every run
    marked run.smoke."""
    if is_smoke_name(result_set.suite):
        return True
    flags = smoke_flags(result_set.runs)
    return len(flags) > 0 and bool(flags.all())


def smoke_marked(plot: Plot) -> Plot:
    """``plot`` with its title, and the title drawn on its figure, marked as smoke."""
    draw = plot.draw

    def marked() -> "Figure":
        figure = draw()
        figure.suptitle(figure.get_suptitle() + SMOKE_MARK)
        return figure

    return replace(plot, title=plot.title + SMOKE_MARK, draw=marked)


def distinct_names(plots: list[Plot]) -> list[Plot]:
    """``plots`` with file names of their own: a figure whose name (as a file name,
    ``safe_name``, compared without case as macOS and Windows compare them) an earlier
    figure has is named ``NAME-2`` (or the next number free). A primary metric called
    ``time`` or ``energy`` made the metric's figure and the wall-time one both
    ``time-vs-seq_len``, and the second overwrote the first."""
    used: set[str] = set()
    named = []
    for plot in plots:
        name, number = plot.name, 1
        while safe_name(name).casefold() in used:
            number += 1
            name = f"{plot.name}-{number}"
        used.add(safe_name(name).casefold())
        named.append(plot if name == plot.name else replace(plot, name=name))
    return named


def _banded(plot: Plot, band: str) -> Plot:
    """The plot drawn with ``band`` where it is one of the charts that draw a band."""
    draw = plot.draw
    if isinstance(draw, partial) and draw.func in (line_grid, point_grid):
        return replace(plot, draw=partial(draw, band=band))
    return plot
