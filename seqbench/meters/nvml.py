"""NVIDIA GPU energy, power, utilisation and memory per phase, through NVML.

Energy per phase comes from each GPU's total-energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules) where the GPU has one, else from
integrating power samples (``nvmlDeviceGetPowerUsage``, milliwatts) by the trapezoid
rule; the method is stored with the figure. A background sampler reads power,
utilisation and memory at ``run.sample_hz`` (10 Hz unless set). Idle power is measured
for a short window before the first phase; each phase reports its energy above idle
beside the total. See docs/measurement.md for what each figure means and its error.

``pynvml`` (nvidia-ml-py) is imported lazily here, never when seqbench is imported.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Mapping

from seqbench.meters.base import Meter
from seqbench.meters.sampler import Sample, Sampler, trapezoid

__all__ = [
    "NvmlMeter",
    "Unavailable",
    "start_nvml",
    "select_gpus",
    "text",
    "DEFAULT_SAMPLE_HZ",
    "SAMPLER_THREAD",
]

DEFAULT_SAMPLE_HZ = 10.0
SAMPLER_THREAD = "seqbench-nvml-sampler"


class Unavailable(Exception):
    """Why NVML cannot measure this run (the message is stored as the reason)."""


def start_nvml() -> tuple[ModuleType | None, str | None]:
    """Import pynvml and initialise NVML: ``(pynvml, None)``, or ``(None, why not)``.

    The caller owns the matching ``nvmlShutdown()``.
    """
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return None, _init_failure(pynvml, error)
    return pynvml, None


def _init_failure(nvml: ModuleType, error: Exception) -> str:
    if isinstance(error, nvml.NVMLError_LibraryNotFound):
        return "NVML library not found: no NVIDIA driver"
    if isinstance(error, nvml.NVMLError_DriverNotLoaded):
        return "NVIDIA driver not loaded"
    if isinstance(error, nvml.NVMLError_NoPermission):
        return "no permission to use NVML"
    return f"NVML failed to initialise: {error}"


def text(value: str | bytes) -> str:
    """NVML strings: str in nvidia-ml-py >= 11.5, bytes before."""
    return value.decode() if isinstance(value, bytes) else value


def select_gpus(device: str, visible: str | None, count: int) -> list[int | str]:
    """The NVML devices (indices, or UUIDs) that ``run.device`` means.

    CUDA numbers only the GPUs in ``CUDA_VISIBLE_DEVICES`` (``visible``), so ``cuda:N``
    is its N-th entry; ``cuda`` and ``auto`` mean every visible GPU, or GPU 0 when the
    variable is unset. Raises Unavailable naming why none can be measured.
    """
    if device == "cpu":
        raise Unavailable("run.device is cpu")
    if visible is not None:
        ids: list[int | str] = []
        for entry in (part.strip() for part in visible.split(",")):
            if entry.isdigit():
                ids.append(int(entry))
            elif entry.startswith(("GPU-", "MIG-")):
                ids.append(entry)
            else:
                break  # CUDA ignores an unparsable entry and every one after it
        if not ids:
            raise Unavailable(f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU")
    elif count == 0:
        raise Unavailable("NVML finds no GPU")
    else:
        ids = list(range(count))
    if device.startswith("cuda:"):
        number = int(device.split(":", 1)[1])
        if number >= len(ids):
            where = "CUDA_VISIBLE_DEVICES lists" if visible is not None else "NVML finds"
            raise Unavailable(f"run.device is {device} but {where} {len(ids)} GPU(s)")
        return [ids[number]]
    return ids if visible is not None else ids[:1]


@dataclass(frozen=True)
class Reading:
    """One GPU at one instant; None where the GPU does not report the quantity."""

    power_w: float | None
    utilization_gpu: float | None
    utilization_memory: float | None
    memory_used: int | None


class _Gpu:
    """One NVML device: its handle, and which readings it supports."""

    def __init__(self, nvml: ModuleType, ident: int | str) -> None:
        self.nvml = nvml
        self.label = str(ident)
        try:
            if isinstance(ident, int):
                self.handle = nvml.nvmlDeviceGetHandleByIndex(ident)
            else:
                self.handle = nvml.nvmlDeviceGetHandleByUUID(ident)
        except nvml.NVMLError as error:
            raise Unavailable(f"cannot open GPU {ident}: {error}") from None
        self.name = text(nvml.nvmlDeviceGetName(self.handle))
        self._unsupported: set[str] = set()
        self.has_counter = self._optional("energy", self._counter_mj) is not None
        self.has_power = self._optional("power", self._power_w) is not None
        if not (self.has_counter or self.has_power):
            raise Unavailable(f"GPU {ident} ({self.name}) reports neither energy nor power")

    def _optional(self, quantity: str, read: Callable[[], Any]) -> Any:
        """``read()``, or None once the GPU has said it does not support ``quantity``."""
        if quantity in self._unsupported:
            return None
        nvml = self.nvml
        try:
            return read()
        except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound):
            self._unsupported.add(quantity)
            return None

    def _counter_mj(self) -> int:
        return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def _power_w(self) -> float:
        return float(self.nvml.nvmlDeviceGetPowerUsage(self.handle)) / 1000.0

    def counter_mj(self) -> int | None:
        return self._counter_mj() if self.has_counter else None

    def read(self) -> Reading:
        utilization = self._optional(
            "utilization", lambda: self.nvml.nvmlDeviceGetUtilizationRates(self.handle)
        )
        memory = self._optional("memory", lambda: self.nvml.nvmlDeviceGetMemoryInfo(self.handle))
        return Reading(
            power_w=self._power_w() if self.has_power else None,
            utilization_gpu=float(utilization.gpu) if utilization is not None else None,
            utilization_memory=float(utilization.memory) if utilization is not None else None,
            memory_used=int(memory.used) if memory is not None else None,
        )


@dataclass
class _Window:
    """One measured stretch of time (a phase, or the idle window)."""

    started: float
    counters: list[int | None]
    sampler: Sampler[tuple[Reading, ...]]


def _power_series(samples: Samples, index: int) -> list[tuple[float, float]]:
    """(time, watts) of GPU ``index`` over the samples (those with a power reading)."""
    return [(s.t, power) for s in samples if (power := s.value[index].power_w) is not None]


def _time_mean(points: list[tuple[float, float]]) -> float | None:
    if not points:
        return None
    span = points[-1][0] - points[0][0]
    if len(points) < 2 or span <= 0:
        return sum(value for _, value in points) / len(points)
    return trapezoid(points) / span


Samples = list[Sample[tuple[Reading, ...]]]


def _series(
    samples: Samples, pick: Callable[[Reading], Any], total: Callable[[list[Any]], float]
) -> list[tuple[float, float]]:
    """(t, combined value) over samples where every GPU reported the quantity."""
    series = []
    for sample in samples:
        values = [pick(reading) for reading in sample.value]
        if values and all(value is not None for value in values):
            series.append((sample.t, total(values)))
    return series


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class NvmlMeter(Meter):
    name = "nvml"
    description = (
        "NVIDIA GPU energy per phase (energy counter, else integrated power samples), "
        "idle power and energy above idle, mean/peak power, utilisation, peak memory"
    )
    idle_seconds = 0.5  # the idle window before the first phase

    def __init__(self, device: str, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(device, settings)
        self.sample_hz = float(self.settings.get("sample_hz") or DEFAULT_SAMPLE_HZ)
        self._nvml: ModuleType | None = None
        self._gpus: list[_Gpu] = []
        self._idle_w: float | None = None
        self._window: _Window | None = None

    def unavailable(self) -> str | None:
        if self.device == "cpu":
            return "run.device is cpu"
        nvml, reason = start_nvml()
        if nvml is None:
            return reason
        self._nvml = nvml
        try:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            idents = select_gpus(self.device, visible, nvml.nvmlDeviceGetCount())
            self._gpus = [_Gpu(nvml, ident) for ident in idents]
        except Unavailable as why:
            return str(why)
        except nvml.NVMLError as error:
            return f"NVML: {error}"
        return None

    def start(self, phase: str) -> None:
        self._end_window()
        if self._idle_w is None:
            self._idle_w = self._measure_idle()
        self._window = self._open_window()

    def read(self, phase: str) -> dict[str, Any]:
        window = self._window
        if window is None:
            return {}
        window.sampler.sample_now()
        counters = [gpu.counter_mj() for gpu in self._gpus]
        return self._figures(window, window.sampler.samples(), time.monotonic(), counters)

    def stop(self, phase: str) -> dict[str, Any]:
        window, self._window = self._window, None
        if window is None:
            return {}
        problems = []
        assert self._nvml is not None  # a window is open only while NVML is
        try:
            window.sampler.stop()
        except self._nvml.NVMLError as error:  # the last sample; the thread is joined
            problems.append(f"last sample: {error}")
        ended = time.monotonic()
        counters = [gpu.counter_mj() for gpu in self._gpus]
        figures = self._figures(window, window.sampler.samples(), ended, counters)
        stopped_by = window.sampler.error
        if stopped_by is not None:
            problems.insert(0, f"sampler stopped: {type(stopped_by).__name__}: {stopped_by}")
        if problems:
            figures["sampler_error"] = "; ".join(problems)
        return figures

    def close(self) -> None:
        try:
            self._end_window()
        finally:
            nvml, self._nvml = self._nvml, None
            if nvml is not None:
                try:
                    nvml.nvmlShutdown()
                except nvml.NVMLError:
                    pass

    def _end_window(self) -> None:
        window, self._window = self._window, None
        if window is not None:
            window.sampler.stop(final_sample=False)

    def _open_window(self) -> _Window:
        sampler = Sampler(self._probe, self.sample_hz, name=SAMPLER_THREAD)
        sampler.start()  # its first sample, then the counters: together, the window's start
        try:
            counters = [gpu.counter_mj() for gpu in self._gpus]
        except BaseException:
            sampler.stop(final_sample=False)
            raise
        return _Window(started=time.monotonic(), counters=counters, sampler=sampler)

    def _probe(self) -> tuple[Reading, ...]:
        return tuple(gpu.read() for gpu in self._gpus)

    def _measure_idle(self) -> float:
        """Mean power over a short window before any work: the time-average of power
        samples (steady at idle), or the energy counter where a GPU reports no power."""
        window = self._open_window()
        try:
            time.sleep(self.idle_seconds)
        finally:
            window.sampler.stop()
        ended = time.monotonic()
        seconds = ended - window.started
        samples = window.sampler.samples()
        total = 0.0
        for index, gpu in enumerate(self._gpus):
            if gpu.has_power:
                total += _time_mean(_power_series(samples, index)) or 0.0
            else:
                end, start = gpu.counter_mj(), window.counters[index]
                assert end is not None and start is not None  # no power readings: a counter
                total += (end - start) / 1000.0 / seconds
        return total

    def _energy(
        self, index: int, window: _Window, samples: Samples, counter_end: int | None
    ) -> tuple[float, str, float | None]:
        """(joules, method, integrated joules or None) of one GPU over the window."""
        gpu = self._gpus[index]
        integrated = None
        if gpu.has_power:
            integrated = trapezoid(_power_series(samples, index))
        start = window.counters[index]
        # A counter that went backwards was reset (driver reload): fall back to samples.
        if start is not None and counter_end is not None and counter_end >= start:
            return (counter_end - start) / 1000.0, "counter", integrated
        if integrated is None:
            raise Unavailable(f"GPU {gpu.label}: energy counter reset and no power readings")
        return integrated, "integrated", integrated

    def _figures(
        self, window: _Window, samples: Samples, ended: float, counters: list[int | None]
    ) -> dict[str, Any]:
        seconds = ended - window.started
        per_gpu = [self._energy(i, window, samples, counters[i]) for i in range(len(self._gpus))]
        energy = sum(joules for joules, _, _ in per_gpu)
        methods = {method for _, method, _ in per_gpu}
        integrated = [joules for _, _, joules in per_gpu]
        power = _series(samples, lambda r: r.power_w, sum)
        utilization = _series(samples, lambda r: r.utilization_gpu, _mean)
        utilization_memory = _series(samples, lambda r: r.utilization_memory, _mean)
        memory = _series(samples, lambda r: r.memory_used, sum)
        idle = self._idle_w
        return {
            "gpus": ",".join(gpu.label for gpu in self._gpus),
            "seconds": seconds,
            "energy_j": energy,
            "energy_method": methods.pop() if len(methods) == 1 else "counter+integrated",
            "integrated_energy_j": sum(integrated) if None not in integrated else None,
            "idle_power_w": idle,
            "energy_above_idle_j": energy - idle * seconds if idle is not None else None,
            "mean_power_w": energy / seconds if seconds > 0 else None,
            "peak_power_w": max(value for _, value in power) if power else None,
            "utilization_gpu_mean_pct": _time_mean(utilization),
            "utilization_gpu_peak_pct": max(v for _, v in utilization) if utilization else None,
            "utilization_memory_mean_pct": _time_mean(utilization_memory),
            "memory_peak_bytes": max(value for _, value in memory) if memory else None,
            "samples": len(samples),
        }
