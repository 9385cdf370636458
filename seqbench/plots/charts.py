"""The two chart shapes every figure family uses: lines over a swept axis in a grid of
panels, and one mean per series when nothing was swept. Both show the spread over
seeds as the mean's 95% interval (``seqbench.report.sets.summarise``'s low and high)
or, with band="minmax", from the lowest to the highest seed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seqbench.plots.canvas import (
    BAND_NOTE, ORACLE_COLOR, Palette, Sharing, bar_lengths, draw_floor, draw_series, figure_legend, panels,
    set_scales, spans_decades, zero_position,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["line_grid", "point_grid", "facet_values", "panel_title", "band_columns", "BANDS", "CI_NOTE"]

BANDS = ("ci", "minmax")
CI_NOTE = ("line: mean over seeds; band: its 95% interval (none with one seed; on a log axis, "
           "one reaching below 0 stops at the lowest seed)")


def band_columns(data: "pd.DataFrame", band: str, note: str) -> tuple[str, str, str]:
    """The columns a band spans and the note saying so: the mean's 95% interval
    (``low``, ``high``) for "ci" where the data has it, else the lowest to the highest
    seed. A caller's own note stays unless it is the default one."""
    if band not in BANDS:
        raise ValueError(f"band must be one of {', '.join(BANDS)}, not {band!r}")
    if band == "ci" and {"low", "high"} <= set(data.columns):
        return "low", "high", CI_NOTE if note == BAND_NOTE else note
    return "min", "max", note


def _scale_values(frame: "pd.DataFrame", low: str, high: str) -> list[float]:
    """What an axis must show: the seeds' values and the band. An interval reaching
    below zero around positive values (an error near 0 with few seeds) must not turn a
    log axis linear: its bound is then left to the lowest seed."""
    seeds = frame[["mean", "min", "max"]].to_numpy(dtype=float).ravel()
    edges = frame[[low, high]].to_numpy(dtype=float).ravel()
    if len(seeds) and np.nanmin(seeds) > 0:
        edges = edges[edges > 0]
    return [*seeds.tolist(), *edges.tolist()]


def _band(frame: "pd.DataFrame", low: str, high: str) -> tuple[np.ndarray, np.ndarray]:
    """A band's edges; a point with one seed (no interval) has none."""
    mean = frame["mean"].to_numpy(dtype=float)
    lows, highs = frame[low].to_numpy(dtype=float), frame[high].to_numpy(dtype=float)
    return np.where(np.isnan(lows), mean, lows), np.where(np.isnan(highs), mean, highs)


def facet_values(data: "pd.DataFrame", column: str | None) -> list:
    """A facet's values in order: numbers ascending, words as they first appear (the
    figure modules put train before eval, the first result set before the second)."""
    if column is None:
        return [None]
    values = data[column].dropna().unique().tolist()
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        return sorted(values)
    return values


def panel_title(parts: list[tuple[str, object]]) -> str:
    return "   ".join(f"{name} = {value}" if name else str(value) for name, value in parts if value is not None)


def _facets(data, row, col):
    for r, row_value in enumerate(facet_values(data, row)):
        for c, col_value in enumerate(facet_values(data, col)):
            mask = np.ones(len(data), dtype=bool)
            if row is not None:
                mask &= (data[row] == row_value).to_numpy()
            if col is not None:
                mask &= (data[col] == col_value).to_numpy()
            yield r, c, row_value, col_value, data[mask]


def line_grid(
    data: "pd.DataFrame", *, x: str, title: str, xlabel: str, ylabel: str | dict,
    palette: Palette, row: str | None = None, col: str | None = None,
    row_label: str = "", col_label: str = "", floor: str | None = None,
    marks: dict | None = None, note: str = BAND_NOTE, same_scale: str = "all",
    marker: str | None = "o", log_x: bool = True, band: str = "ci",
) -> "Figure":
    """A panel per (row, col) value; in each, a line per series through its ``mean``
    with a band (``band``, below). Oracle series are drawn as ``floor`` (a label)
    when given, else as plain black dashed lines. ``ylabel`` may map row values to labels;
    ``marks`` maps a row value to an x position marked with a dotted vertical line.
    Panels showing one quantity share their y axis: ``same_scale`` is "all" (every
    panel), "row" or "col". ``marker`` marks each point (None: lines alone, for
    series of hundreds of points). ``band``: "ci" (the mean's 95% interval where the data
    has one) or "minmax"."""
    low, high, note = band_columns(data, band, note)
    rows, cols = len(facet_values(data, row)), len(facet_values(data, col))
    sharing: dict[str, Sharing] = {"all": True, "row": "row", "col": "col"}
    sharey = sharing[same_scale]
    # Every panel spans the same x values, so side-by-side sets line up.
    figure, axes = panels(rows, cols, title, note, sharey=sharey, sharex=True)
    xs = data[x].tolist()
    # A floor must not decide the scale (an exact oracle is 0); a plain series does.
    scaled = data[~data["oracle"]] if floor is not None and (~data["oracle"]).any() else data
    scope = {"all": None, "row": row, "col": col}[same_scale]
    values = {key: _scale_values(group, low, high)
              for key, group in (scaled.groupby(scope, observed=True, sort=False) if scope
                                 else [(None, scaled)])}
    for r, c, row_value, col_value, panel in _facets(data, row, col):
        ax = axes[r, c]
        learners = panel[~panel["oracle"]]
        key = {"all": None, "row": row_value, "col": col_value}[same_scale]
        set_scales(ax, xs, values.get(key, []), log_x=log_x)
        for series, line in learners.groupby("series", sort=True):
            line = line.sort_values(x)
            lows, highs = _band(line, low, high)
            if ax.get_yscale() == "log":  # an interval reaching below zero: clipped at the lowest seed
                lows = np.where(lows > 0, lows, line["min"].to_numpy(dtype=float))
            draw_series(ax, line[x].to_numpy(), line["mean"].to_numpy(), lows, highs, series,
                        palette(series), marker=marker)
        for series, line in panel[panel["oracle"]].groupby("series", sort=True):
            line = line.sort_values(x)
            if floor is not None:
                draw_floor(ax, line[x].to_numpy(), line["mean"].to_numpy(), f"{series} ({floor})",
                           zero_position(values.get(key, [])))
            else:
                ax.plot(line[x], line["mean"], color=ORACLE_COLOR, linestyle="--", marker="o",
                        markersize=3, label=series)
        if marks and row_value in marks:
            ax.axvline(marks[row_value], color="grey", linestyle=":", linewidth=1)
        ax.set_title(panel_title([(row_label, row_value), (col_label, col_value)]), fontsize="medium")
        ax.set_xlabel(xlabel if r == rows - 1 else "")
        ax.set_ylabel(ylabel.get(row_value, "") if isinstance(ylabel, dict) else ylabel)
        if panel.empty:
            ax.text(0.5, 0.5, "no successful runs here", ha="center", va="center", transform=ax.transAxes)
    figure_legend(figure, axes)
    return figure


def point_grid(
    data: "pd.DataFrame", *, title: str, ylabel: str | dict, palette: Palette,
    row: str | None = None, col: str | None = None, row_label: str = "", col_label: str = "",
    floor: str | None = None, note: str = "mean over seeds; bar: min to max", band: str = "ci",
) -> "Figure":
    """One mean per series with a bar over its 95% interval (``band`` "ci", where the
    data has one) or from the lowest to the highest seed ("minmax"); the oracle as a
    dashed horizontal floor line when ``floor`` is given."""
    low, high, _ = band_columns(data, band, BAND_NOTE)
    if low == "low" and note == "mean over seeds; bar: min to max":
        note = "mean over seeds; bar: its 95% interval (none with one seed)"
    rows, cols = len(facet_values(data, row)), len(facet_values(data, col))
    figure, axes = panels(rows, cols, title, note)
    for r, c, row_value, col_value, panel in _facets(data, row, col):
        ax = axes[r, c]
        shown = panel[~panel["oracle"]] if floor is not None else panel
        shown = shown.sort_values("series")
        positions = np.arange(len(shown))
        values = _scale_values(shown, low, high)
        set_scales(ax, None, values)
        lows, highs = _band(shown, low, high)
        if ax.get_yscale() == "log":
            lows = np.where(lows > 0, lows, shown["min"].to_numpy(dtype=float))
        for position, item, bottom, top in zip(positions, shown.itertuples(index=False), lows, highs):
            colour = ORACLE_COLOR if item.oracle else palette(item.series)
            ax.errorbar([position], [item.mean], yerr=bar_lengths([item.mean], [bottom], [top]),
                        fmt="o", color=colour, capsize=4, label=item.series)
        # A series' name on its own lines (model, then each parameter), level: names at
        # an angle reached far left of the panel, and the layout shrank the panel to
        # fit them (six series of 40 characters left it a sliver).
        ax.set_xticks(positions, [_stacked(name) for name in shown["series"].tolist()], fontsize="small")
        if floor is not None:
            for item in panel[panel["oracle"]].itertuples(index=False):
                draw_floor(ax, [0], [item.mean], f"{item.series} ({floor})", zero_position(values))
        if not spans_decades(values) and len(values):
            ax.set_ylim(bottom=min(0.0, min(values)))
        ax.set_title(panel_title([(row_label, row_value), (col_label, col_value)]), fontsize="medium")
        ax.set_ylabel(ylabel.get(row_value, "") if isinstance(ylabel, dict) else ylabel)
    figure_legend(figure, axes)
    _fit_tick_labels(figure, axes, cols)
    return figure


# Past this a figure is shrunk to fit a page anyway: names may overlap there instead.
MAX_FIGURE_INCHES = 30.0


def _fit_tick_labels(figure: "Figure", axes: np.ndarray, cols: int) -> None:
    """Widen ``figure`` until each panel's tick labels fit side by side, measured as
    laid out (the legend beside the panels and the labels' real widths included), a
    few rounds at most, never past MAX_FIGURE_INCHES."""
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for _ in range(4):
        figure.draw_without_rendering()  # runs the constrained layout
        short = 0.0  # inches the most crowded panel lacks
        for ax in axes.flat:
            labels = [label for label in ax.get_xticklabels() if label.get_text()]
            if not labels:
                continue
            needed = sum(label.get_window_extent(renderer).width for label in labels) * 1.15
            short = max(short, (needed - ax.get_window_extent(renderer).width) / figure.dpi)
        wider = min(figure.get_figwidth() + short * cols, MAX_FIGURE_INCHES)
        if short <= 0.05 or wider <= figure.get_figwidth():
            return
        figure.set_figwidth(wider)


def _stacked(series: str) -> str:
    """``torch:lstm hidden=64`` as ``torch:lstm`` over ``hidden=64``: a tick label that
    is as wide as its longest word."""
    return "\n".join(series.split(" "))
