"""``seqbench run --benchmark-json FILE``: the suites' results in pytest-benchmark's JSON
format, so ``pytest-benchmark compare`` can put two runs side by side.

One benchmark per point and phase (``total``, ``data``, ``train``, ``eval``): its
rounds are the point's seeds and each value is that phase's wall seconds. Groups are
``<suite> <phase>``; names are the point's label without its seed. ``extra_info``
carries the metrics per seed, seqbench's and the plugins' versions, and the run's
provenance. Written from the store, so it holds every succeeded point of the suites,
those run before (skipped by --resume) included.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from bisect import bisect_left, bisect_right
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from seqbench.errors import UserError
from seqbench.point import Point, config_hash
from seqbench.results import StoredRecord, load_records
from seqbench.suite import Suite

__all__ = ["write_benchmark_json", "benchmark_document", "stats", "PHASES"]

PHASES = ("total", "data", "train", "eval")


def _quartiles(data: list[float]) -> tuple[float, float]:
    """Q1 and Q3 as pytest-benchmark computes them (Wikipedia's methods 3 and 2)."""
    ordered, rounds = sorted(data), len(data)
    if rounds == 1:
        return ordered[0], ordered[0]
    if rounds % 2:
        n, q = rounds // 4, rounds % 4
        if q == 1:
            return (0.25 * ordered[n - 1] + 0.75 * ordered[n],
                    0.75 * ordered[3 * n] + 0.25 * ordered[3 * n + 1])
        return (0.75 * ordered[n] + 0.25 * ordered[n + 1],
                0.25 * ordered[3 * n + 1] + 0.75 * ordered[3 * n + 2])
    return statistics.median(ordered[: rounds // 2]), statistics.median(ordered[rounds // 2 :])


def stats(data: list[float]) -> dict[str, Any]:
    """pytest-benchmark's ``Stats.as_dict()`` for ``data`` (one value per round), plus
    the data and one iteration per round."""
    ordered, rounds, total = sorted(data), len(data), sum(data)
    mean = statistics.mean(data)
    stddev = statistics.stdev(data) if rounds > 1 else 0
    q1, q3 = _quartiles(data)
    iqr = q3 - q1
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    stddev_outliers = sum(1 for v in data if v < mean - stddev or v > mean + stddev)
    iqr_outliers = sum(1 for v in data if v < low_fence or v > high_fence)
    return {
        "min": ordered[0],
        "max": ordered[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": rounds,
        "median": statistics.median(data),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": ordered[0] if rounds == 1 else ordered[bisect_left(ordered, low_fence)],
        "hd15iqr": ordered[0] if rounds == 1 else ordered[bisect_right(ordered, high_fence) - 1],
        "ops": rounds / total if total else 0,
        "total": total,
        "data": list(data),
        "iterations": 1,
    }


def _succeeded_runs(store: Path, suite: str) -> dict[str, StoredRecord]:
    """The suite's succeeded records by point hash; none when nothing was stored yet."""
    if not store.is_file():
        return {}
    return {stored.record.point: stored for stored in load_records(store, suite, status="ok", details=False)}


def _benchmarks(suite: Suite, runs: dict[str, StoredRecord]) -> Iterable[dict[str, Any]]:
    by_setting: dict[str, list[Point]] = {}
    for point in suite.points:
        if point.hash in runs:
            setting = {key: value for key, value in point.config().items() if key != "seed"}
            by_setting.setdefault(config_hash(setting), []).append(point)
    for points in by_setting.values():
        points.sort(key=lambda p: p.seed)
        first = points[0]
        label = first.label().rsplit(" seed=", 1)[0]
        found = [runs[p.hash] for p in points]
        provenance = found[0].provenance
        params = {
            "task": first.task,
            **{f"task.{k}": v for k, v in first.task_params.items()},
            "model": first.model,
            **{f"model.{k}": v for k, v in first.model_params.items()},
            **{key: first.value(key) for key in first.swept if key.startswith("run.")},
        }
        for phase in PHASES:
            given = [run.record.timings.get(f"{phase}_s") for run in found]
            seconds: list[float] = [s for s in given if isinstance(s, (int, float)) and math.isfinite(s)]
            if len(seconds) < len(given):  # a seed without this phase's time
                continue
            yield {
                "group": f"{suite.name} {phase}",
                "name": label,
                "fullname": f"{suite.name}::{phase}::{label}",
                "params": {"phase": phase, **params},
                "param": label,
                "extra_info": {
                    "unit": f"wall seconds of the {phase} phase, one round per seed",
                    "suite": suite.name,
                    "suite_file": str(suite.path),
                    "seeds": [p.seed for p in points],
                    "points": [p.hash for p in points],
                    "metrics": {str(p.seed): run.record.metrics for p, run in zip(points, found)},
                    "timings": {str(p.seed): run.record.timings for p, run in zip(points, found)},
                    "seqbench": provenance.get("seqbench"),
                    "plugins": provenance.get("plugins"),
                    "provenance": provenance,
                },
                "options": {"timer": "seqbench pipeline phase clock (perf_counter, device synchronised)"},
                "stats": stats(seconds),
            }


def benchmark_document(suites: list[Suite], store: Path) -> dict[str, Any]:
    """The pytest-benchmark JSON document for ``suites``' succeeded points in ``store``."""
    from seqbench import __version__

    benchmarks = [b for suite in suites for b in _benchmarks(suite, _succeeded_runs(store, suite.name))]
    provenance = benchmarks[0]["extra_info"]["provenance"] if benchmarks else {}
    return {
        "machine_info": {
            "node": provenance.get("host", platform.node()),
            "processor": provenance.get("cpu", platform.processor()),
            "machine": platform.machine(),
            "python_implementation": platform.python_implementation(),
            "python_version": provenance.get("python", platform.python_version()),
            "release": platform.release(),
            "system": platform.system(),
            "cpu": {"brand_raw": provenance.get("cpu"), "count": provenance.get("cpu_count")},
            "gpus": provenance.get("gpus"),
        },
        "commit_info": {
            "id": provenance.get("git_commit") or "unversioned",
            "time": None,
            "author_time": None,
            "dirty": None,
            "project": "seqbench",
            "branch": None,
        },
        "benchmarks": benchmarks,
        "datetime": datetime.now(timezone.utc).isoformat(),
        "version": f"seqbench {__version__}",
    }


def check_writable(path: Path) -> None:
    """Refuse, before anything runs, a ``path`` the file could not be written to."""
    folder = path.parent
    try:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            reason = f"{folder} is not a folder"
        elif not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            reason = "permission denied"
        else:
            return
    except OSError as error:  # a name longer than the file system allows
        reason = error.strerror or str(error)
    raise UserError(f"--benchmark-json: cannot write {path} ({reason})")


def write_benchmark_json(path: Path, suites: list[Suite], store: Path) -> int:
    """Write the document to ``path`` (atomically); returns how many benchmarks it holds."""
    document = benchmark_document(suites, store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(document, indent=2, default=str))
        partial.replace(path)
    except OSError as error:
        raise UserError(f"--benchmark-json: cannot write {path} ({error.strerror or error})") from None
    return len(document["benchmarks"])


def write_for_run(path: Path, suite_paths: list[Path], store: Path, smoke: bool, device: str | None) -> int:
    """After ``seqbench run``: the same suites, resolved as the run resolved them."""
    from seqbench.suite import load_suite

    suites = [load_suite(p, smoke=smoke, device=device) for p in suite_paths]
    return write_benchmark_json(path, suites, store)
