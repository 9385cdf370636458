"""The executor contract."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterator, Sequence

from seqbench.grid import Point

__all__ = ["Executor"]


class Executor:
    """Runs points, each in a fresh process, and yields one record per point as it finishes.

    Records come back in completion order; the caller writes each to the store as it
    arrives, so an interrupted sweep keeps everything that finished.

    One executor serves a whole ``seqbench run``: ``check`` sees every suite's points
    before anything runs (raise UserError there, and nothing is written), ``run`` is
    called once per suite, and the executor is used as a context manager so that
    ``close`` releases what it started (a Ray instance, say), however the run ends.

    ``seqbench run`` sets ``on_progress`` before ``run``. An executor that can see its
    running points' epochs calls it with (point, progress), progress as
    ``seqbench.pipeline.run_point`` reports it; one that cannot (Ray) never calls it.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, jobs: int | None = None, **options: Any) -> None:
        # None: the executor's own default (one at a time locally, every CPU on Ray).
        self.jobs = jobs
        self.options = options
        self.on_progress: Callable[[Point, dict[str, Any]], None] | None = None

    def check(self, points: Sequence[Point]) -> None:
        """Refuse, with a UserError, points this executor cannot run as configured."""

    def run(self, points: Sequence[Point]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release whatever ``run`` started; called once, after the last suite."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
