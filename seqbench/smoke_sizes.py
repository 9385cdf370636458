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

Where the ratio rounds two values together (100, 101 at a smoke length of 5), the axis
takes consecutive whole numbers instead, in its order: 5, 6 (under a cap, the cap and
the numbers below it). A non-numeric axis, or one with more values than whole numbers
fit under its cap, runs at its values as written.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any, Sequence

from seqbench.params import ParamError, coerce_params
from seqbench.settings import SMOKE_LIMITS

if TYPE_CHECKING:
    from seqbench.task import Task

__all__ = ["shrink_axis", "smoke_sweep", "SMOKE_SUFFIX", "smoke_name", "is_smoke_name", "looks_like_smoke_name"]

# Smoke runs are stored under the suite's name with this suffix, so they are never
# mistaken for (or resumed as) the suite's full-size runs.
SMOKE_SUFFIX = " [smoke]"


def smoke_name(suite: str) -> str:
    return suite + SMOKE_SUFFIX


def is_smoke_name(suite: str) -> bool:
    return suite.endswith(SMOKE_SUFFIX)


def looks_like_smoke_name(suite: str) -> bool:
    """Whether ``suite`` reads as a smoke run's name once compatibility characters are
    folded (NFKC): full-width brackets (``x ［smoke］``), an ideographic or no-break
    space. A suite file may not take such a name: it would be shown, and typed, as the
    smoke runs of another suite. (``is_smoke_name`` is the exact test stored names get.)"""
    return is_smoke_name(unicodedata.normalize("NFKC", suite))


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
    if len(set(shrunk)) == len(set(values)):
        return shrunk
    # The ratio rounds values together (100, 101 at a smoke size of 5): consecutive
    # whole numbers from the smoke size up (an override) or down to the cap, in the
    # axis' order. Running as written would run full sizes under --smoke.
    order = sorted(set(values))
    start = size if not cap else size - len(order) + 1
    if start < 1:
        return values  # more distinct values than whole numbers under the cap
    rank = {value: start + index for index, value in enumerate(order)}
    return [rank[value] for value in values]


def smoke_sweep(
    sweep: dict[str, list[Any]], task_cls: type[Task], task_values: dict[str, Any]
) -> dict[str, list[Any]]:
    """The task and run axes as ``--smoke`` runs them: shrunk as a whole, never to one
    value (seqbench.smoke_sizes). A task axis whose shrunk values do not all make a
    valid task runs as written. Model axes take the model's smoke sizes (_resolve_model)."""
    shrunk: dict[str, list[Any]] = {}
    for key, values in sweep.items():
        section, _, name = key.partition(".")
        if section == "task" and name in task_cls.smoke:
            candidate = shrink_axis(values, task_cls.smoke[name], cap=False)
            if candidate != values and not _all_valid(task_cls, task_values, name, candidate):
                candidate = values
        elif section == "run" and name in SMOKE_LIMITS:
            candidate = shrink_axis(values, SMOKE_LIMITS[name], cap=True)
        else:
            candidate = values
        shrunk[key] = candidate
    return shrunk


def _all_valid(task_cls: type[Task], values: dict[str, Any], name: str, axis: list[Any]) -> bool:
    base = {**values, **task_cls.smoke}
    for value in axis:
        try:
            task_cls(**coerce_params(task_cls, {**base, name: value}))
        except (ParamError, ValueError, TypeError):
            return False
    return True
