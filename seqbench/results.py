"""Read a results store: into tidy pandas DataFrames (one row per run, or per curve
point, evaluation length or target position), or back into the records it stored
(``load_records``)."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from seqbench.errors import UserError
from seqbench.point import config_hash
from seqbench.printable import printable
from seqbench.read_connection import open_store
from seqbench.record import LengthResult, PositionValue, Record
from seqbench.store_check import READ_TABLES, beyond_float, described, document, fits_float, within_float_range

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["connect_read_only", "load", "stored_name", "load_curves", "load_length_metrics", "load_position_metrics", "load_provenance",
           "load_records", "StoredRecord", "suites"]

IDENTITY = ("id", "suite", "point", "status", "task", "model", "seed", "primary_metric",
            "direction", "primary_value", "error")
# The parameter sections of a run's configuration, read by SQLite so that the many rows
# sharing one text (every seed of a point, every point of a model) are parsed once.
PARAMETERS = (("task", "$.task.params"), ("model", "$.model.params"), ("run", "$.run"))
RESULT_COLUMNS = {"metric": "metrics", "time": "timings", "meter": "measurements"}
VALUE_TABLES = READ_TABLES  # every table a reader may read, its values typed as seqbench writes them


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the store at ``path``, its identity checked (a missing
    file, another application's database, a damaged value in any table: a UserError).
    The caller closes it."""
    return open_store(path, VALUE_TABLES)


def _flatten(prefix: str, value: dict[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    for key, inner in value.items():
        name = f"{prefix}.{key}"
        if type(inner) is dict:
            _flatten(name, inner, into)
        else:
            into[name] = inner
    return into


def _parsed_columns(path: str | Path, prefix: str, where: str, texts: list[Any],
                    integers: bool = False) -> tuple["pd.DataFrame", Any]:
    """JSON objects, one per row, as flattened ``prefix.key`` columns; each distinct
    text is parsed once (``where``: the part of ``config`` they are, for a refusal).
    Also, per row, a number that is the same for equal objects however their text is
    written (key order, spaces)."""
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=False)
    # No such part (None, or NaN where pandas stands in for None): no columns.
    documents = [None if text is None or text != text or text == "" else
                 _number_document(text, path, f"config {where}") for text in uniques]
    parsed = [{} if value is None else _flatten(prefix, value, {}) for value in documents]
    frame = _records_frame(parsed, integers)
    canonical, _ = pd.factorize(pd.Series(
        [json.dumps(value, sort_keys=True, default=str) for value in documents], dtype=object))
    return frame.take(codes).reset_index(drop=True), canonical[codes]


def _number_document(text: Any, path: str | Path, column: str) -> dict[str, Any]:
    within_float_range(text, path, "runs", None, column)
    return document(text, path, "runs", None, column)


def _records_frame(records: list[dict[str, Any]], integers: bool) -> "pd.DataFrame":
    """``records`` as a frame; with ``integers``, a column whose values are all JSON
    integers but which some record lacks is pandas' nullable Int64, where pandas makes
    floats of it (an export would write a model's ``hidden`` as 8.0 beside a model
    without one)."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame.from_records(records, index=range(len(records)))
    if not integers:
        return frame
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind != "f" or not column.isna().any():
            continue
        present = column.dropna().to_numpy()
        if not len(present) or not np.all(np.isfinite(present)) or np.any(present != np.round(present)):
            continue  # not whole numbers (cheap first look; the values' types decide)
        values = [record.get(name) for record in records]
        if not all(value is None or type(value) is int for value in values):
            continue  # a float that happens to be whole (1.0 stays 1.0)
        try:
            frame[name] = pd.array(values, dtype="Int64")
        except (OverflowError, TypeError, ValueError):
            continue  # past 64 bits: left as it was
    return frame


def _result_path(column: str) -> tuple[str, str]:
    """``time.train_s`` -> (``timings``, ``$."train_s"``)."""
    section, _, rest = column.partition(".")
    if section not in RESULT_COLUMNS or not rest:
        raise ValueError(f"{column!r}: results are metric.<m>, time.<k> or meter.<meter>.<phase>.<field>")
    keys = "".join('."' + key.replace('"', '\\"') + '"' for key in rest.split("."))
    return RESULT_COLUMNS[section], "$" + keys


def load(
    path: str | Path, suite: str | None = None, *, results: Sequence[str] | None = None,
    integers: bool = False,
) -> "pd.DataFrame":
    """One row per run. Parameters appear as ``task.<p>``, ``model.<p>``, ``run.<k>``;
    results as ``metric.<m>``, ``time.<k>`` and ``meter.<meter>.<phase>.<field>``.

    ``results`` names the only result columns wanted (scalars; JSON true/false read as
    1/0); SQLite extracts them, which is several times faster on a large store. The
    ``provenance`` column is then left out too (see ``load_provenance``).

    ``integers``: a parameter or result that is a whole number in every run holding it,
    but missing from some, is pandas' nullable ``Int64`` (``pd.NA`` where missing), not
    floats (an export writes 8, not 8.0). Off by default: ``x == x`` is no test of a
    missing value there.
    """
    import pandas as pd

    extracted = [_result_path(column) for column in results or ()]
    selected = list(IDENTITY)
    selected += [f"json_extract(config, '{where}')" for _, where in PARAMETERS]
    selected.append(DATA_VERSION)
    if results is None:
        selected += ["metrics", "timings", "measurements", "provenance"]
    else:
        selected += [f"json_extract({source}, '{where}')" for source, where in extracted]
    selected += ["started_at", "finished_at"]
    condition = " WHERE suite = ? ORDER BY id" if suite else " ORDER BY id"
    parameters = (suite,) if suite else ()
    connection = open_store(path)
    try:
        try:
            rows = connection.execute(f"SELECT {', '.join(selected)} FROM runs{condition}", parameters).fetchall()
        except sqlite3.OperationalError as error:
            if "malformed JSON" not in str(error):
                raise
            # A store written before non-finite values were refused may hold JSON
            # ``Infinity``/``NaN``, which SQLite's JSON functions reject; Python's parser
            # reads it, so the same columns are extracted here instead.
            rows = _extracted_in_python(path, connection, condition, parameters, extracted, results is None)
    finally:
        connection.close()
    columns = list(zip(*rows)) if rows else [()] * len(selected)
    parts = [pd.DataFrame({name: columns[i] for i, name in enumerate(IDENTITY)})]
    position = len(IDENTITY)
    configurations = []
    for prefix, where in PARAMETERS:
        part, canonical = _parsed_columns(path, prefix, where, list(columns[position]), integers)
        parts.append(part)
        configurations.append(canonical)
        position += 1
    if rows:
        _check_one_run_per_configuration(path, parts[0], configurations, columns[position])
    position += 1  # the data version: part of a configuration, not a column
    if results is None:
        for prefix, column in RESULT_COLUMNS.items():
            flat = [_flatten(prefix, document(text, path, "runs", run_id, column), {})
                    for run_id, text in zip(columns[0], columns[position])]
            parts.append(_records_frame(flat, integers))
            position += 1
        parts.append(pd.DataFrame({"provenance": columns[position]}))
        position += 1
    else:
        parts.append(pd.DataFrame({name: columns[position + i] for i, name in enumerate(results)}))
        position += len(results)
    parts.append(pd.DataFrame({"started_at": columns[position], "finished_at": columns[position + 1]}))
    frame = pd.concat(parts, axis=1)
    if rows:
        # Values JSON never had (a parameter one model lacks) are NaN, as in from_records.
        for name in ("primary_value",):
            frame[name] = pd.to_numeric(frame[name])
        _check_result_types(frame, path)
        if results is not None:
            _check_infinities(path, frame, results, extracted)
    return frame


# A task's data version (seqbench.point): only configurations that name one are parsed.
DATA_VERSION = ("CASE WHEN instr(config, '\"data_version\"') "
                "THEN json_extract(config, '$.task.data_version') END")


def _check_one_run_per_configuration(path: str | Path, identity: "pd.DataFrame", configurations: list[Any],
                                     versions: Sequence[Any]) -> None:
    """Refuse a run stored under a point other than its configuration's hash beside the
    run of that configuration (seed included) in the same suite. seqbench stores a run
    under its configuration's hash, once per suite; a store edited by hand (a
    configuration changed, or stores merged) can hold a second run claiming it, which
    ``seqbench run`` never reruns and a mean over seeds would count twice. Only runs
    that share a configuration are hashed (none, in a store seqbench wrote); records
    written through ``Store`` with made-up points (tests, scripts) are left as they are."""
    import numpy as np
    import pandas as pd

    # The key, one integer per run: each part as integer codes (hashed in C), folded
    # into the codes so far (at most one per run, so the product stays small).
    named = [identity[name] for name in ("suite", "task", "model", "seed")] + [pd.Series(versions, dtype=object)]
    key = np.zeros(len(identity), dtype=np.int64)
    for codes in [pd.factorize(column, use_na_sentinel=False)[0] for column in named] + list(configurations):
        key = pd.factorize(key * (int(codes.max()) + 1) + codes)[0]
    repeated = pd.Series(key).duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    shared = identity.loc[repeated, ["id", "point"]].assign(group=key[repeated])
    ids = [int(run_id) for run_id in shared["id"]]
    connection = open_store(path)
    try:
        texts = dict(connection.execute(f"SELECT id, config FROM runs WHERE id IN ({', '.join('?' * len(ids))})",
                                        ids).fetchall())
    finally:
        connection.close()
    for _, group in shared.sort_values("id").groupby("group", sort=False):
        hashed = [run_id for run_id, point in zip(group["id"], group["point"])
                  if point == config_hash(document(texts[run_id], path, "runs", run_id, "config"))]
        if hashed:
            other = next(run_id for run_id in group["id"] if run_id != hashed[0])
            suite = str(identity.loc[identity["id"] == hashed[0], "suite"].iloc[0])
            raise UserError(
                f"{path}: a damaged or edited results store: runs row {other} holds the configuration and seed "
                f"of row {hashed[0]} in suite {printable(repr(suite[:40]))} under another point (seqbench "
                "stores each configuration once, under its hash; `seqbench run` would never rerun that point "
                "and a mean over seeds would count that seed twice); left untouched")


# What pandas calls a column of Python objects that may hold a float.
_MAY_BE_INFINITE = {"floating", "mixed-integer-float", "mixed", "decimal"}


def _check_infinities(path: str | Path, frame: "pd.DataFrame", results: Sequence[str],
                      extracted: list[tuple[str, str]]) -> None:
    """An infinite result SQLite extracted may be JSON ``1e999`` or an integer beyond
    float range, which Python reads as the exact integer: the run's document is read
    (``document``), which refuses the second, so that every view reads one value."""
    import numpy as np
    import pandas as pd

    suspects: set[tuple[int, str]] = set()
    for name, (source, _) in zip(results, extracted):
        column = frame[name]
        if column.dtype.kind == "f":
            infinite = np.isinf(column.to_numpy())
        elif column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in _MAY_BE_INFINITE:
            infinite = column.map(lambda value: type(value) is float and math.isinf(value)).to_numpy(dtype=bool)
        else:
            continue  # integers, text, nothing
        suspects.update((int(run_id), source) for run_id in frame["id"].to_numpy()[infinite])
    if not suspects:
        return
    connection = open_store(path)
    try:
        for run_id, source in sorted(suspects):
            (text,) = connection.execute(f"SELECT {source} FROM runs WHERE id = ?", (run_id,)).fetchone()
            within_float_range(text, path, "runs", run_id, source)
    finally:
        connection.close()


_NUMERIC_KINDS = {"floating", "integer", "mixed-integer-float", "boolean", "empty", "decimal"}


_MAY_BE_HUGE = {"integer", "mixed-integer", "mixed-integer-float", "mixed"}


def _check_result_types(frame: "pd.DataFrame", path: str | Path) -> None:
    """Refuse a store whose JSON results hold text where seqbench writes a number: in
    ``metrics`` and ``timings`` it writes only numbers, true/false and null; a meter's
    field that holds numbers in some runs holds no text in others. Shown as a figure
    (``'1e999'``), or met by arithmetic (a traceback in ``report``), such text would
    mislead. Only columns pandas did not type as numbers are looked at (its own type
    inference, in C)."""
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        if not name.startswith(("metric.", "time.", "meter.")) or pd.api.types.is_numeric_dtype(column):
            continue  # numbers (bool included), or a column pandas typed as such
        kind = pd.api.types.infer_dtype(column, skipna=True)
        if kind in _MAY_BE_HUGE:
            # Integers pandas could not hold as numbers: one past float range (10**400)
            # is infinity to SQLite's JSON functions and 400 digits to Python's parser.
            huge = column.map(lambda value: type(value) is int and not fits_float(value)).to_numpy(dtype=bool)
            if huge.any():
                index = int(huge.argmax())
                raise beyond_float(path, f"runs row {frame['id'].iloc[index]}", name, column.iloc[index])
        if kind in _NUMERIC_KINDS:
            continue
        texts = column.map(lambda value: isinstance(value, (str, bytes, list, dict)))
        # NaN is pandas' missing value, not a number a run holds.
        numbers = column.map(lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)
                             and value == value)
        if not texts.any() or (name.startswith("meter.") and not numbers.any()):
            continue  # no text (true/false beside numbers), or a meter's text field (a note, a method)
        index = int(texts.to_numpy().argmax())
        raise UserError(f"{path}: a damaged or edited results store: runs row {frame['id'].iloc[index]}: "
                        f"{name} is {described(column.iloc[index])}, where seqbench writes a number; "
                        "left untouched")


def _extracted_in_python(
    path: str | Path, connection: sqlite3.Connection, condition: str, parameters: tuple[str, ...],
    extracted: list[tuple[str, str]], whole: bool,
) -> list[tuple[Any, ...]]:
    """``load``'s rows, with what it asks ``json_extract`` for taken out by Python."""
    sources = ["config"] + [source for source, _ in extracted]
    query = (f"SELECT {', '.join(IDENTITY)}, {', '.join(sources)}, "
             + ("metrics, timings, measurements, provenance, " if whole else "")
             + f"started_at, finished_at FROM runs{condition}")
    rows = []
    for row in connection.execute(query, parameters):
        identity, texts, rest = row[:len(IDENTITY)], row[len(IDENTITY):len(IDENTITY) + len(sources)], \
            row[len(IDENTITY) + len(sources):]
        documents = [document(text, path, "runs", identity[0], source) for text, source in zip(texts, sources)]
        config, results = documents[0], documents[1:]
        values = [_as_extracted(_at(config, where)) for _, where in PARAMETERS]
        values.append(_as_extracted(_at(config, "$.task.data_version")))
        values += [_as_extracted(_at(document, where)) for document, (_, where) in zip(results, extracted)]
        rows.append((*identity, *values, *rest))
    return rows


def _at(document: Any, where: str) -> Any:
    """``json_extract(document, where)`` for the paths ``load`` builds (``$.a.b``, ``$."a"``)."""
    for key in re.findall(r'\.(?:"((?:[^"\\]|\\.)*)"|([^."]+))', where):
        name = key[0].replace('\\"', '"') if key[0] else key[1]
        if not isinstance(document, dict) or name not in document:
            return None
        document = document[name]
    return document


def _as_extracted(value: Any) -> Any:
    """A Python value as ``json_extract`` returns it: objects and arrays as JSON text,
    true/false as 1/0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def stored_name(typed: str, names: Iterable[str]) -> str:
    """The stored suite name ``typed`` (on a command line) means: itself, else the one
    equal to it in Unicode NFC (names are stored as their files spell them: a "café"
    typed with a decomposed accent, or pasted from a macOS file name, finds one stored
    composed, and the other way round); else ``typed``."""
    import unicodedata

    names = list(names)
    if typed in names:
        return typed
    composed = unicodedata.normalize("NFC", typed)
    return next((name for name in names if unicodedata.normalize("NFC", name) == composed), typed)


def suites(path: str | Path) -> list[str]:
    """The names of the suites a store holds, sorted."""
    connection = open_store(path)
    try:
        return [name for (name,) in connection.execute("SELECT DISTINCT suite FROM runs ORDER BY suite")]
    finally:
        connection.close()


def load_provenance(path: str | Path, suite: str | None = None) -> list[tuple[dict[str, Any], int]]:
    """Each distinct provenance of the runs (one per sweep, usually) with how many runs
    carry it, most runs first."""
    connection = open_store(path)
    try:
        query = "SELECT provenance, COUNT(*) FROM runs" + (" WHERE suite = ?" if suite else "")
        rows = connection.execute(query + " GROUP BY provenance", (suite,) if suite else ()).fetchall()
    finally:
        connection.close()
    counts: Counter[str] = Counter(dict(rows))
    return [(document(text, path, "runs", None, "provenance"), count) for text, count in counts.most_common()]


def _per_run(
    path: str | Path, suite: str | None, table: str, columns: list[str],
    names: Iterable[str] | None, identity: bool, order: Sequence[str] = (),
) -> "pd.DataFrame":
    """Rows of a per-run table joined to their run's identity, ordered by run, then by
    ``order`` (default: the first column). A table the store predates has no rows."""
    import pandas as pd

    if identity:
        ident = ["id", "suite", "task", "model", "seed"]
        selected = ", ".join([f"runs.{c}" for c in ident] + [f"{table}.{c}" for c in columns])
        query = f"SELECT {selected} FROM {table} JOIN runs ON runs.id = {table}.run_id"
    else:
        # Only the run's id: far fewer bytes to fetch from a large store.
        ident = ["id"]
        selected = ", ".join([f"{table}.run_id"] + [f"{table}.{c}" for c in columns])
        query = f"SELECT {selected} FROM {table}"
    where, parameters = [], []
    if suite:
        where.append(f"{table}.run_id IN (SELECT id FROM runs WHERE suite = ?)")
        parameters.append(suite)
    elif not identity:
        # Rows whose run was deleted where foreign keys are off (store_schema.RUN_TABLES)
        # belong to no run: the join leaves them out, and so does this.
        where.append(f"{table}.run_id IN (SELECT id FROM runs)")
    if names is not None:
        names = list(names)
        where.append(f"{table}.name IN ({', '.join('?' * len(names))})")
        parameters += names
    if where:
        query += " WHERE " + " AND ".join(where)
    query += " ORDER BY " + ", ".join(f"{table}.{c}" for c in ["run_id", *(order or columns[:1])])
    connection = open_store(path, ("runs", table))
    try:
        # Read-only: a store made before the table existed is not given it here.
        known = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        rows = connection.execute(query, parameters).fetchall() if known.fetchone() else []
    finally:
        connection.close()
    return pd.DataFrame.from_records(rows, columns=ident + columns)


def load_curves(
    path: str | Path, suite: str | None = None, names: Iterable[str] | None = None,
    identity: bool = True,
) -> "pd.DataFrame":
    """One row per (run, epoch, quantity): columns id, suite, task, model, seed, epoch,
    name, value. ``names`` keeps only those quantities (e.g. ``["train_loss"]``);
    ``identity=False`` leaves out suite, task, model and seed (faster on large stores)."""
    return _per_run(path, suite, "curves", ["epoch", "name", "value"], names, identity)


def load_length_metrics(
    path: str | Path, suite: str | None = None, names: Iterable[str] | None = None,
    identity: bool = True,
) -> "pd.DataFrame":
    """Test metrics at each ``run.eval_lengths`` length: one row per (run, length, metric);
    a length the model could not handle has name "error" and the error text. ``names``
    and ``identity`` as for ``load_curves``."""
    return _per_run(path, suite, "length_metrics", ["length", "name", "value", "error"], names, identity)


def load_position_metrics(
    path: str | Path, suite: str | None = None, names: Iterable[str] | None = None,
    identity: bool = True,
) -> "pd.DataFrame":
    """Test metrics per target position, for tasks that define ``score_positions``: one
    row per (run, metric, position), columns id, suite, task, model, seed, name,
    position (0: the first target position), value (NaN where the metric was not
    finite). ``names`` and ``identity`` as for ``load_curves``."""
    import pandas as pd

    frame = _per_run(path, suite, "position_metrics", ["name", "position", "value"], names, identity,
                     order=["name", "position"])
    frame["value"] = pd.to_numeric(frame["value"]).astype(float)
    return frame


@dataclass(frozen=True)
class StoredRecord:
    """A record as the store keeps it, with what the store added: its row id, the
    sweep's provenance and when it was written."""

    id: int
    record: Record
    provenance: dict[str, Any]
    recorded_at: str


RECORD_COLUMNS = ("id", "suite", "point", "task", "model", "seed", "config", "status", "error",
                  "traceback", "primary_metric", "direction", "metrics", "timings", "measurements",
                  "started_at", "finished_at", "provenance", "recorded_at")
JSON_COLUMNS = ("config", "metrics", "timings", "measurements", "provenance")


def load_records(
    path: str | Path, suite: str | None = None, *, status: str | None = None, details: bool = True
) -> list[StoredRecord]:
    """The stored records, in the order they were written: of one ``suite`` and one
    ``status`` (``"ok"``, ``"failed"``) when given. ``details=False`` leaves each
    record's curves, length and position metrics empty, which reads far less of a
    large store."""
    where, parameters = [], []
    if suite is not None:
        where.append("suite = ?")
        parameters.append(suite)
    if status is not None:
        where.append("status = ?")
        parameters.append(status)
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    connection = open_store(path, VALUE_TABLES if details else ("runs",))
    try:
        rows = connection.execute(
            f"SELECT {', '.join(RECORD_COLUMNS)} FROM runs{condition} ORDER BY id", parameters
        ).fetchall()
        tables = _details(connection, f"SELECT id FROM runs{condition}", parameters) if details else {}
    finally:
        connection.close()
    stored = []
    for row in rows:
        values = dict(zip(RECORD_COLUMNS, row))
        for name in JSON_COLUMNS:
            values[name] = document(values[name], path, "runs", values["id"], name)
        run_id, provenance, recorded_at = values.pop("id"), values.pop("provenance"), values.pop("recorded_at")
        values.update(tables.get(run_id, {}))
        stored.append(StoredRecord(run_id, Record.from_dict(values), provenance, recorded_at))
    return stored


def _details(connection: sqlite3.Connection, runs: str, parameters: list[Any]) -> dict[int, dict[str, Any]]:
    """Each run's curves, length metrics and position metrics, in a record's shape."""
    known = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    details: dict[int, dict[str, Any]] = {}

    def rows(table: str, columns: str, order: str) -> list[tuple[Any, ...]]:
        if table not in known:  # a store made before the table existed
            return []
        query = f"SELECT run_id, {columns} FROM {table} WHERE run_id IN ({runs}) ORDER BY run_id, {order}"
        return connection.execute(query, parameters).fetchall()

    for run_id, epoch, name, value in rows("curves", "epoch, name, value", "epoch, name"):
        curves: list[dict[str, Any]] = details.setdefault(run_id, {}).setdefault("curves", [])
        if not curves or curves[-1]["epoch"] != epoch:
            curves.append({"epoch": epoch})
        curves[-1][name] = value
    for run_id, length, name, value, error in rows("length_metrics", "length, name, value, error", "length"):
        lengths: list[LengthResult] = details.setdefault(run_id, {}).setdefault("length_metrics", [])
        if not lengths or lengths[-1]["length"] != length:
            lengths.append({"length": length})
        if name == "error":
            lengths[-1]["error"] = error
        else:
            lengths[-1].setdefault("metrics", {})[name] = value
    for run_id, name, position, value in rows("position_metrics", "name, position, value", "name, position"):
        positions: list[PositionValue] = details.setdefault(run_id, {}).setdefault("position_metrics", [])
        positions.append({"name": name, "position": position, "value": value})
    return details
