"""Start ``python -m seqbench.worker`` for one point and turn its ending into a record."""

from __future__ import annotations

import ctypes
import fcntl
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

from seqbench.executors.memory import describe_sigkill, oom_kills
from seqbench.point import Point
from seqbench.provenance import machine
from seqbench.record import EpochProgress, Record
from seqbench.worker import progress_path

__all__ = ["WorkerProcess", "remove_stale_point_dirs"]

POINT_DIR_PREFIX = "seqbench-point-"
LOCK_NAME = "lock"
# A point directory without a lock file was made by a seqbench before locks (or its
# maker died in the instant between making it and locking it): removed only when old.
UNLOCKED_DIR_SECONDS = 7 * 24 * 3600.0

LOG_TAIL_LINES = 20
REAP_POLL_SECONDS = 0.01
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


def _try_lock(path: Path) -> int | None:
    """An open descriptor of ``path`` holding its exclusive ``flock``, or None when
    another process holds it (or it cannot be opened)."""
    try:
        descriptor = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by another process (or locks unsupported: leave it be)
        os.close(descriptor)
        return None
    return descriptor


def remove_stale_point_dirs() -> None:
    """Delete point directories that no live sweep holds.

    Each point's directory holds ``LOCK_NAME``, ``flock``-ed by the sweep for the
    point's whole life (the kernel drops the lock when that process dies, however it
    dies). A directory is stale exactly when its lock can be taken: a PID is never
    consulted, since a sweep in another PID namespace sharing this temporary folder is
    alive but its PID is not visible here. A directory without the lock file is being
    made (its lock appears atomically, already held) or was left by a seqbench before
    locks: it is left alone unless older than ``UNLOCKED_DIR_SECONDS``."""
    for directory in Path(tempfile.gettempdir()).glob(f"{POINT_DIR_PREFIX}*"):
        lock = directory / LOCK_NAME
        if not lock.exists():
            try:
                old = time.time() - directory.stat().st_mtime > UNLOCKED_DIR_SECONDS
            except OSError:
                continue
            if old and directory.is_dir():
                shutil.rmtree(directory, ignore_errors=True)
            continue
        descriptor = _try_lock(lock)
        if descriptor is None:
            continue  # a live sweep's point
        try:
            shutil.rmtree(directory, ignore_errors=True)
        finally:
            os.close(descriptor)


def _locked_point_dir() -> tuple[tempfile.TemporaryDirectory[str], int]:
    """A new point directory and the descriptor holding its lock. The lock file is made
    and locked under a temporary name, then renamed into place, so a sweep that sees
    ``LOCK_NAME`` always finds it held while this process lives."""
    directory = tempfile.TemporaryDirectory(prefix=POINT_DIR_PREFIX)
    making = Path(directory.name) / (LOCK_NAME + ".new")
    descriptor = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.rename(making, Path(directory.name) / LOCK_NAME)
    except BaseException:
        os.close(descriptor)
        directory.cleanup()
        raise
    return directory, descriptor


class WorkerProcess:
    """One point running in its own ``python -m seqbench.worker`` process."""

    def __init__(self, point: Point, env: dict[str, str] | None = None) -> None:
        self.point = point
        self.timeout = point.run.timeout
        # Locked for the point's life: a later sweep removes it only once nobody holds it.
        self._dir, self._lock = _locked_point_dir()
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
            # Its own process group: a timeout or a cancel kills whatever the point
            # started too (a data loader, a compiler, a `sleep` in a plugin's fit).
            start_new_session=True,
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
        self.peak_rss: int | None = None  # bytes, once reaped by _reaped
        self._oom_kills_before = oom_kills()

    def poll(self) -> bool:
        """True once the process has ended (killing it first if it ran past its timeout)."""
        if self._reaped():
            return True
        if self.timeout is not None and time.monotonic() - self.started > self.timeout:
            self.timed_out = True
            self.kill()
            return True
        return False

    def _reaped(self) -> bool:
        """Reap the worker if it has ended, with ``wait4`` so that its peak resident
        memory is known (``peak_rss``, bytes): that tells an out-of-memory kill apart."""
        if self.process.returncode is not None:
            return True
        try:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        except ChildProcessError:  # reaped already (Popen.wait in kill)
            return self.process.poll() is not None
        if pid == 0:
            return False
        self.process.returncode = os.waitstatus_to_exitcode(status)
        # Linux counts ru_maxrss in KiB.
        self.peak_rss = usage.ru_maxrss * (1024 if sys.platform.startswith("linux") else 1)
        return True

    def wait(self, seconds: float | None = None) -> None:
        """Wait until the process ends, or its timeout passes (then kill it), or
        ``seconds`` pass (then return with it still running)."""
        remaining = None
        if self.timeout is not None:
            remaining = max(0.0, self.timeout - (time.monotonic() - self.started))
        limit = remaining if seconds is None or (remaining is not None and remaining <= seconds) else seconds
        deadline = None if limit is None else time.monotonic() + limit
        # Polled, not a blocking wait: only wait4 gives the peak memory (see _reaped).
        while not self._reaped():
            if deadline is not None and time.monotonic() >= deadline:
                if limit == remaining:
                    self.timed_out = True
                    self.kill()
                return
            time.sleep(REAP_POLL_SECONDS)

    def progress(self) -> EpochProgress | None:
        """The latest epoch the worker reported (see ``seqbench.worker``), or None."""
        try:
            progress: EpochProgress = json.loads(self.progress_path.read_text())
        except (OSError, ValueError):
            return None
        return progress

    def kill(self) -> None:
        """Kill the worker and every process of its group, and reap the worker."""
        if self.process.poll() is None:
            self._kill_group()
            self.process.kill()
        self.process.wait()

    def _kill_group(self) -> None:
        # The group's id is the worker's pid (start_new_session). While any member
        # lives the kernel does not hand that id out again; once none does, this finds
        # no group (ProcessLookupError).
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def record(self) -> Record:
        """The worker's record, or a ``failed`` one saying how the process ended. A
        failed one names this machine in its provenance, as a worker's record does: under
        Ray this runs on the node the point ran on, not where the sweep was started."""
        try:
            if self.result_path.exists() and not self.timed_out:
                return Record.from_json(self.result_path.read_text())
            failed = self._failed()
            failed.provenance.update(machine())
            return failed
        finally:
            self.close()

    def _failed(self) -> Record:
        if self.timed_out:
            return Record.failed(self.point, f"timed out after {self.timeout:g} s (run.timeout)", self._log_tail())
        code = self.process.returncode
        if code == -signal.SIGKILL:
            how = describe_sigkill(self.peak_rss, self._oom_kills_before)
        elif code is not None and code < 0:
            how = f"killed by signal {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        return Record.failed(self.point, f"worker process died ({how}) before writing a result", self._log_tail())

    def _log_tail(self) -> str:
        self._log.flush()
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def close(self) -> None:
        """Release the point: what its worker started and left running is killed (a
        point's processes end with it), its files removed, its lock let go."""
        self._kill_group()
        self._log.close()
        try:
            self._dir.cleanup()
        finally:
            if self._lock >= 0:
                os.close(self._lock)
                self._lock = -1
