"""Progress for a sweep: a line per finished point, a live bar when on a terminal, and
the epochs of points that are still running.

On a terminal the bar's line shows the latest epoch of a running point. Elsewhere (a
log file, CI) nothing is redrawn, so a point that trains for long gets a line every
``HEARTBEAT_SECONDS``, and a quick sweep's output stays one line per point.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, Mapping, TextIO

import click

from seqbench.printable import printable

__all__ = ["Progress", "HEARTBEAT_SECONDS"]

BAR_WIDTH = 28
HEARTBEAT_SECONDS = 30.0


def describe_epoch(epoch: Mapping[str, Any]) -> str:
    """``epoch 3/20  val mse=0.1688  1:17`` from a point's progress report."""
    text = f"epoch {epoch.get('epoch')}/{epoch.get('epochs')}"
    value = epoch.get("value")
    if isinstance(value, (int, float)):
        text += f"  val {epoch.get('metric')}={value:.4g}"
    seconds = epoch.get("seconds")
    if isinstance(seconds, (int, float)):
        minutes, rest = divmod(int(seconds), 60)
        text += f"  {minutes}:{rest:02d}"
    return text


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self._latest: tuple[str, str] | None = None  # (label, status) last heard, for the bar
        self._printed: dict[str, float] = {}  # when each running point last had a line
        self._draw()

    def epoch(self, label: str, epoch: Mapping[str, Any]) -> None:
        """A running point (``label``) finished an epoch."""
        # The metric's name comes from a plugin: printed safely, as the label is.
        status = printable(f"{label}: {describe_epoch(epoch)}")
        if self.live:
            self._latest = (label, status)
            self._clear()
            self._draw()
            return
        now = time.monotonic()
        last = self._printed.get(label)
        seconds = epoch.get("seconds")
        long_running = isinstance(seconds, (int, float)) and seconds >= HEARTBEAT_SECONDS
        if long_running and (last is None or now - last >= HEARTBEAT_SECONDS):
            self._printed[label] = now
            click.echo(f"  ... {status}", file=self.stream)

    def finished(self, line: str, ok: bool, label: str | None = None) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        self._printed.pop(label or "", None)
        if self._latest is not None and self._latest[0] == label:
            self._latest = None
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
        line = f"[{bar}] {self.done}/{self.total}  eta {self._eta()}"
        if self._latest:
            line += f"  | {self._latest[1]}"
        # One terminal row, or the carriage return could not redraw it.
        self.stream.write("\r" + line[: shutil.get_terminal_size().columns - 1])
        self.stream.flush()

    def _clear(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()
