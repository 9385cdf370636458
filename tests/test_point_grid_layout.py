"""The per-model figure (a suite that swept no length or batch size) reads with many
long series names: each name stacked on its own lines, none overlapping its
neighbour, and the plotting area not squeezed to make room for them."""

from __future__ import annotations

import pandas as pd

from seqbench.plots.canvas import Palette, theme
from seqbench.plots.charts import point_grid


def test_six_long_series_names_neither_overlap_nor_squeeze_the_panel():
    names = [f"torch:{model} test_p_ignore={p}" for model in ("causal-transformer", "lstm") for p in (0.1, 0.8, 0.98)]
    data = pd.DataFrame([
        {"source": "s", "series": name, "oracle": False, "mean": 0.5 + i / 20, "min": 0.4, "max": 0.9, "n": 3}
        for i, name in enumerate(names)
    ] + [{"source": "s", "series": "oracle", "oracle": True, "mean": 1.0, "min": 1.0, "max": 1.0, "n": 3}])
    with theme():
        figure = point_grid(data, title="t", ylabel="test accuracy", palette=Palette(data["series"]),
                            floor="ceiling", band="minmax")
        renderer = figure.canvas.get_renderer()
        figure.draw(renderer)
        [ax] = [ax for ax in figure.axes if ax.get_visible()]
        boxes = [label.get_window_extent(renderer) for label in ax.get_xticklabels()]
        panel = ax.get_window_extent(renderer)
    assert [label.get_text() for label in ax.get_xticklabels()][0] == "torch:causal-transformer\ntest_p_ignore=0.1"
    assert all(left.x1 <= right.x0 for left, right in zip(boxes, boxes[1:]))  # side by side, apart
    # The plotting area keeps most of the figure's width beside the legend (six names
    # at an angle had left it about a tenth).
    assert panel.width / (figure.get_size_inches()[0] * figure.dpi) > 0.45
