"""How long the points of a sweep should take, from the store's own timings of similar
points: the same task, model, length and smoke flag, run before (in any suite).

The live bar's ETA adds these up for the points still to run, so a 0.2 s oracle point
does not count like a 100 s torch point; a point with nothing similar stored counts
at the sweep's current mean.
"""

from __future__ import annotations

import json
import math
import sqlite3
import statistics
from typing import Any, Hashable

from seqbench import registry
from seqbench.errors import UserError
from seqbench.point import Point

__all__ = ["expected_seconds"]


def _length_param(task: str) -> str | None:
    try:
        return registry.tasks().get(task).length_param
    except UserError:  # a task whose plugin is gone: its runs are like nothing here
        return None


def _key(task: str, model: str, params: dict[str, Any], smoke: Any) -> Hashable:
    length = _length_param(task)
    value = params.get(length) if length and isinstance(params, dict) else None
    return (task, model, json.dumps(value), bool(smoke))


def expected_seconds(connection: sqlite3.Connection, points: list[Point]) -> dict[str, float]:
    """Point hash -> the median wall seconds (``time.total_s``) of the store's succeeded
    runs of similar points; points with none are left out. A store that cannot be read
    gives none: an ETA is never worth stopping a sweep for (writing will say what is
    wrong)."""
    wanted = {_key(p.task, p.model, p.task_params, p.run.smoke) for p in points}
    tasks = sorted({p.task for p in points})
    try:
        # Parsed here, not by SQLite's JSON: Python's json wrote them, Infinity included.
        rows = connection.execute(
            "SELECT task, model, config, timings FROM runs WHERE status = 'ok' "
            f"AND task IN ({', '.join('?' * len(tasks))})", tasks).fetchall()
    except sqlite3.Error:
        return {}
    seconds: dict[Hashable, list[float]] = {}
    for task, model, config_text, timings_text in rows:
        try:
            config, timings = json.loads(config_text), json.loads(timings_text)
        except (TypeError, ValueError, RecursionError):
            continue
        total = timings.get("total_s") if isinstance(timings, dict) else None
        # A store's figure is input: true/false, infinity, NaN or a negative time is
        # no duration (an infinite one broke the progress bar's clock).
        if (not isinstance(total, (int, float)) or isinstance(total, bool) or not math.isfinite(total)
                or total < 0 or not isinstance(config, dict)):
            continue
        run, task_config = config.get("run"), config.get("task")
        if not isinstance(run, dict) or not isinstance(task_config, dict):
            continue
        key = _key(task, model, task_config.get("params", {}), run.get("smoke"))
        if key in wanted:
            seconds.setdefault(key, []).append(float(total))
    expected = {}
    for point in points:
        found = seconds.get(_key(point.task, point.model, point.task_params, point.run.smoke))
        if found:
            expected[point.hash] = statistics.median(found)
    return expected
