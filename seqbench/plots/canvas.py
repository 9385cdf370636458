"""Drawing shared by every figure: colours that stay with a series across figures, log
scales when data span decades, the oracle drawn as the floor, and saving one file per
format.

Figures are made as ``matplotlib.figure.Figure`` objects and saved by the Agg (PNG) or
SVG canvas, never through pyplot: no display or GUI toolkit is needed, and neither the
backend nor the style of a user's own session (a notebook importing seqbench) changes.
"""

from __future__ import annotations

import logging
import math
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Sequence

from contextlib import contextmanager
from typing import Iterator

import matplotlib
import numpy as np
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator, NullLocator

from seqbench.report.naming import is_oracle
from seqbench.paths import own_file, safe_name

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

# How panels share an axis, as matplotlib's subplots takes it.
Sharing = Literal["none", "all", "row", "col"] | bool

__all__ = ["Plot", "Palette", "save", "theme", "panels", "set_scales", "draw_series", "draw_floor",
           "zero_position", "spans_decades", "figure_legend", "bar_lengths", "ORACLE_COLOR", "BAND_NOTE"]

ORACLE_COLOR = "black"
DECADE = 10.0
PANEL_WIDTH, PANEL_HEIGHT, LEGEND_WIDTH = 4.2, 3.0, 3.0
MAX_TICKS = 12
# The longest line of text a figure draws (a wrapped note is one line a panel's width).
MAX_LINE = 400
MAX_TICK = 60  # and of a tick label (a model's name on a categorical axis)
BAND_NOTE = "line: mean over seeds; band: min to max"



@contextmanager
def theme() -> Iterator[None]:
    """seaborn's look for the figures drawn inside, and only for them, with every ``$``
    shown as it is (no mathtext). matplotlib's font lookup is kept quiet meanwhile: its
    "findfont: ... not found" line for a math glyph's fallback font, and its "Glyph N
    missing" warning for a control character in a name (which would print that
    character raw on the terminal), say nothing a reader of the report can act on."""
    fonts = logging.getLogger("matplotlib.font_manager")
    level = fonts.level
    fonts.setLevel(logging.ERROR)
    try:
        # Labels, titles and legends hold names and values from the store: a ``$`` in
        # them is text, never mathtext (which fails on ``$\frac{$`` or draws ``$x$``
        # as maths). No label of seqbench's own relies on mathtext.
        # NumPy's warnings about values near the float range (a store may hold 1e300)
        # would print on stderr from inside matplotlib; the figure is drawn regardless.
        with matplotlib.rc_context({"text.parse_math": False}), sns.axes_style("whitegrid"), \
                sns.plotting_context("notebook"), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
            # Said when long names crowd the panels out; the figure is still written.
            warnings.filterwarnings("ignore", message="constrained_layout not applied", category=UserWarning)
            yield
    finally:
        fonts.setLevel(level)


@dataclass
class Plot:
    """A figure before it is drawn: its file name, title, the data it shows (one row per
    plotted point, for reading and for tests) and how to draw it."""

    name: str
    title: str
    data: "pd.DataFrame"
    draw: Callable[[], "Figure"] = field(repr=False)
    caption: str = ""


class Palette:
    """One colour per series, the same in every figure of a report; the oracle is black."""

    def __init__(self, series: Iterable[str]) -> None:
        names = sorted(set(series))
        colours = sns.color_palette("colorblind" if len(names) <= 10 else "husl", len(names))
        self._colours = dict(zip(names, colours))

    def __call__(self, series: str) -> object:
        return self._colours.get(series, "grey")


def save(plot: Plot, out: Path, formats: Sequence[str]) -> list[Path]:
    """Draw ``plot`` and write ``out/<name>.<format>`` for each format."""
    paths = []
    with theme():
        figure = plot.draw()
        _shorten_texts(figure)
        for fmt in formats:
            path = out / f"{safe_name(plot.name)}.{fmt}"
            figure.savefig(own_file(path), format=fmt, dpi=110 if fmt == "png" else None)
            paths.append(path)
    return paths


def _cut(text: str, limit: int = MAX_LINE) -> str:
    return "\n".join(line if len(line) <= limit else line[:limit - 1] + "\u2026" for line in text.split("\n"))


class _CutLabels(Formatter):
    """An axis's own formatter, its labels cut (tick labels are made while drawing,
    after ``_shorten_texts`` has run: categories such as model names are tick labels)."""

    def __init__(self, inner: Formatter) -> None:
        self.inner = inner

    def __call__(self, x: float, pos: int | None = None) -> str:
        return _cut(str(self.inner(x, pos)), MAX_TICK)

    def format_ticks(self, values: Any) -> list[str]:
        return [_cut(str(label), MAX_TICK) for label in self.inner.format_ticks(values)]

    def set_locs(self, locs: Any) -> None:
        self.inner.set_locs(locs)

    def get_offset(self) -> str:
        return _cut(str(self.inner.get_offset()), MAX_TICK)


def _shorten_texts(figure: "Figure") -> None:
    """Cut every line of text in ``figure`` (titles, legends, tick labels: names and
    values from the store) to MAX_LINE characters. A suite or model name of 100,000
    characters would otherwise take seconds a figure to draw, or overflow the
    rasteriser."""
    from matplotlib.text import Text

    for text in figure.findobj(Text):
        value = text.get_text()
        if len(value) > MAX_LINE:
            text.set_text(_cut(value))
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            for formatter, setter in ((axis.get_major_formatter(), axis.set_major_formatter),
                                      (axis.get_minor_formatter(), axis.set_minor_formatter)):
                if not isinstance(formatter, _CutLabels):
                    setter(_CutLabels(formatter))


def panels(rows: int, cols: int, title: str, note: str = "", sharey: Sharing = "row",
           sharex: Sharing = False) -> tuple["Figure", np.ndarray]:
    """A grid of panels under ``title``, with ``note`` (how to read it) along the bottom."""
    # A store whose rows lack the metric they name (hand-edited, or hostile) leaves
    # nothing to facet: one empty panel, not a crash of the whole report.
    rows, cols = max(rows, 1), max(cols, 1)
    figure = Figure(figsize=(PANEL_WIDTH * cols + LEGEND_WIDTH, PANEL_HEIGHT * rows + 1.0),
                    layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False, sharey=sharey, sharex=sharex)
    figure.suptitle(title)
    if note:
        # Wrapped to the figure's width (about 14 small characters an inch): a long note
        # would otherwise run off both edges of a one-panel figure.
        width = int((PANEL_WIDTH * cols + LEGEND_WIDTH) * 14)
        figure.supxlabel(textwrap.fill(note, width=max(40, width)), fontsize="small", color="dimgrey")
    return figure, axes


def spans_decades(values: Iterable[float]) -> bool:
    """True when the values are all positive and the largest is at least ten times the
    smallest: a linear axis would crush the small ones."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite or min(finite) <= 0:
        return False
    return max(finite) / min(finite) >= DECADE


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def decade_label(value: float, position: object = None) -> str:
    """A log axis's tick label as plain text: ``10⁻³`` at a decade, the number
    elsewhere. matplotlib's own log labels are mathtext, which ``theme`` turns off
    (names from the store may hold ``$``), so they would print as ``$\\mathdefault…$``."""
    if not math.isfinite(value) or value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) > 1e-9:
        return f"{value:g}"
    return "10" + str(int(round(exponent))).translate(_SUPERSCRIPT)


def set_scales(
    ax: "Axes", xs: Sequence[float] | None, ys: Sequence[float], ticks: bool = True, log_x: bool = True
) -> None:
    """Log axes where the data span decades (x only when ``log_x``: epochs, say, are
    read on a linear axis); ticks at the swept values themselves."""
    if xs is not None:
        xs = sorted({float(x) for x in xs if x is not None and math.isfinite(float(x))})
        logarithmic = log_x and spans_decades(xs)
        if logarithmic:
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(decade_label))
        if ticks and 0 < len(xs) <= MAX_TICKS:
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
            ax.minorticks_off()
        elif ticks and not logarithmic and all(x.is_integer() for x in xs):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if spans_decades(ys):
        ax.set_yscale("log", nonpositive="clip")
        ax.yaxis.set_major_formatter(FuncFormatter(decade_label))
        # Minor ticks of log axes cost most of a many-panel figure's drawing time and,
        # unlabelled, say little; the major ticks mark every decade.
        ax.yaxis.set_minor_locator(NullLocator())


def draw_series(ax: "Axes", x, mean, low, high, label: str, colour, marker: str | None = "o") -> None:
    """A line through the means with a band from the lowest to the highest seed."""
    x, mean, low, high = (np.asarray(v, dtype=float) for v in (x, mean, low, high))
    ax.plot(x, mean, marker=marker, markersize=4, color=colour, label=label)
    if len(x) > 1:
        ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
    else:
        ax.errorbar(x, mean, yerr=bar_lengths(mean, low, high), color=colour, capsize=3, linewidth=1)


def bar_lengths(mean, low, high) -> list[np.ndarray]:
    """Error bars' lengths below and above ``mean``, as matplotlib takes them: never
    negative (values near the largest float, as a store may hold, round the interval
    past its mean: matplotlib refuses the whole figure then)."""
    mean, low, high = (np.asarray(v, dtype=float) for v in (mean, low, high))
    with np.errstate(invalid="ignore", over="ignore"):
        return [np.maximum(mean - low, 0.0), np.maximum(high - mean, 0.0)]


def zero_position(values: Iterable[float]) -> float | None:
    """Where a log axis over ``values`` draws 0: half a decade below the smallest
    positive value (the axis gains that margin)."""
    positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return min(positive) / 10**0.5 if positive else None


def draw_floor(ax: "Axes", x, values, label: str, zero_at: float | None = None) -> None:
    """The oracle, the best any model can do: a black dashed line. A log axis cannot
    show 0 (an exact oracle), so there 0 is drawn at ``zero_at``, in a margin below
    the data that autoscaling then keeps, and labelled."""
    values = np.asarray(values, dtype=float)
    if ax.get_yscale() == "log" and (values <= 0).any():
        if zero_at is None:
            zero_at = zero_position(ax.get_ylim())
        values = np.where(values > 0, values, zero_at)
        ax.annotate("0 (a log axis has no 0)", (1, zero_at), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom",
                    fontsize="x-small", color=ORACLE_COLOR)
    if len(x) == 1:
        ax.axhline(values[0], color=ORACLE_COLOR, linestyle="--", linewidth=1.5, label=label)
    else:
        ax.plot(x, values, color=ORACLE_COLOR, linestyle="--", linewidth=1.5, label=label)


def figure_legend(figure: "Figure", axes: np.ndarray) -> None:
    """One legend for the whole figure, outside the panels, each label once."""
    handles: dict[str, "Artist"] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)

    def rank(label: str) -> tuple[int, str]:
        # Models first, then the front, then the oracle: the floor closes the list.
        oracle = is_oracle(label.split(" ")[0])
        return (2 if oracle else 1 if label == "Pareto front" else 0, label)

    handles = {label: handles[label] for label in sorted(handles, key=rank)}
    if handles:
        # Centred beside the panels, clear of the title above and the note below.
        figure.legend(list(handles.values()), list(handles.keys()), loc="outside right center",
                      fontsize="small", frameon=False)
