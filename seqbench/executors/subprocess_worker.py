"""Start ``python -m seqbench.worker`` for one point and turn its ending into a record."""

from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seqbench.point import Point
from seqbench.record import EpochProgress, Record
from seqbench.worker import progress_path

__all__ = ["WorkerProcess", "remove_stale_point_dirs"]

POINT_DIR_PREFIX = "seqbench-point-"

LOG_TAIL_LINES = 20
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    # A worker must not outlive a killed parent: nobody would store its result. The
    # signal fires when the thread that started it ends, so start workers from the
    # main thread.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        # The parent died between fork and prctl: no signal will ever come.
        os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_point_dirs() -> None:
    """Delete point directories whose sweep process is gone (it was killed)."""
    for directory in Path(tempfile.gettempdir()).glob(f"{POINT_DIR_PREFIX}*-*"):
        owner = directory.name[len(POINT_DIR_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(directory, ignore_errors=True)


class WorkerProcess:
    """One point running in its own ``python -m seqbench.worker`` process."""

    def __init__(self, point: Point, env: dict[str, str] | None = None) -> None:
        self.point = point
        self.timeout = point.run.timeout
        # The parent's pid in the name lets a later sweep remove what a killed one left.
        self._dir = tempfile.TemporaryDirectory(prefix=f"{POINT_DIR_PREFIX}{os.getpid()}-")
        self.result_path = Path(self._dir.name) / "record.json"
        self.progress_path = Path(progress_path(str(self.result_path)))
        self.log_path = Path(self._dir.name) / "worker.log"
        self._log = self.log_path.open("wb")
        child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "seqbench.worker", str(self.result_path)],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=child_env,
            preexec_fn=(
                functools.partial(_die_with_parent, os.getpid())
                if sys.platform.startswith("linux")
                else None
            ),
        )
        assert self.process.stdin is not None
        self.process.stdin.write(point.to_json().encode())
        self.process.stdin.close()
        self.timed_out = False

    def poll(self) -> bool:
        """True once the process has ended (killing it first if it ran past its timeout)."""
        if self.process.poll() is not None:
            return True
        if self.timeout is not None and time.monotonic() - self.started > self.timeout:
            self.timed_out = True
            self.kill()
            return True
        return False

    def wait(self, seconds: float | None = None) -> None:
        """Wait until the process ends, or its timeout passes (then kill it), or
        ``seconds`` pass (then return with it still running)."""
        remaining = None
        if self.timeout is not None:
            remaining = max(0.0, self.timeout - (time.monotonic() - self.started))
        limit = remaining if seconds is None or (remaining is not None and remaining <= seconds) else seconds
        try:
            self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            if limit == remaining:
                self.timed_out = True
                self.kill()

    def progress(self) -> EpochProgress | None:
        """The latest epoch the worker reported (see ``seqbench.worker``), or None."""
        try:
            progress: EpochProgress = json.loads(self.progress_path.read_text())
        except (OSError, ValueError):
            return None
        return progress

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def record(self) -> Record:
        """The worker's record, or a ``failed`` one saying how the process ended."""
        try:
            if self.timed_out:
                return Record.failed(
                    self.point, f"timed out after {self.timeout:g} s (run.timeout)", self._log_tail()
                )
            if self.result_path.exists():
                return Record.from_json(self.result_path.read_text())
            code = self.process.returncode
            if code is not None and code < 0:
                how = f"killed by signal {signal.Signals(-code).name}"
            else:
                how = f"exited with code {code}"
            return Record.failed(
                self.point, f"worker process died ({how}) before writing a result", self._log_tail()
            )
        finally:
            self.close()

    def _log_tail(self) -> str:
        self._log.flush()
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def close(self) -> None:
        self._log.close()
        self._dir.cleanup()
