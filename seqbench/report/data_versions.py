"""Whether the result sets a report shows were made from the same task data. A task
whose data a fix changed declares a new ``data_version()``; its new points have a new
identity, so a suite file marks the old ones stale. A report can still put both side by
side — ``--compare`` with a store kept from before the fix, or ``--include-stale`` —
and then rows with the same settings would compare, or average, results on different
data without a word. These notes say so."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from seqbench.printable import printable
from seqbench.read_connection import open_store

if TYPE_CHECKING:
    from seqbench.report.set_ref import SetRef

__all__ = ["task_versions", "data_version_notes"]

Versions = dict[str, set[int | None]]


def task_versions(ref: "SetRef") -> Versions:
    """Each task of ``ref``'s shown points, and the data versions its runs were made with
    (None: a task that declares none, or a point stored before data versions existed)."""
    connection = open_store(ref.store)
    try:
        # Only configurations that name a data version are parsed (parsing every one
        # took a tenth of a 100,000-run store's report).
        rows = connection.execute(
            "SELECT point, task, CASE WHEN instr(config, '\"data_version\"') "
            "THEN json_extract(config, '$.task.data_version') END FROM runs WHERE suite = ?",
            (ref.suite,)).fetchall()
    except sqlite3.OperationalError:
        # A configuration SQLite's JSON cannot read (Infinity, written by Python's
        # json): read them in Python, as results.load does.
        rows = [(point, task, _version_in(text)) for point, task, text in connection.execute(
            "SELECT point, task, config FROM runs WHERE suite = ?", (ref.suite,))]
    finally:
        connection.close()
    found: Versions = {}
    for point, task, version in rows:
        if point in ref.stale:
            continue
        found.setdefault(str(task), set()).add(version if isinstance(version, int) else None)
    return found


def _version_in(text: str) -> int | None:
    try:
        version = json.loads(text)["task"].get("data_version")
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
        return None
    return version if isinstance(version, int) else None


def _named(versions: set[int | None]) -> str:
    return " and ".join("none" if v is None else str(v) for v in sorted(versions, key=lambda v: -1 if v is None else v))


def data_version_notes(group: "list[SetRef]") -> list[str]:
    """A line for each task whose runs in ``group`` (one set, or the two of
    ``--compare``) were made from more than one version of its data."""
    per_set = [(ref.label, task_versions(ref)) for ref in group]
    notes = []
    for task in sorted({task for _, versions in per_set for task in versions}):
        seen = [(label, versions[task]) for label, versions in per_set if task in versions]
        every: set[int | None] = set().union(*(versions for _, versions in seen))
        if len(every) < 2:
            continue
        where = "; ".join(f"{printable(label)}: {_named(versions)}" for label, versions in seen)
        notes.append(f"task {printable(task)}: runs made from different versions of its data ({where}); "
                     "rows with the same settings mix results on different data")
    return notes
