"""Errors a user can cause, reported as one clear line with exit code 2."""

from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["UserError", "did_you_mean", "near_name"]


class UserError(Exception):
    """Bad input from a user: a suite, a name, a parameter, a path. Never a traceback."""


def near_name(name: object, available: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when ``name`` is a near miss of one of ``available``, else
    empty: for the end of an "unknown key; allowed: ..." message."""
    close = difflib.get_close_matches(str(name), sorted(available), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def did_you_mean(name: str, available: Iterable[str]) -> str:
    """``did you mean 'x'? available: a, b, c`` for an unknown ``name``."""
    choices = sorted(available)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}available: {', '.join(choices) if choices else 'none installed'}"
