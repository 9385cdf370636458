"""Which result sets a report shows, from ``--store``, ``--suite`` and ``--compare``:
every suite of the store on its own, or two sets side by side. Every mistake is a
UserError before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqbench.errors import UserError
from seqbench.results import suites as suites_of

__all__ = ["SetRef", "select"]


@dataclass(frozen=True)
class SetRef:
    """One suite of one store, and the label it goes by in titles and tables."""

    store: Path
    suite: str
    label: str


def _suites(store: Path) -> list[str]:
    names = suites_of(store)
    if not names:
        raise UserError(f"{store}: the store has no runs yet; run a suite first")
    return names


def _one_suite(store: Path, suite: str | None, option: str) -> str:
    names = _suites(store)
    if suite is not None:
        if suite not in names:
            raise UserError(f"{option}: no runs of suite {suite!r} in {store}; suites: {', '.join(names)}")
        return suite
    if len(names) > 1:
        raise UserError(f"{option}: {store} holds suites {', '.join(names)}; choose one with --suite")
    return names[0]


def select(store: Path, suite: str | None, compare: str | None) -> list[list[SetRef]]:
    """Groups of result sets, each group reported together (side by side when two)."""
    names = _suites(store)
    if suite is not None and suite not in names:
        raise UserError(f"--suite: no runs of suite {suite!r} in {store}; suites: {', '.join(names)}")
    if compare is None:
        chosen = [suite] if suite else names
        return [[SetRef(store, name, name)] for name in chosen]
    other = Path(compare)
    if other.is_file():
        first = _one_suite(store, suite, "--suite")
        other_names = _suites(other)
        second = first if first in other_names else _one_suite(other, None, "--compare")
        if other.resolve() == store.resolve() and second == first:
            raise UserError(f"--compare: {compare} is the store being reported; name another store or suite")
        labels = (first, second) if first != second else (str(store), str(other))
        return [[SetRef(store, first, labels[0]), SetRef(other, second, labels[1])]]
    if compare in names:
        if suite is None:
            rest = [name for name in names if name != compare]
            if len(rest) != 1:
                raise UserError(
                    f"--compare {compare}: {store} holds suites {', '.join(names)}; "
                    "say which to compare it with using --suite")
            suite = rest[0]
        if suite == compare:
            raise UserError(f"--compare: {compare!r} is the suite being reported; name another")
        return [[SetRef(store, suite, suite), SetRef(store, compare, compare)]]
    raise UserError(
        f"--compare: {compare!r} is neither a results store (no such file) nor a suite in {store}; "
        f"suites: {', '.join(names)}")
