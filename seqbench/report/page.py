"""A summary page as a list of blocks, written as Markdown (figures linked) and as one
self-contained HTML file (figures embedded as base64)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Union

from seqbench.printable import printable
from seqbench.report.text import cell, markdown_table, markdown_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Heading", "Text", "Bullets", "Table", "Image", "Block", "markdown", "html_page"]


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Text:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    frame: "pd.DataFrame"
    note: str = ""


@dataclass
class Image:
    path: Path
    title: str
    caption: str = ""
    extra: list[Path] = field(default_factory=list)


Block = Union[Heading, Text, Bullets, Table, Image]


def _escaped(text: str) -> str:
    """``text`` for HTML: markup characters as entities, and control, format and
    separator characters (ESC, a direction override that reorders what a browser shows,
    line breaks) written as escapes, as report.md and the terminal show them."""
    return html.escape(printable(text))


def markdown(blocks: list[Block], title: str, base: Path) -> str:
    """Markdown with image links relative to ``base`` (where report.md is written).
    Every text is written literally (``markdown_text``): names and values from the
    store cannot add markup, links, HTML or lines."""
    text = markdown_text
    lines = [f"# {text(title)}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + text(block.text), ""]
        elif isinstance(block, Text):
            lines += [text(block.text), ""]
        elif isinstance(block, Bullets):
            lines += [f"- {text(item)}" for item in block.items] + [""]
        elif isinstance(block, Table):
            lines += markdown_table(block.frame)
            lines += ([""] + [text(block.note)] if block.note else []) + [""]
        elif isinstance(block, Image):
            link = block.path.relative_to(base).as_posix()
            lines += [f"![{text(block.title)}]({link})", ""]
            if block.caption or block.extra:
                also = ", ".join(f"[{p.suffix[1:].upper()}]({p.relative_to(base).as_posix()})" for p in block.extra)
                lines += [" ".join(filter(None, [text(block.caption), f"Also as {also}." if also else ""])), ""]
    return "\n".join(lines).rstrip() + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
p.note { color: #555; font-size: 0.9em; }
"""


def _html_table(table: Table) -> str:
    frame = table.frame
    head = "".join(f"<th>{_escaped(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            attribute = ' class="number"' if number else ""
            cells.append(f"<td{attribute}>{_escaped(cell(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{_escaped(table.note)}</p>' if table.note else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def _html_image(image: Image) -> str:
    data = base64.b64encode(image.path.read_bytes()).decode("ascii")
    kind = "svg+xml" if image.path.suffix == ".svg" else "png"
    caption = f"<figcaption>{_escaped(image.caption)}</figcaption>" if image.caption else ""
    return f'<figure><img alt="{_escaped(image.title)}" src="data:image/{kind};base64,{data}">{caption}</figure>'



def html_page(blocks: list[Block], title: str) -> str:
    """One HTML file that needs nothing beside it: figures are embedded."""
    body = [f"<h1>{_escaped(title)}</h1>"]
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_escaped(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            body.append(f"<p>{_escaped(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_escaped(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Image):
            body.append(_html_image(block))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_escaped(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
