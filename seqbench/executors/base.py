"""The executor contract."""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, Sequence

from seqbench.grid import Point

__all__ = ["Executor"]


class Executor:
    """Runs points, each in a fresh process, and yields one record per point as it finishes.

    Records come back in completion order; the caller writes each to the store as it
    arrives, so an interrupted sweep keeps everything that finished.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, jobs: int = 1, **options: Any) -> None:
        self.jobs = jobs
        self.options = options

    def run(self, points: Sequence[Point]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError
