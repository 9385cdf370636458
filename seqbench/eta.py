"""How long the points of a sweep should take, from the store's own timings of similar
points: the same task, model, length and smoke flag, run before (in any suite).

The live bar's ETA adds these up for the points still to run, so a 0.2 s oracle point
does not count like a 100 s torch point; a point with nothing similar stored counts
at the sweep's current mean.
"""

from __future__ import annotations

import json
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
    value = params.get(length) if length else None
    return (task, model, json.dumps(value), bool(smoke))


def expected_seconds(connection: sqlite3.Connection, points: list[Point]) -> dict[str, float]:
    """Point hash -> the median wall seconds (``time.total_s``) of the store's succeeded
    runs of similar points; points with none are left out."""
    wanted = {_key(p.task, p.model, p.task_params, p.run.smoke) for p in points}
    tasks = sorted({p.task for p in points})
    rows = connection.execute(
        "SELECT task, model, json_extract(config, '$.task.params'), json_extract(config, '$.run.smoke'), "
        "json_extract(timings, '$.total_s') FROM runs WHERE status = 'ok' "
        f"AND task IN ({', '.join('?' * len(tasks))})", tasks)
    seconds: dict[Hashable, list[float]] = {}
    for task, model, params, smoke, total in rows:
        if not isinstance(total, (int, float)):
            continue
        key = _key(task, model, json.loads(params or "{}"), smoke)
        if key in wanted:
            seconds.setdefault(key, []).append(float(total))
    expected = {}
    for point in points:
        found = seconds.get(_key(point.task, point.model, point.task_params, point.run.smoke))
        if found:
            expected[point.hash] = statistics.median(found)
    return expected
