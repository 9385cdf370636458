"""The ``local`` executor: each point in a fresh subprocess on this machine, N at a time."""

from __future__ import annotations

import os
import time
from typing import Any, Iterator, Sequence

import click

from seqbench.errors import UserError
from seqbench.executors.base import Executor, ProgressCallback, StartCheck
from seqbench.executors.gpus import GpuPool, needs_gpu, pinned_index, visible_gpus
from seqbench.executors.subprocess_worker import WorkerProcess, remove_stale_point_dirs
from seqbench.point import Point
from seqbench.record import EpochProgress, Record
from seqbench.threads import POINTS_AT_ONCE_VARIABLE, usable_cores

__all__ = ["LocalExecutor", "THREAD_VARIABLES"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
POLL_SECONDS = 0.01
PROGRESS_SECONDS = 0.5  # how often running points' epochs are read
JOBS_PER_CORE = 4  # --jobs above this many per usable core is refused


class LocalExecutor(Executor):
    """With ``--jobs N`` above 1, N points run at once. Each point that needs a GPU gets
    one of the visible GPUs to itself (``CUDA_VISIBLE_DEVICES``); CPU points see none.
    With fewer GPUs than jobs, GPU points wait for a free GPU (CPU points still fill
    the other slots). Threads per point are limited to the cores divided by N."""

    name = "local"
    description = (
        "each point in a fresh subprocess on this machine, --jobs at a time, "
        "one GPU each when GPUs exist"
    )

    def __init__(self, jobs: int | None = None, **options: Any) -> None:
        super().__init__(jobs, **options)
        cores = usable_cores()
        # Each job is a process with its own interpreter and framework (hundreds of MB):
        # past a few per core they only compete, and thousands would exhaust memory or
        # the process table before the first point ended.
        if jobs is not None and jobs > JOBS_PER_CORE * cores:
            raise UserError(
                f"--jobs {jobs}: the local executor runs at most {JOBS_PER_CORE * cores} points "
                f"at once here ({JOBS_PER_CORE} per usable core, {cores} usable); give a smaller "
                f"--jobs, or --executor ray for a cluster"
            )
        self.slots = jobs or 1
        # With one point at a time it sees every GPU this sweep sees, as before --jobs.
        self.skipped: list[str] = []  # GPUs NVML could not open, left out of the pool
        self.gpus = visible_gpus(skipped=self.skipped) if self.slots > 1 else []

    def check(self, points: Sequence[Point]) -> None:
        if self.skipped:
            click.echo(f"note: GPU(s) left out of the pool: {'; '.join(self.skipped)}", err=True)
        if not self.gpus:
            return
        pinned = next((p for p in points if (pinned_index(p) or 0) > 0), None)
        if pinned is not None:
            raise UserError(
                f"suite {pinned.suite}: run.device = {pinned.run.device!r} names one GPU, but with "
                f"--jobs {self.slots} each point is given its own GPU, which it sees as cuda:0; "
                f'use device = "cuda" or "auto", or --jobs 1'
            )
        if self.slots > len(self.gpus) and any(needs_gpu(point) for point in points):
            click.echo(
                f"note: --jobs {self.slots} but {len(self.gpus)} GPU(s) visible "
                f"({','.join(self.gpus)}): at most {len(self.gpus)} GPU point(s) run at once, "
                f"each on its own GPU",
                err=True,
            )

    def _env(self, gpu: str | None) -> dict[str, str]:
        if self.slots <= 1:
            return {}
        # run.threads = "auto" divides the usable cores by this (seqbench.threads).
        points = {POINTS_AT_ONCE_VARIABLE: str(self.slots)}
        # N points sharing the cores must not each start a thread per core.
        share = str(max(1, usable_cores() // self.slots))
        env = {**points, **{name: os.environ.get(name, share) for name in THREAD_VARIABLES}}
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpu or ""  # a CPU point sees no GPU at all
        return env

    def _startable(self, pending: list[Point], pool: GpuPool) -> int | None:
        """Index of the first pending point that can start now."""
        for index, point in enumerate(pending):
            if not (self.gpus and needs_gpu(point)) or pool.free:
                return index
        return None

    @staticmethod
    def _report(
        workers: list[WorkerProcess],
        seen: dict[WorkerProcess, EpochProgress],
        on_progress: ProgressCallback | None,
    ) -> None:
        """Pass on each worker's latest epoch, once."""
        if on_progress is None:
            return
        for worker in workers:
            progress = worker.progress()
            if progress is not None and seen.get(worker) != progress:
                seen[worker] = progress
                on_progress(worker.point, progress)

    def run(self, points: Sequence[Point], on_progress: ProgressCallback | None = None,
            may_start: StartCheck | None = None) -> Iterator[Record]:
        remove_stale_point_dirs()
        pending = list(points)
        running: dict[WorkerProcess, str | None] = {}  # each worker and the GPU it holds
        pool = GpuPool(self.gpus)
        seen: dict[WorkerProcess, EpochProgress] = {}
        next_report = time.monotonic() + PROGRESS_SECONDS
        try:
            while pending or running:
                while len(running) < self.slots and (index := self._startable(pending, pool)) is not None:
                    point = pending.pop(index)
                    if may_start is not None and not may_start(point):
                        continue  # another run took it: it runs there
                    gpu = pool.take() if self.gpus and needs_gpu(point) else None
                    running[WorkerProcess(point, self._env(gpu))] = gpu
                full = len(running) >= self.slots or self._startable(pending, pool) is None
                if len(running) == 1 and full:
                    next(iter(running)).wait(PROGRESS_SECONDS)
                finished = [worker for worker in running if worker.poll()]
                if time.monotonic() >= next_report:
                    self._report(list(running), seen, on_progress)
                    next_report = time.monotonic() + PROGRESS_SECONDS
                if not finished:
                    time.sleep(POLL_SECONDS)
                    continue
                for worker in finished:
                    gpu = running.pop(worker)
                    if gpu is not None:
                        pool.give_back(gpu)
                    self._report([worker], seen, on_progress)  # its last epoch, before its files go
                    seen.pop(worker, None)
                    yield worker.record()
        finally:
            # Interrupted (Ctrl-C, or the consumer stopped): no orphans left behind.
            for worker in running:
                worker.kill()
                worker.close()
