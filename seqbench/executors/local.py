"""The ``local`` executor: each point in a fresh subprocess on this machine, N at a time."""

from __future__ import annotations

import os
import time
from typing import Any, Iterator, Sequence

from seqbench.executors.base import Executor
from seqbench.executors.subprocess_worker import WorkerProcess, remove_stale_point_dirs
from seqbench.grid import Point

__all__ = ["LocalExecutor"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
POLL_SECONDS = 0.01


class LocalExecutor(Executor):
    name = "local"
    description = "each point in a fresh subprocess on this machine, --jobs at a time"

    def _env(self) -> dict[str, str]:
        if self.jobs <= 1:
            return {}
        # N points sharing the cores must not each start a thread per core.
        share = str(max(1, (os.cpu_count() or 1) // self.jobs))
        return {name: os.environ.get(name, share) for name in THREAD_VARIABLES}

    def run(self, points: Sequence[Point]) -> Iterator[dict[str, Any]]:
        remove_stale_point_dirs()
        pending = list(points)
        running: list[WorkerProcess] = []
        env = self._env()
        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    running.append(WorkerProcess(pending.pop(0), env))
                if len(running) == 1 and (self.jobs == 1 or not pending):
                    running[0].wait()
                finished = [worker for worker in running if worker.poll()]
                if not finished:
                    time.sleep(POLL_SECONDS)
                    continue
                for worker in finished:
                    running.remove(worker)
                    yield worker.record()
        finally:
            # Interrupted (Ctrl-C, or the consumer stopped): no orphans left behind.
            for worker in running:
                worker.kill()
                worker.close()
