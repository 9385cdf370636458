"""Measurements a report's reader should not take at face value, said as notes: GPU
figures of a train or eval phase that include other processes' work
(``meter.nvml.<phase>.other_processes``), and train or eval phases too short for the
GPU's energy counter (``short_phase``). Each stays in the store beside its figure; a
note says how many runs it concerns, so nobody has to find the columns first. See
docs/measurement.md.

The flags are read as ``results.load`` columns (``COLUMNS``): the runs table loads them
in its own query, where SQLite parses each run's measurements once for every column, so
they cost the table almost nothing (a query of their own cost a 100,000-run report
over a second)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from seqbench.printable import printable

if TYPE_CHECKING:
    import pandas as pd

    from seqbench.report.set_ref import SetRef

__all__ = ["COLUMNS", "notes_for", "measurement_notes"]

# The phases whose energy reports show (the runs table, verdicts, figures): a short
# data phase is common, and its energy, or who else was on the GPU then, is shown
# nowhere.
REPORTED = ("train", "eval")
SHARED = [f"meter.nvml.{phase}.other_processes" for phase in REPORTED]
SHORT = [f"meter.nvml.{phase}.short_phase" for phase in REPORTED]
COLUMNS = SHARED + SHORT


def _positive(value: Any) -> bool:
    # A number only: text such as "5" is not a count (as results.load gives JSON true,
    # it reads 1, and is taken as one).
    return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)) and value > 0


def _flagged(runs: "pd.DataFrame", columns: list[str], test: Any) -> int:
    """How many runs have ``test`` true of any of ``columns`` (those present)."""
    present = [column for column in columns if column in runs.columns]
    if not present or runs.empty:
        return 0
    hits = runs[present].map(test).astype(bool)
    return int(hits.any(axis=1).sum())


def notes_for(label: str, runs: "pd.DataFrame") -> list[str]:
    """A line for each caveat some of ``runs`` (a results.load frame with ``COLUMNS``,
    only the runs shown) carry."""
    shared = _flagged(runs, SHARED, _positive)
    # short_phase is JSON true (read as 1) when set.
    short = _flagged(runs, SHORT, lambda value: value is True or (_positive(value) and value == 1))
    label = printable(label)
    notes = []
    if shared:
        counted = "run" if shared == 1 else "runs"
        notes.append(f"{label}: {shared} {counted} shared a GPU with other processes during training or "
                     "evaluation (meter.nvml.<phase>.other_processes): their GPU energy, power and "
                     "utilisation include the others' work")
    if short:
        counted = "run has" if short == 1 else "runs have"
        notes.append(f"{label}: {short} {counted} a train or eval phase shorter than a few updates of the "
                     "GPU's energy counter (meter.nvml.<phase>.short_phase): treat its energy as an estimate")
    return notes


def measurement_notes(ref: "SetRef") -> list[str]:
    """``notes_for`` the set ``ref`` names, read from its store (without its stale points)."""
    from seqbench.results import load

    runs = load(ref.store, ref.suite, results=COLUMNS)
    return notes_for(ref.label, runs[~runs["point"].isin(ref.stale)])
