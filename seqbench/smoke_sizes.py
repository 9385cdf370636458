"""What ``--smoke`` does to a suite's sizes without collapsing what it sweeps.

A task or model's ``smoke`` overrides and the run-size caps (``SMOKE_LIMITS``) shrink
every point; applied to a swept axis as they are, they would make every value of the
axis the same one (a T sweep of 10, 50, 100 under a smoke length of 5 ran three times
at T = 5, stored once). So a swept axis is shrunk as a whole and keeps its shape:

- an override (the task's or model's smoke size) becomes the axis' smallest value and
  the other values keep their ratio to it: 10, 50, 100 at a smoke length of 5 run at
  5, 25, 50;
- a cap (at most this many epochs, examples or batch) becomes the axis' largest value
  when that is over the cap, the others keeping their ratio: batch sizes 256, 512, 1024
  under a cap of 64 run at 16, 32, 64.

Where the shrunk values would not stay distinct whole numbers (a non-numeric axis, a
ratio that rounds two values together), the axis runs at its values as written.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["shrink_axis", "SMOKE_SUFFIX", "smoke_name", "is_smoke_name"]

# Smoke runs are stored under the suite's name with this suffix, so they are never
# mistaken for (or resumed as) the suite's full-size runs.
SMOKE_SUFFIX = " [smoke]"


def smoke_name(suite: str) -> str:
    return suite + SMOKE_SUFFIX


def is_smoke_name(suite: str) -> bool:
    return suite.endswith(SMOKE_SUFFIX)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def shrink_axis(values: Sequence[Any], size: Any, *, cap: bool) -> list[Any]:
    """The values a swept axis runs at under ``--smoke``, in the axis' order.

    ``size`` is the smoke override (``cap`` False) or the cap (``cap`` True)."""
    values = list(values)
    if not (_whole(size) and size > 0 and values and all(_whole(v) and v > 0 for v in values)):
        return values
    anchor = max(values) if cap else min(values)
    if cap and anchor <= size:
        return values  # already within the cap
    if not cap and anchor <= size:
        return values  # the axis already starts at or below the smoke size
    shrunk = [max(1, round(value * size / anchor)) for value in values]
    if len(set(shrunk)) != len(set(values)):
        return values
    return shrunk
