"""Read a results store into tidy pandas DataFrames: one row per run, or per curve point."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqbench.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "load_curves", "load_length_metrics"]

RUN_COLUMNS = (
    "id, suite, point, status, task, model, seed, primary_metric, direction, primary_value,"
    " error, config, metrics, timings, measurements, provenance, started_at, finished_at"
)


def _open(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no results store here; run a suite first (seqbench run SUITE.toml)")
    # as_uri() percent-encodes '#', '?' and '%', which SQLite would otherwise read as
    # URI syntax, opening (and creating) some other file.
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        connection.execute("SELECT 1 FROM runs LIMIT 1")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise UserError(f"{path}: not a seqbench results store ({error})") from None
    return connection


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    else:
        into[prefix] = value


def load(path: str | Path, suite: str | None = None) -> "pd.DataFrame":
    """One row per run. Parameters appear as ``task.<p>``, ``model.<p>``, ``run.<k>``;
    results as ``metric.<m>``, ``time.<k>`` and ``meter.<meter>.<phase>.<field>``."""
    import pandas as pd

    connection = _open(path)
    try:
        query = f"SELECT {RUN_COLUMNS} FROM runs"
        rows = connection.execute(
            query + (" WHERE suite = ? ORDER BY id" if suite else " ORDER BY id"),
            (suite,) if suite else (),
        ).fetchall()
    finally:
        connection.close()
    records = []
    for (run_id, suite_name, point, status, task, model, seed, primary, direction, value,
         error, config, metrics, timings, measurements, provenance, started, finished) in rows:
        config = json.loads(config)
        row: dict[str, Any] = {
            "id": run_id, "suite": suite_name, "point": point, "status": status,
            "task": task, "model": model, "seed": seed, "primary_metric": primary,
            "direction": direction, "primary_value": value, "error": error,
        }
        _flatten("task", config["task"]["params"], row)
        _flatten("model", config["model"]["params"], row)
        _flatten("run", config["run"], row)
        _flatten("metric", json.loads(metrics), row)
        _flatten("time", json.loads(timings), row)
        _flatten("meter", json.loads(measurements), row)
        row["provenance"] = provenance
        row["started_at"], row["finished_at"] = started, finished
        records.append(row)
    return pd.DataFrame.from_records(records)


def _per_run(path: str | Path, suite: str | None, table: str, columns: list[str]) -> "pd.DataFrame":
    """Rows of a per-run table joined to their run's identity, in run order."""
    import pandas as pd

    identity = ["id", "suite", "task", "model", "seed"]
    selected = ", ".join([f"runs.{c}" for c in identity] + [f"{table}.{c}" for c in columns])
    query = f"SELECT {selected} FROM {table} JOIN runs ON runs.id = {table}.run_id"
    if suite:
        query += " WHERE runs.suite = ?"
    query += f" ORDER BY runs.id, {table}.{columns[0]}"
    connection = _open(path)
    try:
        rows = connection.execute(query, (suite,) if suite else ()).fetchall()
    finally:
        connection.close()
    return pd.DataFrame.from_records(rows, columns=identity + columns)


def load_curves(path: str | Path, suite: str | None = None) -> "pd.DataFrame":
    """One row per (run, epoch, quantity): columns id, suite, task, model, seed, epoch, name, value."""
    return _per_run(path, suite, "curves", ["epoch", "name", "value"])


def load_length_metrics(path: str | Path, suite: str | None = None) -> "pd.DataFrame":
    """Test metrics at each ``run.eval_lengths`` length: one row per (run, length, metric);
    a length the model could not handle has name "error" and the error text."""
    return _per_run(path, suite, "length_metrics", ["length", "name", "value", "error"])
