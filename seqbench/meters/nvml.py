"""NVIDIA GPU energy, power, utilisation and memory per phase, through NVML, for the
GPUs the point's model runs on and no others.

The meter is given the device the built model reports (``cpu``, ``cuda:0``, or several
joined by commas); ``cuda:N`` is entry N of ``CUDA_VISIBLE_DEVICES`` (workers number
GPUs in PCI order, as NVML does), opened by index or UUID and recorded by UUID.

Energy per phase comes from each GPU's total-energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules) where the GPU has one, else from
integrating power samples by the trapezoid rule; the method is stored with the figure.
Power is the instantaneous reading (field ``NVML_FI_DEV_POWER_INSTANT``) where the
driver has it, else ``nvmlDeviceGetPowerUsage``'s moving average; ``power_source``
says which. A background sampler reads power, utilisation and memory at
``run.sample_hz`` (10 Hz unless set). Idle power and the counter's update interval
come from seqbench.meters.idle, measured once per GPU per sweep before the model is
built; each phase reports its energy above idle beside the total, and flags itself
when it spans too few counter updates. See docs/measurement.md.

``pynvml`` (nvidia-ml-py) is imported lazily here, never when seqbench is imported.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Mapping

from seqbench.meters.base import Meter
from seqbench.meters.idle import IdleCache, IdleFigure, measure_idle
from seqbench.meters.nvml_lib import CPU_REASON, Unavailable, select_gpus, start_nvml, text, visible_ids
from seqbench.meters.sampler import Sample, Sampler, trapezoid

__all__ = [
    "NvmlMeter",
    "Unavailable",
    "start_nvml",
    "select_gpus",
    "visible_ids",
    "CPU_REASON",
    "text",
    "DEFAULT_SAMPLE_HZ",
    "SAMPLER_THREAD",
]

DEFAULT_SAMPLE_HZ = 10.0
SAMPLER_THREAD = "seqbench-nvml-sampler"
# A phase spanning fewer counter updates than this has edge errors of a sizeable share
# of its energy (each edge is off by up to one interval x power).
MIN_COUNTER_UPDATES = 5


@dataclass(frozen=True)
class Reading:
    """One GPU at one instant; None where the GPU does not report the quantity."""

    power_w: float | None
    utilization_gpu: float | None
    utilization_memory: float | None
    memory_used: int | None


class _Gpu:
    """One NVML device: its handle and UUID, and which readings it supports."""

    def __init__(self, nvml: ModuleType, ident: int | str) -> None:
        self.nvml = nvml
        try:
            if isinstance(ident, int):
                self.handle = nvml.nvmlDeviceGetHandleByIndex(ident)
            else:
                self.handle = nvml.nvmlDeviceGetHandleByUUID(ident)
        except nvml.NVMLError as error:
            raise Unavailable(f"cannot open GPU {ident}: {error}") from None
        self.name = text(nvml.nvmlDeviceGetName(self.handle))
        self.uuid = text(nvml.nvmlDeviceGetUUID(self.handle))
        self.label = self.uuid
        self._unsupported: set[str] = set()
        self._instant_field = getattr(nvml, "NVML_FI_DEV_POWER_INSTANT", None)
        self.has_counter = self._optional("energy", self._counter_mj) is not None
        self.has_instant = self._instant_power_w() is not None
        self.has_power = self.has_instant or self._optional("power", self._average_power_w) is not None
        self.power_source = "instant" if self.has_instant else "average" if self.has_power else "none"
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

    def _average_power_w(self) -> float:
        return float(self.nvml.nvmlDeviceGetPowerUsage(self.handle)) / 1000.0

    def _instant_power_w(self) -> float | None:
        """Instantaneous power from the field-values call (drivers 535 and later on
        recent GPUs), or None where the driver does not support the field."""
        if self._instant_field is None:
            return None
        values = self._optional(
            "instant", lambda: self.nvml.nvmlDeviceGetFieldValues(self.handle, [self._instant_field])
        )
        if not values or values[0].nvmlReturn != self.nvml.NVML_SUCCESS:
            return None
        value = values[0]
        if value.valueType == getattr(self.nvml, "NVML_VALUE_TYPE_DOUBLE", 0):
            return float(value.value.dVal) / 1000.0
        return float(value.value.uiVal) / 1000.0

    def power_w(self) -> float | None:
        if self.has_instant:
            return self._instant_power_w()
        return self._average_power_w() if self.has_power else None

    def counter_mj(self) -> int | None:
        return self._counter_mj() if self.has_counter else None

    def read(self) -> Reading:
        utilization = self._optional(
            "utilization", lambda: self.nvml.nvmlDeviceGetUtilizationRates(self.handle)
        )
        memory = self._optional("memory", lambda: self.nvml.nvmlDeviceGetMemoryInfo(self.handle))
        return Reading(
            power_w=self.power_w(),
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
        "NVIDIA GPU energy per phase for the GPUs the model uses (energy counter, else "
        "integrated power), idle power from the counter's rate, energy above idle, "
        "mean/peak power, utilisation, peak memory"
    )
    # The settle window idle power is measured over (SEQBENCH_GPU_IDLE_SECONDS to change).
    idle_seconds = float(os.environ.get("SEQBENCH_GPU_IDLE_SECONDS") or 3.0)

    def __init__(self, device: str, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(device, settings)
        self.sample_hz = float(self.settings.get("sample_hz") or DEFAULT_SAMPLE_HZ)
        self._nvml: ModuleType | None = None
        self._gpus: list[_Gpu] = []
        self._idle: list[IdleFigure] | None = None
        self._window: _Window | None = None

    @classmethod
    def prepare(cls, settings: Mapping[str, Any]) -> None:
        """Before the model is built (no CUDA context of ours yet): measure idle power of
        every GPU this worker can see, unless this sweep already did recently."""
        if str(settings.get("device") or "auto") == "cpu":
            return
        nvml, _ = start_nvml()
        if nvml is None:
            return
        try:
            ids = visible_ids(os.environ.get("CUDA_VISIBLE_DEVICES"), nvml.nvmlDeviceGetCount())
            _idle_figures(cls.idle_seconds, [_Gpu(nvml, ident) for ident in ids])
        except (Unavailable, nvml.NVMLError):
            pass  # the meter itself will say why, when it is opened
        finally:
            _shutdown(nvml)

    def unavailable(self) -> str | None:
        try:
            select_gpus(self.device, None, 1)  # a point on the CPU needs no NVML at all
        except Unavailable as why:
            if str(why) == CPU_REASON:
                return CPU_REASON
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
        if self._idle is None:
            # Not prepared before the model was built (a meter used on its own): now.
            self._idle = _idle_figures(self.idle_seconds, self._gpus)
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
                _shutdown(nvml)

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

    def _resolution(self, seconds: float, methods: set[str]) -> dict[str, Any]:
        """How many counter updates the phase spans, and whether that is too few."""
        intervals = [f.counter_interval_s for f in self._idle or [] if f.counter_interval_s]
        if "counter" not in methods or not intervals:
            return {"counter_interval_s": None, "counter_updates": None, "short_phase": None}
        interval = max(intervals)
        updates = seconds / interval
        return {
            "counter_interval_s": interval,
            "counter_updates": updates,
            "short_phase": updates < MIN_COUNTER_UPDATES,
        }

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
        idle_figures = self._idle or []
        idle = sum(f.power_w for f in idle_figures) if idle_figures else None
        sources = {gpu.power_source for gpu in self._gpus}
        return {
            "gpus": ",".join(gpu.uuid for gpu in self._gpus),
            "gpu_names": ",".join(gpu.name for gpu in self._gpus),
            "seconds": seconds,
            "energy_j": energy,
            "energy_method": methods.pop() if len(methods) == 1 else "counter+integrated",
            **self._resolution(seconds, {m for _, m, _ in per_gpu}),
            "integrated_energy_j": sum(integrated) if None not in integrated else None,
            "power_source": sources.pop() if len(sources) == 1 else "+".join(sorted(sources)),
            "idle_power_w": idle,
            "idle_method": ",".join(sorted({f.method for f in idle_figures})) or None,
            "idle_window_s": min((f.window_s for f in idle_figures), default=None),
            "energy_above_idle_j": energy - idle * seconds if idle is not None else None,
            "mean_power_w": energy / seconds if seconds > 0 else None,
            "peak_power_w": max(value for _, value in power) if power else None,
            "utilization_gpu_mean_pct": _time_mean(utilization),
            "utilization_gpu_peak_pct": max(v for _, v in utilization) if utilization else None,
            "utilization_memory_mean_pct": _time_mean(utilization_memory),
            "memory_peak_bytes": max(value for _, value in memory) if memory else None,
            "samples": len(samples),
        }


def _idle_figures(seconds: float, gpus: list[_Gpu]) -> list[IdleFigure]:
    """Each GPU's idle figure: this sweep's cached one while fresh, else measured now
    (all the GPUs that need it together, in one window) and cached."""
    cache = IdleCache()
    with cache.locked() as entries:
        figures = {gpu.uuid: cache.fresh(entries, gpu.uuid) for gpu in gpus}
        missing = [gpu for gpu in gpus if figures[gpu.uuid] is None]
        if missing:
            for figure in measure_idle(missing, seconds):
                figures[figure.uuid] = figure
                entries[figure.uuid] = figure.to_dict()
    return [figures[gpu.uuid] for gpu in gpus]  # type: ignore[misc]


def _shutdown(nvml: ModuleType) -> None:
    try:
        nvml.nvmlShutdown()
    except nvml.NVMLError:
        pass
