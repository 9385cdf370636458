"""Progress for a sweep: a line per finished point, a live bar when on a terminal, and
the epochs of points that are still running.

On a terminal the bar's line shows the latest epoch of a running point. Elsewhere (a
log file, CI) nothing is redrawn, so a point that trains for long gets a line every
``HEARTBEAT_SECONDS``, and a quick sweep's output stays one line per point.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from typing import Any, Mapping, TextIO

import click

from seqbench.printable import printable

__all__ = ["Progress", "HEARTBEAT_SECONDS", "fit_bar"]

BAR_WIDTH = 28
MIN_BAR_WIDTH = 8
MIN_LABEL = 12  # a label shorter than this says too little: the bar gives way first
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


def _shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 3, 0)] + "..." if width > 3 else ""


def fit_bar(columns: int, done: int, total: int, eta: str, label: str | None, status: str | None) -> str:
    """The live bar's line in ``columns - 1`` characters (one row, so a carriage return
    redraws it). The epoch, metric and clock (``status``) stay whole: the running
    point's label is shortened first (down to MIN_LABEL characters), then the bar
    narrows and goes, then the label, then the counts and ETA."""
    room = columns - 1
    counts = f"{done}/{total}  eta {eta}"

    def bar(width: int) -> str:
        filled = int(width * done / total) if total else 0
        return "[" + "#" * filled + "-" * (width - filled) + "] "

    if status is None:
        widths = range(BAR_WIDTH, MIN_BAR_WIDTH - 1, -1)
        return next((bar(w) + counts for w in widths if len(bar(w) + counts) <= room), counts[:room])
    label = label or ""
    for width in (*range(BAR_WIDTH, MIN_BAR_WIDTH - 1, -1), 0):
        head = (bar(width) if width else "") + counts + "  | "
        space = room - len(head) - len(": ") - len(status)
        # Beside the bar a label keeps MIN_LABEL characters; without it, a few will do.
        if label and space >= min(len(label), MIN_LABEL if width else 6):
            return head + _shorten(label, space) + ": " + status
    for line in (counts + "  | " + status, status):
        if len(line) <= room:
            return line
    return status[:room]


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None,
                 expected: Mapping[str, float | None] | None = None, parallel: int = 1) -> None:
        """``expected``: each point's label -> the seconds similar points took before
        (seqbench.eta), None where nothing similar is stored; ``parallel``: points run at
        once."""
        self.total = total
        self._expected = dict(expected or {})  # the points still to finish
        self._parallel = max(parallel, 1)
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
            self._latest = (label, describe_epoch(epoch))
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
        self._expected.pop(label or "", None)
        if self._latest is not None and self._latest[0] == label:
            self._latest = None
        self._clear()
        width = len(str(self.total))
        click.echo(f"[{self.done:>{width}}/{self.total}] {line}", file=self.stream)
        self._draw()

    def close(self) -> None:
        self._clear()

    def _eta(self) -> str:
        """The stored seconds of the points still to run where known, the current mean
        per point for the rest; ``--`` while some are unknown and none has finished."""
        left = self.total - self.done
        known = [s for s in self._expected.values() if s is not None][:left]
        unknown = left - len(known)
        if unknown and not self.done:
            return "--"
        mean = (time.monotonic() - self.started) / self.done if self.done else 0.0
        remaining = sum(known) / self._parallel + unknown * mean
        if not math.isfinite(remaining):
            return "--"
        minutes, seconds = divmod(int(remaining), 60)
        return f"{minutes}:{seconds:02d}"

    def _draw(self) -> None:
        if not self.live or self.total == 0:
            return
        label, status = self._latest if self._latest else (None, None)
        line = fit_bar(shutil.get_terminal_size().columns, self.done, self.total, self._eta(), label, status)
        self.stream.write("\r" + line)
        self.stream.flush()

    def _clear(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()
