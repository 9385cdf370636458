"""How values and tables read as text: one cell's text (the Markdown and HTML pages and
``--format markdown`` share it), a frame as a Markdown table (the one renderer, for
``--format markdown`` and report.md alike), and the right-aligned table printed by
default."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from seqbench.printable import printable

__all__ = ["cell", "markdown_table", "markdown_text", "fixed_width_table"]


def cell(value: object) -> str:
    """Empty for a missing value, four significant digits for a float."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    import pandas as pd

    if value is pd.NA:  # missing in a nullable integer column (results.load's integers)
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# What Markdown (and the HTML a Markdown renderer lets through) would read as markup
# rather than text: a pipe ends a table cell, a backtick opens code, brackets make
# links, asterisks emphasis, ``<`` tags and ``&`` entities; a backslash escapes the next.
_MARKDOWN_ESCAPES = {"\\": "\\\\", "|": "\\|", "`": "\\`", "*": "\\*", "[": "\\[", "]": "\\]",
                     "<": "&lt;", ">": "&gt;", "&": "&amp;"}
_MARKDOWN_TABLE = str.maketrans(_MARKDOWN_ESCAPES)


def markdown_text(text: object) -> str:
    """``text`` as literal text in Markdown: markup characters escaped, line breaks
    (which would end a table row or a heading) and other control characters written
    as escapes (``seqbench.printable``)."""
    return printable(str(text).translate(_MARKDOWN_TABLE))


def _markdown_cell(value: object) -> str:
    return markdown_text(cell(value))


def markdown_table(frame: "pd.DataFrame") -> list[str]:
    """The table's lines: header, rule, a line per row."""
    lines = ["| " + " | ".join(_markdown_cell(c) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_markdown_cell(v) for v in row) + " |")
    return lines


def _text_column(values: "pd.Series") -> list[str]:
    if values.dtype.kind == "f":
        return ["" if v != v else f"{v:.4g}" for v in values.tolist()]
    return ["" if v is None or v != v else printable(v) for v in values.tolist()]


# Widest cell of the terminal table: a store's error text of 1.5 million characters
# padded every row to its width (40 MB printed). Other formats keep the whole text.
MAX_CELL_CHARACTERS = 200


def _capped(text: str) -> str:
    if len(text) <= MAX_CELL_CHARACTERS:
        return text
    suffix = f"... ({len(text):,} chars)"
    return text[:MAX_CELL_CHARACTERS - len(suffix)] + suffix


def fixed_width_table(frame: "pd.DataFrame") -> str:
    """Right-aligned columns, as pandas' to_string prints them, several times faster on
    100,000 rows."""
    columns = [[_capped(text) for text in [printable(name)] + _text_column(frame[name])] for name in frame.columns]
    widths = [max(map(len, column)) for column in columns]
    padded = [[text.rjust(width) for text in column] for column, width in zip(columns, widths)]
    return "\n".join(" ".join(row) for row in zip(*padded)) if padded else ""
