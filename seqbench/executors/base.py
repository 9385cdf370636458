"""The executor contract."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

from seqbench.point import Point
from seqbench.record import EpochProgress, Record

__all__ = ["Executor", "ProgressCallback", "StartCheck"]

ProgressCallback = Callable[[Point, EpochProgress], None]
"""``on_progress(point, progress)``: a running point's latest epoch, ``progress`` as
``seqbench.pipeline.run_point``'s ``on_epoch`` reports it."""

StartCheck = Callable[[Point], bool]
"""``may_start(point)``: False when another run took the point (this run's claims
lapsed while it was stopped): the executor must not start it, and yields no record for it."""


class Executor:
    """Runs points, each in a fresh process, and yields one record per point as it finishes.

    Records come back in completion order; the caller writes each to the store as it
    arrives, so an interrupted sweep keeps everything that finished.

    One executor serves a whole ``seqbench run``: ``check`` sees every suite's points
    before anything runs (raise UserError there, and nothing is written), ``run`` is
    called once per suite, and the executor is used as a context manager so that
    ``close`` releases what it started (a Ray instance, say), however the run ends.

    ``run`` yields ``seqbench.record.Record`` objects (``run_point``'s, a worker's
    JSON read back with ``Record.from_json``, or ``Record.failed``). A plain dict in the
    record's JSON shape is still accepted, as earlier versions yielded.

    ``seqbench run`` passes ``on_progress`` to ``run``. An executor that can see its
    running points' epochs calls it with (point, progress); one that cannot (Ray) never
    calls it. An executor whose ``run`` takes no ``on_progress`` is called without one.

    ``seqbench run`` also passes ``may_start``: call it just before starting each point
    (not all at once up front) and skip the point, yielding nothing for it, when it
    answers False. An executor whose ``run`` takes no ``may_start`` starts every point
    it is given, as before.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    # Only for executors written before ``run`` took ``on_progress``: seqbench sets
    # it before calling their ``run(points)``.
    on_progress: ProgressCallback | None = None

    def __init__(self, jobs: int | None = None, **options: Any) -> None:
        # None: the executor's own default (one at a time locally, every CPU on Ray).
        self.jobs = jobs
        self.options = options

    def check(self, points: Sequence[Point]) -> None:
        """Refuse, with a UserError, points this executor cannot run as configured."""

    def run(
        self, points: Sequence[Point], on_progress: ProgressCallback | None = None,
        may_start: StartCheck | None = None,
    ) -> Iterator[Record | Mapping[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release whatever ``run`` started; called once, after the last suite."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
