"""Text from data made safe to print on a terminal or into a log.

Suite, task and model names, parameter values and error messages come from suite files,
stores and plugins, so they may hold newlines, carriage returns, ANSI escape sequences
(``ESC [ 2 J`` clears the screen; OSC sequences can set the terminal title or a
clipboard) or Unicode direction overrides. Printed raw, they forge lines of output or
control the terminal. ``printable`` shows each such character escaped, as Python writes
it in a string literal, so what is printed is one line of plain characters that says
exactly what the data held.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable

__all__ = ["printable", "listed"]

# Control characters (C0, DEL, C1: Cc), format characters such as the bidirectional
# overrides (Cf), line and paragraph separators (Zl, Zp), unassigned code points and
# lone surrogates (Cn, Cs): all invisible or able to move the cursor.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Cs", "Co"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(character: str) -> str:
    if character in _NAMED:
        return _NAMED[character]
    if unicodedata.category(character) not in _HIDDEN_CATEGORIES:
        return character
    code = ord(character)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: object) -> str:
    """``text`` (any object, as ``str`` gives it) with every control, format or
    separator character written as an escape (``\\n``, ``\\x1b``, ``\\u202e``); other
    characters, non-ASCII letters included, are kept as they are."""
    value = str(text)
    if value.isprintable():  # the common case: nothing to escape
        return value
    return "".join(_shown(character) for character in value)


MOST_LISTED = 10
LISTED_WIDTH = 80


def listed(names: Iterable[object], most: int = MOST_LISTED) -> str:
    """``a, b, c`` for a message: at most ``most`` names, each cut to LISTED_WIDTH
    characters, then ``... (N in all)``. Names come from stores and suite files, where
    there may be a hundred thousand of them, each a hundred thousand characters long."""
    texts = [str(name) for name in names]
    shown = [text if len(text) <= LISTED_WIDTH else text[:LISTED_WIDTH - 1] + "\u2026" for text in texts[:most]]
    more = f", ... ({len(texts)} in all)" if len(texts) > most else ""
    return ", ".join(shown) + more
