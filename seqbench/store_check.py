"""What a store file may hold before seqbench reads or writes it.

A results store is input like a suite file: another person's, a colleague's bundle, a
hand-edited or hostile one. SQLite keeps code in the file as well as data (triggers
that run on seqbench's writes, views that run on its reads, CHECK and index
expressions), and its columns hold any type whatever their declaration. So, beside
``store.check_identity`` (is it a seqbench store at all):

- ``check_structure``: the file holds seqbench's tables exactly as seqbench creates
  them (the tables a store predates may be missing), no trigger, view or virtual table
  anywhere, no index on its tables that computes anything, and no other table whose
  foreign key points into them. Checked on every open, to read or to write, before
  anything else is done; the schema table is small.
- ``check_values``: every value of the tables a command reads has the type seqbench
  writes (text names, integer seeds and epochs, numbers or nothing for values, ``ok``
  or ``failed``, JSON objects), by one SQL scan per table, once per version of the file
  in a process: ``results`` before reading (runs, curves, per-length and per-position
  metrics), ``Store`` before writing (claims, which ``seqbench run`` reads).
- ``document``: a JSON column parsed as the object it must be, however malformed,
  deep or mis-shaped the text is.

Each refusal is a UserError naming the file, the table, the row and what is wrong.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from seqbench.errors import UserError
from seqbench.printable import printable

__all__ = ["harden", "check_structure", "check_values", "described", "document", "folded", "OPTIONAL_TABLES",
           "READ_TABLES", "beyond_float", "fits_float", "within_float_range"]

# Tables later versions added (IF NOT EXISTS makes them on the first write).
OPTIONAL_TABLES = frozenset({"curves", "length_metrics", "position_metrics", "claims"})
_SHOWN = 40  # characters of an offending value quoted in a message

TEXT = "typeof({c}) = 'text'"
TEXT_OR_NULL = "typeof({c}) IN ('text', 'null')"
INTEGER = "typeof({c}) = 'integer'"
NUMBER_OR_NULL = "typeof({c}) IN ('real', 'integer', 'null')"
# JSON text of an object, as json.dumps writes it; whether it parses is seen when it is
# read (``document``): parsing every document here would cost as much as reading them.
OBJECT = "typeof({c}) = 'text' AND substr({c}, 1, 1) = '{{'"
# Per table: (column, rule, what the column must hold). A rule is SQL that is true for
# a good value and never NULL.
RULES: dict[str, list[tuple[str, str, str]]] = {
    "runs": [
        ("suite", TEXT, "text"), ("point", TEXT, "text"), ("task", TEXT, "text"), ("model", TEXT, "text"),
        ("status", "coalesce({c} IN ('ok', 'failed'), 0)", "'ok' or 'failed'"),
        ("seed", INTEGER, "an integer"),
        ("primary_metric", TEXT_OR_NULL, "text or nothing"),
        ("direction", "coalesce({c} IN ('min', 'max'), {c} IS NULL)", "'min', 'max' or nothing"),
        ("primary_value", NUMBER_OR_NULL, "a number or nothing"),
        ("error", TEXT_OR_NULL, "text or nothing"), ("traceback", TEXT_OR_NULL, "text or nothing"),
        *((name, OBJECT, "a JSON object") for name in ("config", "metrics", "timings", "measurements", "provenance")),
        ("started_at", TEXT_OR_NULL, "text or nothing"), ("finished_at", TEXT_OR_NULL, "text or nothing"),
        ("recorded_at", TEXT, "text"),
    ],
    "curves": [("run_id", INTEGER, "an integer"), ("epoch", INTEGER, "an integer"), ("name", TEXT, "text"),
               ("value", NUMBER_OR_NULL, "a number or nothing")],
    "length_metrics": [("run_id", INTEGER, "an integer"), ("length", INTEGER, "an integer"),
                       ("name", TEXT, "text"), ("value", NUMBER_OR_NULL, "a number or nothing"),
                       ("error", TEXT_OR_NULL, "text or nothing")],
    "position_metrics": [("run_id", INTEGER, "an integer"), ("name", TEXT, "text"),
                         ("position", INTEGER, "an integer"), ("value", NUMBER_OR_NULL, "a number or nothing")],
    # Read by ``seqbench run`` (seqbench.claims), never by a report.
    "claims": [("suite", TEXT, "text"), ("point", TEXT, "text"), ("owner", TEXT, "text"),
               ("pid", INTEGER, "an integer"), ("host", TEXT, "text"), ("started_at", TEXT, "text"),
               ("lease_until", "typeof({c}) IN ('real', 'integer')", "a number")],
}
READ_TABLES = ("runs", "curves", "length_metrics", "position_metrics")  # what reading a store reads


def harden(connection: sqlite3.Connection) -> None:
    """Settings for a connection to a file seqbench did not necessarily make: functions
    named in its schema (views, triggers, CHECK, DEFAULT, index expressions) limited to
    harmless ones, and SQLite's defensive mode where this Python can set it."""
    connection.execute("PRAGMA trusted_schema = OFF")
    setconfig = getattr(connection, "setconfig", None)  # Python 3.12+
    defensive = getattr(sqlite3, "SQLITE_DBCONFIG_DEFENSIVE", None)
    if setconfig is not None and defensive is not None:
        setconfig(defensive, True)


def _normal(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip()


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def folded(name: str) -> str:
    """A name as SQLite compares it: ASCII letters without case (``CLAIMS`` is the table
    ``claims``: ``CREATE TABLE IF NOT EXISTS claims`` keeps it, and seqbench's reads
    and writes use it), other characters as they are."""
    return name.translate(_ASCII_LOWER)


def _reference(schema: str) -> dict[str, tuple[str, str]]:
    """name (folded) -> (type, SQL) of what ``schema`` creates, as SQLite records it."""
    memory = sqlite3.connect(":memory:")
    try:
        memory.executescript(schema)
        return {folded(name): (kind, _normal(sql)) for kind, name, sql in
                memory.execute("SELECT type, name, sql FROM sqlite_master")}
    finally:
        memory.close()


_REFERENCES: dict[str, dict[str, tuple[str, str]]] = {}


def check_structure(connection: sqlite3.Connection, path: Path, schema: str) -> None:
    """Refuse a seqbench store whose schema is not seqbench's ``schema`` (module
    docstring); reads the schema table only."""
    if schema not in _REFERENCES:
        _REFERENCES[schema] = _reference(schema)
    reference = _REFERENCES[schema]
    ours = {name for name, (kind, _) in reference.items() if kind == "table"}
    rows = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    for kind, name, table, sql in rows:
        what = f"{kind} {_shown_name(name)}"
        if kind in ("trigger", "view"):
            raise UserError(f"{path}: not a seqbench results store as seqbench writes it: it holds a {what} "
                            "(seqbench stores hold none; it would run inside seqbench's reads or writes); "
                            "left untouched")
        if kind == "table" and _normal(sql).upper().startswith("CREATE VIRTUAL TABLE"):
            raise UserError(f"{path}: not a seqbench results store as seqbench writes it: it holds a virtual "
                            f"{what}; left untouched")
        # Every name compared as SQLite compares it: a table ``CLAIMS`` is seqbench's
        # claims table to SQLite, and was checked as nobody's (its values unchecked,
        # its foreign keys and CHECKs run inside seqbench's writes).
        if folded(name) in reference:
            # The name as well as the SQL: a schema edited in place (writable_schema)
            # can pair seqbench's CREATE statement with another spelling of its name.
            if (kind, _normal(sql)) != reference[folded(name)] or name != folded(name):
                raise UserError(f"{path}: not a seqbench results store as seqbench writes it: its {what} is "
                                "defined otherwise than seqbench defines it (changed columns or constraints); "
                                "left untouched")
        elif kind == "index" and folded(table) in ours:
            _check_index(connection, path, name, table)
        elif kind == "table":
            for foreign in connection.execute(f"PRAGMA foreign_key_list({_quoted(name)})"):
                if folded(foreign[2]) in ours:
                    raise UserError(f"{path}: not a seqbench results store as seqbench writes it: its table "
                                    f"{_shown_name(name)} has a foreign key into {foreign[2]}; left untouched")
    present = {folded(name) for kind, name, _, _ in rows if kind == "table"}
    for name in sorted(ours - OPTIONAL_TABLES - present):
        raise UserError(f"{path}: not a seqbench results store as seqbench writes it: no table {name}; "
                        "left untouched")


def _shown_name(name: str) -> str:
    """A name from the file, for a message: quoted, escaped, at most _SHOWN characters."""
    return printable(repr(name[:_SHOWN]) + ("..." if len(name) > _SHOWN else ""))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_index(connection: sqlite3.Connection, path: Path, name: str, table: str) -> None:
    """An index someone added to a seqbench table: kept when it only orders columns
    (it runs nothing); refused when it computes an expression or is partial."""
    partial = any(row[1] == name and row[4] for row in connection.execute(f"PRAGMA index_list({_quoted(table)})"))
    expression = any(row[1] == -2 for row in connection.execute(f"PRAGMA index_xinfo({_quoted(name)})"))
    if partial or expression:
        raise UserError(f"{path}: not a seqbench results store as seqbench writes it: its index "
                        f"{_shown_name(name)} on {table} computes an expression; left untouched")


# (resolved path, the file's and its WAL's size, time and inode, table) of tables whose
# values passed: a report opens a store many times, and the scan is paid once.
_CHECKED: set[tuple[Any, ...]] = set()


def _version(path: Path) -> tuple[Any, ...]:
    resolved = path.resolve()
    signature: list[Any] = [str(resolved)]
    for file in (resolved, Path(f"{resolved}-wal")):
        try:
            status = os.stat(file)
            signature += [status.st_size, status.st_mtime_ns, status.st_ino]
        except OSError:
            signature.append(None)
    return tuple(signature)


def check_values(connection: sqlite3.Connection, path: Path, tables: Iterable[str] = READ_TABLES) -> None:
    """Refuse a store holding, in ``tables``, a value of a type seqbench never writes
    (module docstring). One scan per table, skipped for a table that passed in a file
    unchanged since."""
    version = _version(path)
    present = {folded(name) for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in tables:
        if table not in present or (*version, table) in _CHECKED:
            continue
        rules = RULES[table]
        failing = " OR ".join(f"NOT ({rule.format(c=column)})" for column, rule, _ in rules)
        row = connection.execute(
            f"SELECT rowid, {', '.join(rule.format(c=column) for column, rule, _ in rules)}, "
            f"{', '.join(column for column, _, _ in rules)} FROM {table} WHERE {failing} LIMIT 1").fetchone()
        if row is not None:
            passed, values = row[1:1 + len(rules)], row[1 + len(rules):]
            index = next(i for i, ok in enumerate(passed) if not ok)
            column, _, wanted = rules[index]
            raise UserError(f"{path}: a damaged or edited results store: {table} row {row[0]}: {column} is "
                            f"{described(values[index])}, where seqbench writes {wanted}; left untouched")
        _CHECKED.add((*version, table))


def described(value: Any) -> str:
    if value is None:
        return "missing (NULL)"
    if isinstance(value, bytes):
        return f"a blob of {len(value)} bytes"
    text = repr(value)
    kind = {str: "text", int: "the integer", float: "the number"}.get(type(value), type(value).__name__)
    return f"{kind} {printable(text[:_SHOWN])}{'...' if len(text) > _SHOWN else ''}"


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class _BeyondFloat(Exception):
    def __init__(self, digits: str) -> None:
        self.digits = digits


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with each key once: SQLite's JSON functions read the first of a
    repeated key, Python's parser the last, so the table and the exports would show two
    values for one figure."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
    return value


def fits_float(number: int) -> bool:
    """Whether a float can hold ``number``: one it cannot (10**400) SQLite's JSON
    functions read as infinity and Python's parser as the exact integer."""
    try:
        float(number)
    except OverflowError:
        return False
    return True


def _float_range_int(digits: str) -> int:
    """An integer of a document: one no float can hold is refused (``fits_float``)."""
    number = int(digits)
    if not fits_float(number):
        raise _BeyondFloat(digits.lstrip("-"))
    return number


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)
# The shortest integer beyond float range has 309 digits.
_LONG_DIGITS = re.compile(r"[0-9]{309}")


def beyond_float(path: Path | str, where: str, column: str, number: int) -> UserError:
    """The refusal of an integer no float can hold, found in ``column`` at ``where``."""
    digits = str(abs(number))
    return UserError(f"{path}: a damaged or edited results store: {where}: {column} holds the integer "
                     f"{digits[:12]}... ({len(digits)} digits), beyond any floating-point number, where "
                     "seqbench writes numbers within float range; left untouched")


def within_float_range(text: Any, path: Path | str, table: str, row: Any, column: str) -> None:
    """Refuse JSON text holding an integer beyond float range (10**400): SQLite's JSON
    functions read it as infinity, Python's parser as the exact integer. Only a text
    holding a run of 309 digits is parsed to tell (a search, not a parse: it is made
    where SQLite read an infinity, and for a configuration's distinct parts)."""
    if not isinstance(text, str) or not _LONG_DIGITS.search(text):
        return
    try:
        json.loads(text, parse_int=_float_range_int)
    except _BeyondFloat as huge:
        raise beyond_float(path, f"{table} row {row}" if row is not None else table, column,
                           int(huge.digits)) from None
    except (ValueError, RecursionError):
        return  # not JSON: ``document`` says so


def document(text: Any, path: Path | str, table: str, row: Any, column: str) -> dict[str, Any]:
    """The JSON object a store's ``column`` holds (``row``: its run id, None when the
    text stands for several rows), or a UserError saying what the text is instead: not
    JSON, nested too deep to read, JSON of another shape, or an object giving one key
    twice. JSON ``Infinity`` and ``NaN``, which earlier versions wrote, are read.
    (An integer beyond float range: ``within_float_range``.)"""
    where = f"{table} row {row}" if row is not None else table
    try:
        value = _DECODER.decode(text) if isinstance(text, str) else json.loads(text)
    except _Repeated as repeated:
        raise UserError(f"{path}: a damaged or edited results store: {where}: {column} gives the key "
                        f"{printable(repr(repeated.key[:_SHOWN]))} twice (one reader would take the first, "
                        "another the last), where seqbench writes each key once; left untouched") from None
    except (TypeError, ValueError, RecursionError) as error:
        reason = "nested too deeply to read" if isinstance(error, RecursionError) else "not JSON"
        raise UserError(f"{path}: a damaged or edited results store: {where}: {column} is {reason}, "
                        "where seqbench writes a JSON object; left untouched") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: a damaged or edited results store: {where}: {column} is a JSON "
                        f"{type(value).__name__}, where seqbench writes a JSON object; left untouched")
    return value
