"""The Pareto figure is laid out to be read at the size report.html shows it: a grid of
panels, not one wide row, with tick labels of at least 9 px at the page's width."""

from __future__ import annotations

import pandas as pd

from seqbench.plots.canvas import Palette, theme
from seqbench.plots.pareto import PAGE_WIDTH_PX, _draw
from seqbench.report.sets import Sweep

DPI = 110  # canvas.save writes PNGs at this


def test_five_lengths_make_a_grid_with_ticks_readable_at_page_width():
    lengths = [100, 200, 300, 400, 800]
    data = pd.DataFrame([
        {"source": "s", "series": model, "oracle": False, "task.seq_len": length,
         "cost": 1.0 + i + length / 100, "metric": 0.1 / (1 + i), "front": True}
        for length in lengths for i, model in enumerate(["torch:lstm", "torch:attention"])
    ])
    sweep = Sweep(length="task.seq_len", batch=None, other=(), length_param="seq_len")
    with theme():
        figure = _draw(data, title="t", xlabel="training time (s)", ylabel="test mse", sweep=sweep,
                       floor="lower is better", palette=Palette(data["series"]), best="min")
        visible = [ax for ax in figure.axes if ax.get_visible() and ax.get_title()]
        rows = {round(ax.get_position().y0, 3) for ax in visible}
        width_px = figure.get_size_inches()[0] * DPI
        scale = min(1.0, PAGE_WIDTH_PX / width_px)
        tick_pt = visible[0].yaxis.get_ticklabels()[0].get_fontsize()
    assert len(visible) == 5 and len(rows) == 2  # a grid, not one wide row
    # At least 9 px, with a margin: a browser's padding or scroll bar narrows the column.
    # (Four panels a row gave 9.0 px here, eleven-point ticks at 0.54 scale.)
    assert tick_pt * DPI / 72 * scale >= 10
