"""Code blocks of a Markdown page: files tagged ``file="PATH"`` and console sessions.

A console block holds commands (lines starting with ``$ ``), each followed by the
output lines a reader should see; ``...`` in an expected line stands for anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "blocks", "file_blocks", "console_steps", "first_missing_line"]

FENCE = re.compile(r"^```(\S*)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
PROMPT = "$ "
ELISION = "..."


@dataclass(frozen=True)
class Block:
    language: str
    attributes: dict[str, str]
    text: str


def blocks(path: Path) -> list[Block]:
    return [
        Block(language, dict(ATTRIBUTE.findall(info)), text)
        for language, info, text in FENCE.findall(path.read_text())
    ]


def file_blocks(path: Path, under: str = "") -> dict[str, str]:
    """``{path: text}`` of the blocks tagged ``file="..."`` whose path starts with ``under``."""
    files = {}
    for block in blocks(path):
        name = block.attributes.get("file")
        if name is not None and name.startswith(under):
            assert name not in files, f"{path}: {name} is shown twice"
            files[name[len(under):]] = block.text
    return files


def console_steps(path: Path) -> list[tuple[str, list[str]]]:
    """Every ``console`` block's commands in order, each with its expected output lines."""
    steps: list[tuple[str, list[str]]] = []
    for block in blocks(path):
        if block.language != "console":
            continue
        for line in block.text.splitlines():
            if line.startswith(PROMPT):
                steps.append((line[len(PROMPT):], []))
            elif steps and line.strip() and line.strip() != ELISION:
                steps[-1][1].append(line)
    return steps


def _matches(expected: str, actual: str) -> bool:
    position = 0
    for fragment in expected.split(ELISION):
        found = actual.find(fragment, position)
        if found < 0:
            return False
        position = found + len(fragment)
    return True


def first_missing_line(expected: list[str], output: str) -> str | None:
    """The first expected line with no match in ``output`` after the previous one's."""
    lines = output.splitlines()
    position = 0
    for wanted in expected:
        while position < len(lines) and not _matches(wanted, lines[position]):
            position += 1
        if position == len(lines):
            return wanted
        position += 1
    return None
