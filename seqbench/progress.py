"""Progress for a sweep: a line per finished point, and a live bar when on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import click

__all__ = ["Progress"]

BAR_WIDTH = 28


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self._draw()

    def finished(self, line: str, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        self._clear()
        width = len(str(self.total))
        click.echo(f"[{self.done:>{width}}/{self.total}] {line}", file=self.stream)
        self._draw()

    def close(self) -> None:
        self._clear()

    def _eta(self) -> str:
        if not self.done:
            return "--"
        remaining = (time.monotonic() - self.started) / self.done * (self.total - self.done)
        minutes, seconds = divmod(int(remaining), 60)
        return f"{minutes}:{seconds:02d}"

    def _draw(self) -> None:
        if not self.live or self.total == 0:
            return
        filled = int(BAR_WIDTH * self.done / self.total)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total}  eta {self._eta()}")
        self.stream.flush()

    def _clear(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()
