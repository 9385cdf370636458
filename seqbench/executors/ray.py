"""The ``ray`` executor: each point a Ray task that runs it in a fresh subprocess.

The task reuses the local executor's :class:`WorkerProcess` (``python -m seqbench.worker``
on the Ray worker's machine), so a point behaves the same under both executors: the
same record, the same ``run.timeout``, the same failed record when the point raises.
Only the point (as JSON) travels to the worker and only its record travels back; the
driver writes each record to the store as it arrives. seqbench and the plugins a suite
uses must be installed on every Ray node (docs/scaling.md).

Ray itself is imported only when this executor is used, never when seqbench is.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import signal
import socket
import threading
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Iterator, Sequence

import click

from seqbench.errors import UserError
from seqbench.executors.base import Executor, ProgressCallback, StartCheck
from seqbench.executors.gpus import device_of, needs_gpu, pinned_index
from seqbench.executors.local import THREAD_VARIABLES
from seqbench.executors.subprocess_worker import WorkerProcess, remove_stale_point_dirs
from seqbench.point import Point
from seqbench.record import Record
from seqbench.threads import POINT_CPUS_VARIABLE

__all__ = ["RayExecutor", "PointProcessDied", "run_point_task", "INSTALL_HINT", "MAX_RETRIES"]

INSTALL_HINT = "pip install 'seqbench[ray]'"
# A point whose process or Ray worker dies is tried this many more times, then stored
# as failed. A point that raises, returns NaN or times out is not retried: it would
# fail the same way again.
MAX_RETRIES = 2
CPUS_PER_POINT = 1
MAX_JOBS = 4096  # --jobs above this is refused: a typo, not a cluster
# Only records (a few kB each) pass through the object store; Ray's default would
# reserve 30% of the machine's memory for it.
LOCAL_OBJECT_STORE_BYTES = 128 * 1024**2
WAIT_SECONDS = 0.5  # how often the driver wakes from ray.wait, so Ctrl-C is seen promptly
CONNECT_SECONDS = 5.0


class PointProcessDied(Exception):
    """The point's process ended without writing a record (killed, crashed). Raised from
    the Ray task so that Ray retries it; carries the failed record of the last attempt."""

    def __init__(self, record: Record) -> None:
        super().__init__(record)
        self.record = record

    def __str__(self) -> str:
        return str(self.record.error)


def run_point_task(point_json: str, env: dict[str, str]) -> Record:
    """The body of each Ray task: one point in a fresh ``python -m seqbench.worker``."""
    remove_stale_point_dirs()  # left by an earlier attempt whose Ray worker was killed
    worker = WorkerProcess(Point.from_json(point_json), env)
    worker.wait()
    died = not worker.timed_out and not worker.result_path.exists()
    record = worker.record()
    if died:
        raise PointProcessDied(record)
    return record


def import_ray(local: bool) -> ModuleType:
    """Ray, set up for a Ray on this machine (``local``: an instance of our own, or one
    addressed through loopback) or for joining a cluster elsewhere."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from a sweep
    if local:
        # Ray then addresses this node through 127.0.0.1 rather than the machine's
        # network address: nothing of a local sweep goes near the network. Ray reads
        # this when it is first imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def _host_port(address: str, named: str) -> tuple[str, int] | None:
    """(host, port) of ``HOST:PORT`` or ``ray://HOST:PORT``; None for ``auto``."""
    if address == "auto":
        return None
    host, colon, port = address.split("://", 1)[-1].rpartition(":")
    if not colon or not host or not port.isdigit():
        raise UserError(f"{named} {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_reachable(address: str, named: str) -> None:
    # ray.init retries an address where nothing listens for minutes, printing as it
    # goes: fail at once instead, before anything runs.
    where = _host_port(address, named)
    if where is None:
        return
    try:
        socket.create_connection(where, timeout=CONNECT_SECONDS).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UserError(
            f"{named} {address}: nothing answers there ({reason}); start the cluster first "
            "(ray start --head) or check the address"
        ) from None


def _silence_driver_prints(ray: ModuleType) -> None:
    # Ray prints each task retry and worker death onto the driver's stdout (from the
    # raylet, whatever log_to_driver says), with no public switch; seqbench reports
    # every point's fate itself, so those lines would only interleave with its output.
    worker_module = getattr(getattr(ray, "_private", None), "worker", None)
    if worker_module is not None and hasattr(worker_module, "_worker_logs_enabled"):
        worker_module._worker_logs_enabled = False


# The signals seqbench's CLI stops a sweep on (seqbench.cli: SIGINT, SIGTERM, SIGHUP).
_KEPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """Run ``ray.init`` without letting it replace the process's signal handlers: it
    installs a SIGTERM handler that calls ``sys.exit``, which a sweep would report as a
    broken executor (exit 2) instead of stopping as a SIGTERM should (exit 143, what
    was kept said: Slurm stops jobs with SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread has handlers to set, and Ray leaves them alone there
        return
    kept = {number: signal.getsignal(number) for number in _KEPT_SIGNALS}
    try:
        yield
    finally:
        for number, handler in kept.items():
            if handler is not None:  # None: a handler not set from Python, which we cannot restore
                signal.signal(number, handler)


class RayExecutor(Executor):
    name = "ray"
    description = (
        "each point a Ray task (a fresh subprocess on a Ray worker), one GPU each where "
        f"the cluster has GPUs; --ray-address joins a cluster, else a local instance starts ({INSTALL_HINT})"
    )

    def __init__(
        self, jobs: int | None = None, address: str | None = None, max_retries: int = MAX_RETRIES,
        **options: Any,
    ) -> None:
        super().__init__(jobs, **options)
        if jobs is not None and jobs > MAX_JOBS:
            raise UserError(f"--jobs {jobs}: the ray executor keeps at most {MAX_JOBS} points in "
                            f"flight; give a smaller --jobs")
        # `ray job submit` sets RAY_ADDRESS for its entrypoint: honour it, as ray.init does.
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self._named = "--ray-address" if address else "$RAY_ADDRESS"
        where = _host_port(self.address, self._named) if self.address else None
        self.max_retries = max_retries
        self._ray = import_ray(local=self.address is None or (where is not None and _is_loopback(where[0])))
        self._connected_here = False
        self._pending: dict[Any, Point] = {}

    def check(self, points: Sequence[Point]) -> None:
        if self.address is not None and not self._ray.is_initialized():
            _check_reachable(self.address, self._named)
        pinned = next((p for p in points if (pinned_index(p) or 0) > 0), None)
        if pinned is not None:
            raise UserError(
                f"suite {pinned.suite}: run.device = {pinned.run.device!r} names one GPU, but on Ray "
                f'each point is given its own GPU, which it sees as cuda:0; use device = "cuda" or "auto"'
            )

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return  # this process already holds a connection (a notebook, a test): use it as is
        quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
        if self.address is None:
            cpus = self.jobs or os.cpu_count() or 1
            with _signal_handlers_kept():
                ray.init(
                    address="local", num_cpus=cpus, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                    include_dashboard=False, **quiet,
                )
            where = "started a local Ray instance"
        else:
            try:
                with _signal_handlers_kept():
                    ray.init(address=self.address, **quiet)
            except (ConnectionError, ValueError, RuntimeError) as error:
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise UserError(f"{self._named} {self.address}: cannot connect: {first_line}") from None
            where = f"connected to the Ray cluster at {self.address}"
        self._connected_here = True
        _silence_driver_prints(ray)
        resources = ray.cluster_resources()
        click.echo(
            f"ray: {where}: {resources.get('CPU', 0):g} CPU(s), {resources.get('GPU', 0):g} GPU(s)",
            err=True,
        )

    def run(self, points: Sequence[Point], on_progress: ProgressCallback | None = None,
            may_start: StartCheck | None = None) -> Iterator[Record]:
        # on_progress is never called: the workers' progress files are on other machines.
        # may_start is asked as each task is submitted: with --jobs N the rest wait here
        # and are asked in turn; without it every point is submitted at once, and a task
        # Ray holds is not asked again.
        self._connect()
        ray = self._ray
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        task = ray.remote(run_point_task)
        limit = self.jobs or len(points)
        queue = list(points)
        try:
            while queue or self._pending:
                while queue and len(self._pending) < limit:
                    point = queue.pop(0)
                    if may_start is not None and not may_start(point):
                        continue  # another run took it: it runs there
                    # "auto" takes a GPU where the cluster has one; "cuda" insists on it.
                    gpu = needs_gpu(point) and (has_gpus or device_of(point) != "auto")
                    if gpu and not has_gpus:
                        yield Record.failed(
                            point, f"run.device is {device_of(point)!r} but the Ray cluster has no GPU"
                        )
                        continue
                    ref = task.options(
                        name=f"seqbench {point.label()}",
                        num_cpus=CPUS_PER_POINT,
                        num_gpus=1 if gpu else 0,
                        max_retries=self.max_retries,
                        retry_exceptions=[PointProcessDied],
                    ).remote(point.to_json(), self._env(gpu))
                    self._pending[ref] = point
                if not self._pending:
                    continue
                done, _ = ray.wait(list(self._pending), num_returns=1, timeout=WAIT_SECONDS)
                for ref in done:
                    yield self._record(ref, self._pending.pop(ref))
        finally:
            self._cancel_pending()

    def _env(self, gpu: bool) -> dict[str, str]:
        env = {name: str(CPUS_PER_POINT) for name in THREAD_VARIABLES}
        env[POINT_CPUS_VARIABLE] = str(CPUS_PER_POINT)  # run.threads = "auto" (seqbench.threads)
        if not gpu:
            env["CUDA_VISIBLE_DEVICES"] = ""  # Ray sets it for GPU tasks; the rest see none
        return env

    def _record(self, ref: Any, point: Point) -> Record:
        ray = self._ray
        attempts = f"each of its {self.max_retries + 1} attempts"
        try:
            record: Record = ray.get(ref)
            return record
        except PointProcessDied as error:  # ray.get raises a RayTaskError that is also one
            died: Record = getattr(error, "cause", error).record
            return dataclasses.replace(died, error=f"{died.error}, on {attempts}")
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.LocalRayletDiedError,
            ray.exceptions.OutOfMemoryError,
        ) as error:
            return Record.failed(
                point, f"the Ray worker running this point died, on {attempts}", str(error)
            )
        except ray.exceptions.RayError as error:
            summary = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return Record.failed(point, f"Ray: {type(error).__name__}: {summary}", str(error))

    def _cancel_pending(self) -> None:
        # Force: the Ray worker is killed, and its point process dies with it (PDEATHSIG).
        pending, self._pending = self._pending, {}
        for ref in pending:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished, or the connection is gone
                pass

    def close(self) -> None:
        self._cancel_pending()
        if self._connected_here:
            self._connected_here = False
            self._ray.shutdown()
