"""Which result sets a report shows, from ``--store``, ``--suite`` and ``--compare``:
every suite of the store on its own, or two sets side by side. Every mistake is a
UserError before anything is written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqbench.errors import UserError
from seqbench.printable import listed
from seqbench.report.caveats import measurement_notes
from seqbench.report.data_versions import data_version_notes
from seqbench.report.set_ref import SetRef
from seqbench.read_connection import open_store
from seqbench.results import stored_name, suites as suites_of
from seqbench.smoke_sizes import is_smoke_name, smoke_name

if TYPE_CHECKING:
    import pandas as pd

    from seqbench.report.sets import ResultSet

__all__ = ["SetRef", "select", "caveats", "Shown", "shown_suites", "drop_rows", "without_stale"]


@dataclass
class Shown:
    """The suites a report shows, what it leaves out, and the lines that say so."""

    suites: list[str]
    stale: dict[str, frozenset[str]]
    notes: list[str]


def _legacy_smoke(store: Path) -> set[str]:
    """Suites stored before smoke runs had a name of their own, every run of which is a
    smoke run (``run.smoke`` in its configuration)."""
    import sqlite3

    connection = open_store(store)
    try:
        try:
            rows = connection.execute(
                "SELECT suite FROM runs GROUP BY suite "
                "HAVING MIN(COALESCE(json_extract(config, '$.run.smoke'), 0)) = 1").fetchall()
            return {name for (name,) in rows}
        except sqlite3.OperationalError:
            # A configuration SQLite's JSON cannot read (Infinity, written by Python's
            # json): read them all in Python, as results.load does.
            smoke: dict[str, bool] = {}
            for name, text in connection.execute("SELECT suite, config FROM runs"):
                try:
                    run = json.loads(text).get("run")
                except (TypeError, ValueError, AttributeError, RecursionError):
                    run = None
                flag = isinstance(run, dict) and bool(run.get("smoke"))
                smoke[name] = smoke.get(name, True) and flag
            return {name for name, every in smoke.items() if every}
    finally:
        connection.close()


def shown_suites(store: Path, suite: str | None, smoke: bool = False,
                 include_stale: bool = False) -> Shown:
    """The suites ``seqbench report`` shows: full-size ones unless ``smoke`` (with
    ``suite``: its smoke runs; without: every suite, smoke ones too). For a named suite
    whose file is at hand, the stored points the file no longer holds are left out
    unless ``include_stale``. Every choice left out is said in ``notes``."""
    names = _suites(store)
    hidden = sorted({n for n in names if is_smoke_name(n)} | _legacy_smoke(store))
    notes: list[str] = []
    if suite is None:
        chosen = names if smoke else [n for n in names if n not in hidden]
        if not chosen:
            raise UserError(f"{store} holds only smoke runs ({listed(hidden)}); add --smoke to report them")
        if hidden and not smoke:
            notes.append(f"not shown: smoke runs ({listed(hidden)}); add --smoke to see them")
        return Shown(chosen, {}, notes)
    suite = stored_name(suite, names)
    if smoke and not is_smoke_name(suite) and smoke_name(suite) in names:
        suite = smoke_name(suite)
    if suite not in names:
        if smoke_name(suite) in names:
            raise UserError(f"--suite: {store} holds only smoke runs of suite {suite!r} "
                            f"({smoke_name(suite)!r}); add --smoke to report them")
        raise UserError(f"--suite: no runs of suite {suite!r} in {store}; suites: {listed(names)}")
    if not smoke and smoke_name(suite) in names:
        notes.append(f"not shown: smoke runs of {suite} ({smoke_name(suite)!r}); add --smoke to see them")
    return Shown([suite], _stale(store, suite, include_stale, notes), notes)


def _stale(store: Path, suite: str, include: bool, notes: list[str]) -> dict[str, frozenset[str]]:
    from seqbench.prune import stale_for_report

    found = stale_for_report(store, suite)
    if found is None:
        return {}
    if gone := found.folder.note():
        notes.append(gone)
    if found.not_run:
        noun = "point" if found.not_run == 1 else "points"
        notes.append(f"{found.suite_file} holds {found.not_run} {noun} of {suite} not run yet")
    if not found.stale:
        return {}
    count = len(found.stale)
    points = "point is" if count == 1 else "points are"
    if include:
        notes.append(f"shown: {count} stored {points} no longer in {found.suite_file} (--include-stale)")
        return {}
    notes.append(
        f"not shown: {count} stored {points} no longer in {found.suite_file}; --include-stale "
        f"shows them, `seqbench prune {found.suite_file} --store {store}` deletes them")
    return {suite: frozenset(run.point for run in found.stale)}


def drop_rows(frame: "pd.DataFrame", shown: Shown, smoke: bool) -> "pd.DataFrame":
    """The rows of ``frame`` (a results.load frame) the report shows: its suites, no stale
    points, and no smoke run stored under a suite's own name by an earlier seqbench
    unless ``smoke``."""
    kept = frame["suite"].isin(shown.suites)
    for suite, points in shown.stale.items():
        kept &= ~((frame["suite"] == suite) & frame["point"].isin(points))
    if not smoke:
        from seqbench.report.sets import smoke_flags

        kept &= ~(smoke_flags(frame) & ~frame["suite"].map(is_smoke_name))
    return frame[kept]


def _suites(store: Path) -> list[str]:
    names = suites_of(store)
    if not names:
        raise UserError(f"{store}: the store has no runs yet; run a suite first")
    return names


def _visible(store: Path, smoke: bool) -> list[str]:
    """The suites a report may choose by itself: smoke ones only with ``smoke``."""
    names = _suites(store)
    if smoke:
        return names
    hidden = _legacy_smoke(store)
    return [n for n in names if not is_smoke_name(n) and n not in hidden] or names


def _one_suite(store: Path, suite: str | None, option: str, smoke: bool = False) -> str:
    names = _suites(store)
    if suite is not None:
        suite = stored_name(suite, names)
        if smoke and not is_smoke_name(suite) and smoke_name(suite) in names:
            return smoke_name(suite)
        if suite not in names:
            raise UserError(f"{option}: no runs of suite {suite!r} in {store}; suites: {listed(names)}")
        return suite
    visible = _visible(store, smoke)
    if len(visible) > 1:
        raise UserError(f"{option}: {store} holds suites {listed(visible)}; choose one with --suite")
    return visible[0]


def select(store: Path, suite: str | None, compare: str | None, smoke: bool = False,
           include_stale: bool = False, notes: list[str] | None = None) -> list[list[SetRef]]:
    """Groups of result sets, each group reported together (side by side when two).
    What is left out (smoke runs, stale points) is said in ``notes``, and so is a task
    whose runs in a group were made from different versions of its data, and any
    measurement to read with care (report.caveats)."""
    groups = _groups(store, suite, compare, smoke, include_stale, notes)
    if notes is not None:
        notes.extend(caveats(groups))
    return groups


def caveats(groups: list[list[SetRef]]) -> list[str]:
    """What a reader of these groups' figures should know: a task whose runs in a group
    were made from different versions of its data, and measurements to read with care."""
    said = []
    for group in groups:
        said.extend(data_version_notes(group))
        for ref in group:
            said.extend(measurement_notes(ref))
    return said


def _groups(store: Path, suite: str | None, compare: str | None, smoke: bool,
            include_stale: bool, notes: list[str] | None) -> list[list[SetRef]]:
    names = _suites(store)
    if compare is None:
        shown = shown_suites(store, suite, smoke, include_stale)
        if notes is not None:
            notes.extend(shown.notes)
        return [[SetRef(store, name, name, shown.stale.get(name, frozenset()))] for name in shown.suites]
    if suite is not None:
        suite = _one_suite(store, suite, "--suite", smoke)
    other = Path(compare)
    if other.is_file():
        first = _one_suite(store, suite, "--suite", smoke)
        other_names = _suites(other)
        second = first if first in other_names else _one_suite(other, None, "--compare", smoke)
        if other.resolve() == store.resolve() and second == first:
            raise UserError(f"--compare: {compare} is the store being reported; name another store or suite")
        labels = (first, second) if first != second else (str(store), str(other))
        return [[_compared(store, first, labels[0], include_stale, notes),
                 _compared(other, second, labels[1], include_stale, notes)]]
    compare = stored_name(compare, names)
    if compare in names:
        if suite is None:
            rest = [name for name in _visible(store, smoke) if name != compare]
            if len(rest) != 1:
                raise UserError(
                    f"--compare {compare}: {store} holds suites {listed(names)}; "
                    "say which to compare it with using --suite")
            suite = rest[0]
        if suite == compare:
            raise UserError(f"--compare: {compare!r} is the suite being reported; name another")
        return [[_compared(store, suite, suite, include_stale, notes),
                 _compared(store, compare, compare, include_stale, notes)]]
    raise UserError(
        f"--compare: {compare!r} is neither a results store (no such file) nor a suite in {store}; "
        f"suites: {listed(names)}")


def _compared(store: Path, suite: str, label: str, include_stale: bool, notes: list[str] | None) -> SetRef:
    """One side of ``--compare``: its stale points left out as for ``--suite`` (each
    side's own suite file), said in ``notes``."""
    said: list[str] = []
    stale = _stale(store, suite, include_stale, said).get(suite, frozenset())
    if notes is not None:
        notes.extend(f"{label}: {line}" for line in said)
    return SetRef(store, suite, label, stale)


def load_shown(ref: SetRef, smoke: bool = False) -> "ResultSet":
    """The result set ``ref`` names, as reports show it: without its stale points and,
    unless ``smoke``, without smoke runs an earlier seqbench stored under the suite's
    own name (the rows ``drop_rows`` leaves out of the table)."""
    from seqbench.report.sets import load_set, smoke_flags

    result_set = without_stale(load_set(ref.store, ref.suite, ref.label), ref.stale)
    if result_set.runs.empty:  # every stored point stale: nothing to draw or summarise
        raise UserError(f"{ref.label}: every stored point of suite {ref.suite!r} is no longer in its suite "
                        "file; --include-stale reports them, `seqbench prune` deletes them")
    if smoke or is_smoke_name(ref.suite):
        return result_set
    marked = smoke_flags(result_set.runs)
    if not marked.any() or marked.all():  # all smoke: a smoke suite of its own, kept whole
        return result_set
    return without_stale(result_set, frozenset(result_set.runs.loc[marked, "point"]))


def without_stale(result_set: "ResultSet", points: frozenset[str]) -> "ResultSet":
    """``result_set`` without the runs of ``points``, nor their curves and metrics."""
    if not points:
        return result_set
    runs = result_set.runs[~result_set.runs["point"].isin(points)]
    ids = set(runs["id"])
    result_set.runs = runs.reset_index(drop=True)
    result_set.length_metrics = result_set.length_metrics[result_set.length_metrics["id"].isin(ids)]
    result_set.position_metrics = result_set.position_metrics[result_set.position_metrics["id"].isin(ids)]
    curves = result_set.curves()
    result_set._curves = curves[curves["id"].isin(ids)]
    return result_set
