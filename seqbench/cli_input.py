"""The command line's own input, checked where click parses it: every path an option or
argument takes (one parameter type, ``UserPath``), and click's usage errors made the
one line every other user error is (``one_line``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

__all__ = ["UserPath", "one_line", "capped", "MAX_MESSAGE_CHARACTERS"]

# A message is one line a person reads: past this length its middle is cut (a suite
# value or a name may be a megabyte long), keeping the start (file, key, what is
# allowed) and the end.
MAX_MESSAGE_CHARACTERS = 1000


class UserPath(click.Path):
    """``click.Path`` that refuses, as a usage error naming the option, what no file
    name can be: a NUL byte (``os.stat`` raises ValueError on it), and, for a file
    (``file=True`` or ``dir_okay=False``), a path ending in ``/``, which names a
    folder (``Path`` drops the slash, and a file would be made where a folder was
    asked for)."""

    def __init__(self, *, file: bool = False, file_okay: bool = True, dir_okay: bool = True) -> None:
        super().__init__(path_type=Path, file_okay=file_okay, dir_okay=dir_okay)
        self.file = file or not dir_okay  # names a file: a trailing '/' is refused

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fsdecode(value) if isinstance(value, (str, bytes, os.PathLike)) else str(value)
        if "\x00" in text:
            self.fail(f"{text!r} holds a NUL byte, which no file name can", param, ctx)
        if self.file and text.endswith(("/", os.sep)):
            self.fail(f"{text!r} ends in '/', so it names a folder; give a file path", param, ctx)
        try:
            return super().convert(value, param, ctx)
        except OSError as error:  # a name too long for the file system, a loop of links
            self.fail(f"{text!r}: {error.strerror or error}", param, ctx)


def one_line(error: click.UsageError) -> str:
    """click's usage error (four lines: usage, hint, blank, error) as one line that
    says where the allowed values are listed."""
    where = f" (`{error.ctx.command_path} --help` lists what is allowed)" if error.ctx else ""
    return f"{error.format_message()}{where}"


def capped(message: str) -> str:
    """``message`` with its middle cut when it is longer than MAX_MESSAGE_CHARACTERS."""
    if len(message) <= MAX_MESSAGE_CHARACTERS:
        return message
    head, tail = MAX_MESSAGE_CHARACTERS * 2 // 3, MAX_MESSAGE_CHARACTERS // 4
    return f"{message[:head]} ... ({len(message) - head - tail:,} characters cut) ... {message[-tail:]}"
