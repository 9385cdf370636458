"""The name of one result set a report shows: which suite of which store, its label,
and the stored points left out as stale. Its own module so that what reads a set
(caveats, data versions) need not import how sets are chosen (selection)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SetRef"]


@dataclass(frozen=True)
class SetRef:
    """One suite of one store, and the label it goes by in titles and tables."""

    store: Path
    suite: str
    label: str
    # Stored points (hashes) the suite file no longer holds, left out of the report.
    stale: frozenset[str] = field(default=frozenset(), compare=False)
