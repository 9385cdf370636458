"""A test-only model plugin for the executor tests: the oracle, whose first attempts at
a point can die (SIGKILL of its own process or of its parent, the Ray worker) or hang,
and which logs every attempt with the environment it was given.

The first ``meet`` attempts that succeed wait in ``fit`` for one another, so a test of
concurrency does not depend on how fast processes start.

Each attempt appends one JSON line to ``<log_dir>/<failure>-<failures>-<seed>-<device>.jsonl`` (one
file per point of the suites these tests write): its pid, the variables an executor
sets for it, and when it started and finished ``fit``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SOURCE = '''
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seqbench import hookimpl
from seqbench.default_plugins.oracle import Oracle
from seqbench.params import param

LOGGED = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
          "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")


@dataclass
class Flaky(Oracle):
    name = "testkit:flaky"
    description = "the oracle; its first `failures` attempts at a point die or hang"

    log_dir: str = param("", help="where each attempt is logged")
    failure: Literal["kill-point", "kill-ray-worker", "hang"] = param("kill-point")
    failures: int = param(0, min=0, help="attempts that fail before one succeeds")
    hold_s: float = param(0.0, min=0.0, help="seconds each attempt spends in fit")
    meet: int = param(1, min=1, help="the first this many attempts wait (up to 20 s) for one another")

    def build(self, task, settings):
        super().build(task, settings)
        self._device = settings.device

    def devices(self):
        # It pretends to run where the run asked: on CUDA's first GPU unless on the CPU.
        return ["cpu"] if self._device == "cpu" else ["cuda:0"]

    def fit(self, train, settings, on_epoch):
        log = Path(self.log_dir) / f"{self.failure}-{self.failures}-{settings.seed}-{settings.device}.jsonl"
        earlier = len(log.read_text().splitlines()) if log.exists() else 0
        entry = {"pid": os.getpid(), "start": time.time(),
                 "env": {name: os.environ.get(name) for name in LOGGED}}
        if earlier < self.failures:
            with log.open("a") as handle:
                handle.write(json.dumps(entry) + "\\n")
            if self.failure == "kill-point":
                os.kill(os.getpid(), signal.SIGKILL)
            elif self.failure == "kill-ray-worker":
                os.kill(os.getppid(), signal.SIGKILL)  # this process follows (PDEATHSIG)
            time.sleep(3600)
        # Arrivals are never removed: the first `meet` attempts wait for one another (a
        # late one finds the others still waiting), every later one goes straight on.
        arrived = Path(self.log_dir) / "arrived"
        arrived.mkdir(exist_ok=True)
        (arrived / str(os.getpid())).touch()
        deadline = time.time() + 20
        while len(list(arrived.iterdir())) < self.meet and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(self.hold_s)
        entry["end"] = time.time()
        with log.open("a") as handle:
            handle.write(json.dumps(entry) + "\\n")


@hookimpl
def register_models(register):
    register(Flaky)
'''


def attempts(log_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every point's attempts, in order, by log name (``<failure>-<failures>-<seed>-<device>``)."""
    return {
        log.stem: [json.loads(line) for line in log.read_text().splitlines()]
        for log in sorted(Path(log_dir).glob("*.jsonl"))
    }


def overlapping_pairs(entries: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """Pairs of finished attempts whose time in ``fit`` overlapped."""
    finished = [entry for entry in entries if "end" in entry]
    return [
        (a, b)
        for i, a in enumerate(finished)
        for b in finished[i + 1 :]
        if a["start"] < b["end"] and b["start"] < a["end"]
    ]
