"""Measurements a report's reader should not take at face value, said as notes: GPU
figures of a train or eval phase that include other processes' work
(``meter.nvml.<phase>.other_processes``), train or eval phases too short for the
GPU's energy counter (``short_phase``), a GPU reading lost (``gpu_error``), samples
lacking a reading (``missing_readings``), an idle figure that is not a true idle
(``idle_other_processes``, ``idle_note``), and a phase that drew less than that idle
figure, so its energy above idle is negative (``below_idle``). Each stays in the store beside its figure; a
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
# A GPU reading that failed (energy unknown), samples lacking a reading, and an idle
# figure that is not a true idle (another process there, or a fallback): each said in
# its own text field beside the figures.
LOST = [f"meter.nvml.{phase}.gpu_error" for phase in REPORTED]
MISSING = [f"meter.nvml.{phase}.missing_readings" for phase in REPORTED]
IDLE_BUSY = [f"meter.nvml.{phase}.idle_other_processes" for phase in REPORTED]
IDLE_NOTE = [f"meter.nvml.{phase}.idle_note" for phase in REPORTED]
# Energy above idle below zero, past noise: the idle figure, not the phase, is off.
BELOW_IDLE = [f"meter.nvml.{phase}.below_idle" for phase in REPORTED]
COLUMNS = SHARED + SHORT + LOST + MISSING + IDLE_BUSY + IDLE_NOTE + BELOW_IDLE


def _positive(value: Any) -> bool:
    # A number only: text such as "5" is not a count (as results.load gives JSON true,
    # it reads 1, and is taken as one).
    return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)) and value > 0


def _flags(runs: "pd.DataFrame", columns: list[str], test: Any) -> "pd.Series":
    """Per run, whether ``test`` is true of any of ``columns`` (those present)."""
    import pandas as pd

    flags = pd.Series(False, index=runs.index)
    for column in (c for c in columns if c in runs.columns):
        flags |= _column_flags(runs[column], test)
    return flags


def _column_flags(values: "pd.Series", test: Any) -> "pd.Series":
    """``test`` of each value, None and NaN never flagged; a column pandas typed as
    numbers at once (a Python call per cell of 100,000 runs x 12 columns cost a report
    half a second): no text in it, ``_positive`` is its values above 0 and ``_true`` its
    ones (JSON true)."""
    import pandas as pd

    if values.dtype.kind in "iuf" and test in (_positive, _true, _text):
        if test is _text:
            return pd.Series(False, index=values.index)
        return values > 0 if test is _positive else values == 1
    flags = pd.Series(False, index=values.index)
    held = values.notna()  # a field most runs lack (no GPU) is tested only where held
    if held.any():
        flags[held] = values[held].map(test).astype(bool)
    return flags


def _flagged(runs: "pd.DataFrame", columns: list[str], test: Any) -> int:
    """How many runs have ``test`` true of any of ``columns`` (those present)."""
    return int(_flags(runs, columns, test).sum())


def _true(value: Any) -> bool:
    return value is True or (_positive(value) and value == 1)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _runs(count: int) -> str:
    return f"{count} run{'' if count == 1 else 's'}"


def notes_for(label: str, runs: "pd.DataFrame") -> list[str]:
    """A line for each caveat some of ``runs`` (a results.load frame with ``COLUMNS``,
    only the runs shown) carry."""
    shared = _flagged(runs, SHARED, _positive)
    # short_phase and below_idle are JSON true (read as 1) when set.
    short = _flagged(runs, SHORT, _true)
    below = _flagged(runs, BELOW_IDLE, _true)
    lost = _flagged(runs, LOST, _text)
    missing = _flagged(runs, MISSING, _text)
    idle = int((_flags(runs, IDLE_BUSY, _positive) | _flags(runs, IDLE_NOTE, _text)).sum())
    label = printable(label)
    notes = []
    if lost:
        notes.append(f"{label}: {_runs(lost)} lost a GPU reading during training or evaluation "
                     "(meter.nvml.<phase>.gpu_error): that phase's GPU energy is unknown (empty)")
    if missing:
        notes.append(f"{label}: {_runs(missing)} had GPU samples without some reading "
                     "(meter.nvml.<phase>.missing_readings): utilisation, memory or power figures "
                     "cover part of the phase")
    if idle:
        notes.append(f"{label}: {_runs(idle)} measured idle power with another process on the GPU or "
                     "by a fallback (meter.nvml.<phase>.idle_note): energy above idle is not against "
                     "a true idle")
    if below:
        notes.append(f"{label}: {_runs(below)} drew less GPU energy in a train or eval phase than the "
                     "idle figure accounts for (meter.nvml.<phase>.below_idle): its negative energy above "
                     "idle says the idle figure is off, not that energy was recovered")
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
