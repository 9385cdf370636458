"""A sweep's standard output that a closed pipe cannot stop.

``seqbench run suite.toml | head`` closes the pipe after ten lines; the next write
raises BrokenPipeError (Python ignores SIGPIPE). A sweep is hours of work whose results
go to the store, not to stdout, so losing the reader must not lose the sweep: the first
failed write says so once on stderr, points the process's standard output at
``/dev/null`` (so every later write, click's and the interpreter's final flush
included, succeeds and is discarded) and the sweep goes on to the end.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

import click

__all__ = ["SurvivingOutput"]

CLOSED_NOTE = ("seqbench: standard output was closed (its reader ended); the sweep goes on, "
               "its output discarded; results go to the store as always")


class SurvivingOutput:
    """Wraps a text stream (sys.stdout): writes that hit a closed pipe are discarded
    from then on, after one note on stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._discard()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._discard()

    def isatty(self) -> bool:
        return not self.closed_by_reader and self.stream.isatty()

    def _discard(self) -> None:
        self.closed_by_reader = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass  # not a real file: its writes are skipped here all the same
        try:
            click.echo(CLOSED_NOTE, err=True)
        except OSError:
            pass
        # What the failed write left in the buffer now goes to /dev/null.
        try:
            self.stream.flush()
        except (OSError, ValueError):
            pass


def stdout() -> SurvivingOutput:
    return SurvivingOutput(sys.stdout)
