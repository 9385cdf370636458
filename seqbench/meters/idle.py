"""A GPU's idle power and its energy counter's update interval, measured once per GPU
per sweep and shared by the sweep's workers through a small cache file.

Idle power is the energy counter's rate over a settle window of a few seconds: the
counter integrates the board's power, so its rate is the true mean power, whereas
``nvmlDeviceGetPowerUsage`` is a moving average (about one second on Ampere and
Hopper) that still remembers the previous point's work. The counter is read every
couple of milliseconds, each reading stamped with the middle of the clock readings
around it; the rate is the least-squares slope through its *updates* (the driver
refreshes it only every few tens of milliseconds), and the spacing of those updates is
the counter's update interval. Without a counter, the time-average of
power samples is used instead, and the method says so; likewise where the counter did
not move at all in the window while power read above zero (a stuck counter).

The GPU's process lists are read with the power samples: a window in which another
process held a context on the GPU is not idle. Its figure says who was there
(``other_pids``) and is not cached, so the next point measures again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from seqbench.meters.sampler import middle, trapezoid

__all__ = ["IdleFigure", "measure_idle", "IdleCache", "CACHE_VARIABLE", "MAX_AGE_S"]

CACHE_VARIABLE = "SEQBENCH_GPU_IDLE_CACHE"
MAX_AGE_S = 1800.0  # a sweep that ran longer measures idle again, before its next point
POLL_S = 0.002  # how often the counter is read while idle
POWER_EVERY_S = 0.05  # how often power is sampled (the fallback without a counter)


class IdleGpu(Protocol):
    uuid: str
    has_counter: bool
    has_power: bool
    power_source: str

    def counter_mj(self) -> int | None: ...

    def power_w(self) -> float | None: ...


def _others(gpu: IdleGpu) -> frozenset[int] | None:
    """The processes other than this one listed on the GPU, or None where NVML does not
    list them (or the GPU object cannot say)."""
    read = getattr(gpu, "processes", None)
    found = read() if read is not None else None
    return None if found is None else frozenset(found) - {os.getpid()}


@dataclass(frozen=True)
class IdleFigure:
    """One GPU's idle power, how it was measured, and its counter's update interval."""

    uuid: str
    power_w: float | None  # None: no plausible reading at all
    method: str  # "counter_rate", or "power_samples (instant|average)"
    window_s: float
    counter_interval_s: float | None  # None: no counter, or no two updates in the window
    measured_at: float  # time.time()
    # Other processes listed on the GPU during the window ([]: none; None: not listed).
    other_pids: list[int] | None = None
    note: str | None = None  # why the figure is not what the method promises

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _interval(changes: list[tuple[float, int]]) -> float | None:
    gaps = [b[0] - a[0] for a, b in zip(changes, changes[1:])]
    return statistics.median(gaps) if gaps else None


def _stamped(gpu: IdleGpu, clock: Callable[[], float]) -> tuple[float, int | None]:
    """The counter and the moment it stands for (``middle``: a clock read before the
    counter alone, as it once was, read 230 W for 250 on a loaded CI machine)."""
    before = clock()
    value = gpu.counter_mj()
    return middle(before, clock), value


def _slope(points: list[tuple[float, int]]) -> float:
    """The counter's rate (millijoules a second): the least-squares slope through its
    updates, so one reading delayed (a wait for a core) moves it by its share of all of
    them, not as one of two endpoints."""
    times = [t for t, _ in points]
    mean_t = statistics.fmean(times)
    mean_j = statistics.fmean(j for _, j in points)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0.0:  # every update at one stamp (a coarse or fake clock): no slope to fit
        return math.nan
    return sum((t - mean_t) * (j - mean_j) for t, j in points) / spread


def measure_idle(gpus: Sequence[IdleGpu], seconds: float, clock: Callable[[], float] = time.monotonic) -> list[IdleFigure]:
    """Watch ``gpus`` together for ``seconds`` with no work of ours on them. A counter
    that steps back during the window is measured from the step on."""
    started = clock()
    firsts = [_stamped(gpu, clock) for gpu in gpus]
    first = [value for _, value in firsts]
    since = [stamp for stamp, _ in firsts]  # when each counter's usable stretch began
    changes: list[list[tuple[float, int]]] = [[] for _ in gpus]
    last = list(first)
    powers: list[list[tuple[float, float]]] = [[] for _ in gpus]
    others: list[set[int] | None] = [None for _ in gpus]
    next_power = started
    now = started
    while True:
        now = clock()
        for index, gpu in enumerate(gpus):
            stamp, value = _stamped(gpu, clock) if gpu.has_counter else (now, None)
            previous = last[index]
            if value is not None and previous is not None and value < previous:
                # The counter went backwards (a driver reload, a wrap): only what
                # follows the step can be used.
                first[index], since[index], changes[index] = value, stamp, []
            elif value is not None and value != previous:
                changes[index].append((stamp, value))
            last[index] = value if value is not None else previous
        if now >= next_power:
            for index, gpu in enumerate(gpus):
                if gpu.has_power:
                    power = gpu.power_w()
                    if power is not None:
                        powers[index].append((now, power))
                found = _others(gpu)
                if found is not None:
                    others[index] = (others[index] or set()) | found
            next_power += POWER_EVERY_S
        if now - started >= seconds:
            break
        time.sleep(POLL_S)
    window = now - started
    figures = []
    for index, gpu in enumerate(gpus):
        seen, start, end = changes[index], first[index], last[index]
        samples = powers[index]
        span = samples[-1][0] - samples[0][0] if len(samples) > 1 else 0.0
        mean = trapezoid(samples) / span if span > 0 else (samples[0][1] if samples else None)
        rate = _slope(seen) if gpu.has_counter and len(seen) >= 2 else math.nan
        note = None
        idle_w: float | None
        if math.isfinite(rate):
            idle_w, method = rate / 1000.0, "counter_rate"
        elif gpu.has_counter and not seen and mean:
            # Not one update while the board drew power: a stuck counter, not 0 W.
            idle_w, method = mean, f"power_samples ({gpu.power_source})"
            note = (f"energy counter did not advance in the {window:.3g} s window while power read "
                    f"{mean:.4g} W; power samples used instead")
        elif gpu.has_counter and start is not None and end is not None and now > since[index]:
            # Fewer than two updates in the window: the coarse difference is all there is.
            idle_w, method = (end - start) / 1000.0 / (now - since[index]), "counter_rate"
        else:
            idle_w, method = mean, f"power_samples ({gpu.power_source})"
            if mean is None and gpu.has_power:
                note = "no plausible power reading in the window"
        pids = others[index]
        if pids:
            busy = f"other processes on the GPU during the window ({','.join(map(str, sorted(pids)))}): not idle"
            note = f"{note}; {busy}" if note else busy
        figures.append(
            IdleFigure(
                uuid=gpu.uuid,
                power_w=idle_w,
                method=method,
                window_s=window,
                counter_interval_s=_interval(seen) if gpu.has_counter else None,
                measured_at=time.time(),
                other_pids=sorted(pids) if pids is not None else None,
                note=note,
            )
        )
    return figures


def _default_path() -> Path:
    """One file per sweep process (the local executor's workers are its children; under
    Ray, the Ray worker's); files whose process is gone are removed."""
    directory = Path(tempfile.gettempdir())
    prefix = f"seqbench-gpu-idle-{os.getuid()}-"
    for old in directory.glob(f"{prefix}*.json"):
        owner = old.stem[len(prefix):]
        if owner.isdigit() and not _alive(int(owner)):
            with contextlib.suppress(OSError):
                old.unlink()
    return directory / f"{prefix}{os.getppid()}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class IdleCache:
    """Idle figures by GPU UUID, in a JSON file the sweep's workers share (locked while
    read and written, so two workers never measure the same GPU's idle at once)."""

    def __init__(self, path: Path | None = None, max_age_s: float = MAX_AGE_S) -> None:
        configured = os.environ.get(CACHE_VARIABLE)
        self.path = path or (Path(configured) if configured else _default_path())
        self.max_age_s = max_age_s

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The cached figures, under an exclusive lock; changes are written back."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            try:
                entries = json.loads(handle.read() or "{}")
            except json.JSONDecodeError:
                entries = {}
            before = json.dumps(entries, sort_keys=True)
            yield entries
            if json.dumps(entries, sort_keys=True) != before:
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(entries))
                handle.flush()

    def fresh(self, entries: dict[str, dict[str, Any]], uuid: str) -> IdleFigure | None:
        entry = entries.get(uuid)
        if not entry or time.time() - entry.get("measured_at", 0) > self.max_age_s:
            return None
        try:
            return IdleFigure(**entry)
        except TypeError:
            return None
