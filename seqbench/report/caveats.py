"""Measurements a report's reader should not take at face value, said as notes: GPU
figures of a train or eval phase that include other processes' work
(``meter.nvml.<phase>.other_processes``), and train or eval phases too short for the
GPU's energy counter (``short_phase``). Each stays in the store beside its figure; a
note says how many runs it concerns, so nobody has to find the columns first. See
docs/measurement.md."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from seqbench.printable import printable

if TYPE_CHECKING:
    from seqbench.report.set_ref import SetRef

__all__ = ["measurement_notes"]

# The phases whose energy reports show (the runs table, verdicts, figures): a short
# data phase is common, and its energy, or who else was on the GPU then, is shown
# nowhere.
REPORTED = ("train", "eval")


def _flag_columns() -> str:
    """Per reported phase, the type and value of its two figures. SQLite parses each
    run's measurements once for all of them (json1 caches the parse within a statement):
    0.8 s for 100,000 runs, where json_each over every phase took 1.3 s."""
    return ", ".join(f"json_type(measurements, '$.nvml.{phase}.{figure}'), "
                     f"json_extract(measurements, '$.nvml.{phase}.{figure}')"
                     for phase in REPORTED for figure in ("other_processes", "short_phase"))


def _flagged(typed: tuple[Any, ...]) -> tuple[bool, bool]:
    """(shared, short) from ``_flag_columns``' values. Only the types the meter writes
    count — a positive integer, true — since in SQLite's comparisons text is greater than
    any number, and JSON true is 1."""
    pairs = list(zip(typed[0::2], typed[1::2]))
    shared = any(kind == "integer" and value > 0 for kind, value in pairs[0::2])
    short = any(kind == "true" for kind, _ in pairs[1::2])
    return shared, short


def _flags_in(text: Any) -> tuple[bool, bool]:
    """(shared, short) of one run's measurements, read in Python."""
    try:
        phases = json.loads(text).get("nvml")
    except (TypeError, ValueError, AttributeError, RecursionError):
        return False, False
    if not isinstance(phases, dict):
        return False, False
    figures = {phase: value for phase, value in phases.items() if isinstance(value, dict)}

    def shared(value: Any) -> bool:  # as the SQL above: a positive integer, nothing else
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    reported = [f for phase, f in figures.items() if phase in REPORTED]
    return (any(shared(f.get("other_processes")) for f in reported),
            any(f.get("short_phase") is True for f in reported))


def _flags(connection: sqlite3.Connection, ref: "SetRef") -> list[tuple[bool, bool]]:
    try:
        rows = [(point, *_flagged(typed)) for point, *typed in connection.execute(
            f"SELECT point, {_flag_columns()} FROM runs WHERE suite = ?", (ref.suite,))]
    except sqlite3.OperationalError:
        # Measurements SQLite's JSON cannot read (Infinity, written by Python's json).
        rows = [(point, *_flags_in(text)) for point, text in connection.execute(
            "SELECT point, measurements FROM runs WHERE suite = ?", (ref.suite,))]
    return [(shared, short) for point, shared, short in rows if point not in ref.stale]


def measurement_notes(connection: sqlite3.Connection, ref: "SetRef") -> list[str]:
    """A line for each caveat some of ``ref``'s runs carry (``connection``: a checked
    read of its store, results._open)."""
    flags = _flags(connection, ref)
    shared = sum(1 for s, _ in flags if s)
    short = sum(1 for _, s in flags if s)
    label = printable(ref.label)
    notes = []
    if shared:
        runs = "run" if shared == 1 else "runs"
        notes.append(f"{label}: {shared} {runs} shared a GPU with other processes during training or evaluation "
                     "(meter.nvml.<phase>.other_processes): their GPU energy, power and utilisation "
                     "include the others' work")
    if short:
        runs = "run has" if short == 1 else "runs have"
        notes.append(f"{label}: {short} {runs} a train or eval phase shorter than a few updates of the "
                     "GPU's energy counter (meter.nvml.<phase>.short_phase): treat its energy as an estimate")
    return notes
