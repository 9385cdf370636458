"""Text in figures: with mathtext off (names from a store may hold `$`), a log axis's
tick labels must still read as numbers, and a long note must fit the figure."""

from __future__ import annotations

from seqbench.plots.canvas import decade_label, panels, set_scales, theme


def test_log_axis_tick_labels_are_plain_numbers_not_mathtext_source():
    ys = [1e-5, 1e-3, 1e-1]
    with theme():
        figure, axes = panels(1, 1, "title")
        ax = axes[0, 0]
        ax.plot([1, 2, 3], ys)
        set_scales(ax, [1, 2, 3], ys)
        figure.canvas.draw()
        labels = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    assert ax.get_yscale() == "log"
    assert "10\u207b\u00b3" in labels  # 10⁻³
    assert not any("$" in label or "mathdefault" in label for label in labels), labels


def test_decade_labels():
    assert [decade_label(v) for v in (1e-6, 1.0, 100.0, 0.5, 0.0, float("nan"))] == [
        "10\u207b\u2076", "10\u2070", "10\u00b2", "0.5", "", ""]


def test_a_long_note_is_wrapped_to_the_figure():
    note = "line: mean over seeds; " * 12
    with theme():
        figure, _ = panels(1, 1, "title", note=note)
    shown = figure.get_supxlabel()
    assert "\n" in shown and max(len(line) for line in shown.splitlines()) <= 7.2 * 14
