"""Measurements a report's reader should not take at face value, said as notes: GPU
figures that include other processes' work (``meter.nvml.<phase>.other_processes``),
and phases too short for the GPU's energy counter (``short_phase``). Each stays in the
store beside its figure; a note says how many runs it concerns, so nobody has to find
the columns first. See docs/measurement.md."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from seqbench.printable import printable

if TYPE_CHECKING:
    from seqbench.report.set_ref import SetRef

__all__ = ["measurement_notes"]

# Per run: whether any GPU phase saw other processes, whether any was too short. Only
# the types the meter writes count (a positive integer, true): in SQLite's comparisons
# text is greater than any number, and JSON true is 1.
_FLAGGED = """
SELECT runs.point,
       MAX(json_type(phase.value, '$.other_processes') = 'integer' AND json_extract(phase.value, '$.other_processes') > 0),
       MAX(json_type(phase.value, '$.short_phase') = 'true')
FROM runs, json_each(runs.measurements, '$.nvml') AS phase
WHERE runs.suite = ? AND json_type(runs.measurements, '$.nvml') = 'object'
  AND phase.type = 'object'
GROUP BY runs.id
"""


def _flags_in(text: Any) -> tuple[bool, bool]:
    """(shared, short) of one run's measurements, read in Python."""
    try:
        phases = json.loads(text).get("nvml")
    except (TypeError, ValueError, AttributeError, RecursionError):
        return False, False
    if not isinstance(phases, dict):
        return False, False
    figures = [value for value in phases.values() if isinstance(value, dict)]

    def shared(value: Any) -> bool:  # as the SQL above: a positive integer, nothing else
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    return (any(shared(f.get("other_processes")) for f in figures),
            any(f.get("short_phase") is True for f in figures))


def _flags(ref: "SetRef") -> list[tuple[bool, bool]]:
    from seqbench.results import _open

    connection = _open(ref.store)
    try:
        try:
            rows = [(point, bool(shared), bool(short))
                    for point, shared, short in connection.execute(_FLAGGED, (ref.suite,))]
        except sqlite3.OperationalError:
            # Measurements SQLite's JSON cannot read (Infinity, written by Python's json).
            rows = [(point, *_flags_in(text)) for point, text in connection.execute(
                "SELECT point, measurements FROM runs WHERE suite = ?", (ref.suite,))]
    finally:
        connection.close()
    return [(shared, short) for point, shared, short in rows if point not in ref.stale]


def measurement_notes(ref: "SetRef") -> list[str]:
    """A line for each caveat some of ``ref``'s runs carry."""
    flags = _flags(ref)
    shared = sum(1 for s, _ in flags if s)
    short = sum(1 for _, s in flags if s)
    label = printable(ref.label)
    notes = []
    if shared:
        runs = "run" if shared == 1 else "runs"
        notes.append(f"{label}: {shared} {runs} shared a GPU with other processes during a phase "
                     "(meter.nvml.<phase>.other_processes): their GPU energy, power and utilisation "
                     "include the others' work")
    if short:
        runs = "run has" if short == 1 else "runs have"
        notes.append(f"{label}: {short} {runs} a phase shorter than a few updates of the GPU's energy "
                     "counter (meter.nvml.<phase>.short_phase): treat its energy as an estimate")
    return notes
