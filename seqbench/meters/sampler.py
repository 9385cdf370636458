"""A background sampler: calls a probe at a fixed rate in a daemon thread.

Each sample is stamped with ``time.monotonic()`` at the middle of the probe call, so
integrals over samples (energy from power) use the times the readings were taken,
not the times they were due.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Generic, Sequence, TypeVar

__all__ = ["Sample", "Sampler", "trapezoid", "middle"]

T = TypeVar("T")


@dataclass(frozen=True)
class Sample(Generic[T]):
    t: float  # time.monotonic() seconds
    value: T


def trapezoid(points: Sequence[tuple[float, float]]) -> float:
    """The integral of (t, y) points by the trapezoid rule, in time order."""
    ordered = sorted(points)
    return sum(
        (t1 - t0) * (y0 + y1) / 2 for (t0, y0), (t1, y1) in zip(ordered, ordered[1:])
    )


class Sampler(Generic[T]):
    """Calls ``probe()`` every ``1 / hz`` seconds in a daemon thread between ``start()``
    and ``stop()``.

    ``start`` takes a first sample once the thread has started and ``stop`` a last one
    after joining it, so the samples always span the whole measured window. A probe
    that raises in the thread costs that tick's sample only: sampling goes on, the
    first exception is kept in ``error`` and ``failures`` counts them (a probe that
    ended the thread at its first error left the rest of the window without samples,
    and integrals bridged the gap as if it had been sampled). A probe slower than
    the period makes the sampler skip ticks, never catch up in a burst.
    """

    def __init__(self, probe: Callable[[], T], hz: float, name: str = "seqbench-sampler") -> None:
        if not hz > 0 or math.isinf(hz):
            raise ValueError(f"sample rate must be a positive number of Hz, got {hz!r}")
        self.probe = probe
        self.hz = hz
        self.period = 1.0 / hz
        self.name = name
        self.error: BaseException | None = None
        self.failures = 0
        self._samples: list[Sample[T]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already running")
        with self._lock:
            self._samples = []
        self.error = None
        self.failures = 0
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        # Starting a thread can take milliseconds on a busy machine: the first sample
        # is taken after it, so it marks the start of the measured window.
        self._thread.start()
        try:
            self.sample_now()
        except BaseException:
            self.stop(final_sample=False)
            raise

    def stop(self, final_sample: bool = True) -> list[Sample[T]]:
        """Stop and join the thread (idempotent); take a last sample; return them all.

        The last sample's probe may raise (a GPU that went away): the thread is
        joined first either way.
        """
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join()
            if final_sample:
                self.sample_now()
        return self.samples()

    def sample_now(self) -> Sample[T]:
        """Take one sample on the calling thread and keep it with the others."""
        before = time.monotonic()
        value = self.probe()
        sample = Sample(middle(before), value)
        with self._lock:
            self._samples.append(sample)
        return sample

    def samples(self) -> list[Sample[T]]:
        """The samples so far, in time order."""
        with self._lock:
            return sorted(self._samples, key=lambda sample: sample.t)

    def _loop(self) -> None:
        due = time.monotonic() + self.period
        while not self._stopping.wait(max(0.0, due - time.monotonic())):
            try:
                self.sample_now()
            except Exception as error:  # kept for the meter to report; sampling goes on
                self.failures += 1
                if self.error is None:
                    self.error = error
            due += self.period
            late = time.monotonic() - due
            if late > 0:
                due += math.ceil(late / self.period) * self.period

    def __enter__(self) -> "Sampler[T]":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(final_sample=False)


def middle(before: float, clock: Callable[[], float] = time.monotonic) -> float:
    """The instant counter readings just taken stand for: midway between ``before`` (the
    clock read just before them) and now. A clock read on one side of the readings puts
    them early or late by the readings' time and any wait for a core between them: a
    phase's mean power came out high (+6.6% on a 0.1 s phase of a loaded 2-core
    machine), an idle window's rate low (230 W for 250 over 50 ms)."""
    return (before + clock()) / 2
