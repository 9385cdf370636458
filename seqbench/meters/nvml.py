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
says which (``instant, then average`` where the field stopped answering mid-run). A
background sampler reads power, utilisation and memory at ``run.sample_hz`` (10 Hz
unless set). Idle power and the counter's update interval
come from seqbench.meters.idle, measured once per GPU per sweep before the model is
built; each phase reports its energy above idle beside the total (``below_idle`` when
that is negative), and flags itself when it spans too few counter updates. See
docs/measurement.md.

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
from seqbench.meters.nvml_lib import (CPU_REASON, Unavailable, cuda_gpus, gpu_numbers, handle_by_uuid,
                                      parse_visible, select_gpus, start_nvml, text)
from seqbench.meters.sampler import Sample, Sampler, middle, trapezoid

__all__ = [
    "NvmlMeter",
    "Unavailable",
    "start_nvml",
    "select_gpus",
    "cuda_gpus",
    "gpu_numbers",
    "parse_visible",
    "GpuError",
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
# A power reading at or above this (the largest boards draw about 1.2 kW; a 2.7 kW
# module would still pass), or at or below zero, is not a reading of a working GPU:
# NVML's "invalid" sentinel 0xFFFFFFFF mW reads 4.3 MW. Such readings are dropped.
MAX_PLAUSIBLE_POWER_W = 5000.0
# A phase whose energy falls short of idle power x its window by more than this share
# is flagged ``below_idle``; less is a phase at idle read with noise.
BELOW_IDLE_SHARE = 0.01


def plausible_power(watts: float) -> bool:
    """Whether a power reading can be a working GPU's: above 0 W, below the bound."""
    return 0.0 < watts < MAX_PLAUSIBLE_POWER_W


@dataclass(frozen=True)
class Reading:
    """One GPU at one instant; None where the GPU does not report the quantity."""

    power_w: float | None
    utilization_gpu: float | None
    utilization_memory: float | None
    memory_used: int | None
    counter_mj: int | None = None
    # The process ids NVML lists on the GPU (compute and graphics contexts).
    processes: frozenset[int] | None = None
    # An essential reading (power, energy counter) failed: the GPU and NVML's error.
    error: str | None = None
    # Optional readings missing from this sample, each "quantity: why" (an NVML error
    # in utilisation or memory, a power reading dropped as implausible).
    missing: tuple[str, ...] = ()


class GpuError(Exception):
    """An NVML call on one GPU failed at run time (a lost GPU, a driver error); the
    message names the GPU and NVML's error, ``reason`` NVML's error alone, and
    ``lost`` says whether it was ``GpuIsLost``."""

    def __init__(self, message: str, reason: str = "", lost: bool = False) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.lost = lost


# The member of NVML's value union that each field value type is read from.
_VALUE_MEMBERS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


class _Gpu:
    """One NVML device: its handle and UUID, and which readings it supports.

    A reading the GPU or driver does not offer (``NotSupported``, ``FunctionNotFound``,
    ``NoPermission``, or a function this nvidia-ml-py lacks) is left out, and why is
    kept in ``unsupported``; any other NVML error at run time is a GpuError naming the
    GPU. During a phase only the essential readings (energy counter, power) failing
    make the GPU's figures unknown; ``read`` records a failed optional reading
    (utilisation, memory) as missing from that sample and goes on.
    """

    def __init__(self, nvml: ModuleType, ident: int | str) -> None:
        self.nvml = nvml
        self.label = str(ident)
        try:
            if isinstance(ident, int):
                self.handle = nvml.nvmlDeviceGetHandleByIndex(ident)
            else:
                self.handle = handle_by_uuid(nvml, ident)
        except nvml.NVMLError as error:
            raise Unavailable(f"cannot open GPU {ident}: {error}") from None
        self.name = text(self._call(nvml.nvmlDeviceGetName, self.handle))
        self.uuid = text(self._call(nvml.nvmlDeviceGetUUID, self.handle))
        self.label = self.uuid
        self._refuse_mig()
        self.unsupported: dict[str, str] = {}
        self.unlisted: dict[str, str] = {}  # process lists NVML did not give, and why
        self._instant_field = getattr(nvml, "NVML_FI_DEV_POWER_INSTANT", None)
        self.has_counter = self._optional("energy counter", self._counter_mj) is not None
        self.has_instant = self._instant_or_none() is not None
        self.has_power = self.has_instant or self._optional("average power", self._average_power_w) is not None
        self.power_source = "instant" if self.has_instant else "average" if self.has_power else "none"
        if not (self.has_counter or self.has_power):
            why = "; ".join(f"{name}: {reason}" for name, reason in self.unsupported.items())
            raise Unavailable(f"GPU {ident} ({self.name}) reports neither energy nor power ({why})")

    def _refuse_mig(self) -> None:
        """NVML reports energy and power only for a whole GPU: a MIG instance, or a GPU
        in MIG mode (whose instances other processes may be using), cannot be billed."""
        shared = "NVML measures energy and power only for the whole GPU, which its MIG instances share"
        if self.uuid.startswith("MIG-"):
            raise Unavailable(f"GPU {self.uuid} is a MIG instance: {shared}")
        nvml = self.nvml
        try:
            mode = nvml.nvmlDeviceGetMigMode(self.handle)[0]
        except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound, AttributeError):
            return  # a GPU, or driver, without MIG
        except nvml.NVMLError as error:
            raise _gpu_error(nvml, self.uuid, error) from None
        if mode == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1):
            raise Unavailable(f"GPU {self.uuid} ({self.name}) is in MIG mode: {shared}")

    def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)``; an NVML error other than "not offered" (which _optional
        handles) becomes a GpuError naming this GPU."""
        nvml = self.nvml
        try:
            return function(*args)
        except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound, nvml.NVMLError_NoPermission):
            raise
        except nvml.NVMLError as error:
            raise _gpu_error(nvml, self.label, error) from None

    def _optional(self, quantity: str, read: Callable[[], Any]) -> Any:
        """``read()``, or None once the GPU has said it does not offer ``quantity``."""
        if quantity in self.unsupported:
            return None
        nvml = self.nvml
        try:
            return read()
        except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound, nvml.NVMLError_NoPermission) as error:
            self.unsupported[quantity] = str(error)
        except AttributeError as error:  # an nvidia-ml-py without the function
            self.unsupported[quantity] = f"nvidia-ml-py lacks it ({error})"
        return None

    def _counter_mj(self) -> int:
        return int(self._call(self.nvml.nvmlDeviceGetTotalEnergyConsumption, self.handle))

    def _average_power_w(self) -> float:
        return float(self._call(self.nvml.nvmlDeviceGetPowerUsage, self.handle)) / 1000.0

    def _instant_power_w(self) -> float | None:
        """Instantaneous power from the field-values call (drivers 535 and later on
        recent GPUs, the GPU's own scope), or None where the driver does not offer it."""
        nvml = self.nvml
        if self._instant_field is None:
            self.unsupported.setdefault("instant power", "nvidia-ml-py has no NVML_FI_DEV_POWER_INSTANT")
            return None
        values = self._optional(
            "instant power", lambda: self._call(nvml.nvmlDeviceGetFieldValues, self.handle, [self._instant_field])
        )
        if values is None:
            return None
        value = values[0]
        if value.nvmlReturn != nvml.NVML_SUCCESS:
            if value.nvmlReturn == getattr(nvml, "NVML_ERROR_GPU_IS_LOST", 15):
                raise GpuError(f"GPU {self.label}: {nvml.NVMLError(value.nvmlReturn)}", lost=True)
            self.unsupported.setdefault("instant power", str(nvml.NVMLError(value.nvmlReturn)))
            return None
        member = _VALUE_MEMBERS.get(int(value.valueType), "uiVal")
        return float(getattr(value.value, member)) / 1000.0

    def _instant_or_none(self) -> float | None:
        """The instant reading; None where it is not offered, or where the call failed
        with an error other than a lost GPU (``unsupported`` then says which): the
        averaged reading is the fallback, not an unmeasurable GPU."""
        try:
            return self._instant_power_w()
        except GpuError as error:
            if error.lost:
                raise
            self.unsupported.setdefault("instant power", error.reason)
            return None

    def power_w(self, missing: list[str] | None = None) -> float | None:
        """The power now (W), or None where the GPU offers none or the reading is
        implausible (dropped, and said in ``missing``)."""
        watts = self._power_now()
        if watts is None or plausible_power(watts):
            return watts
        if missing is not None:
            missing.append(f"power: implausible reading of {watts:g} W dropped")
        return None

    def _power_now(self) -> float | None:
        if self.has_instant:
            watts = self._instant_or_none()
            if watts is not None:
                return watts
            return self._instant_stopped()
        return self._average_power_w() if self.has_power else None

    def _instant_stopped(self) -> float | None:
        """The instant field stopped answering mid-run (``unsupported`` says why): go on
        with the averaged reading, returned here, rather than leave the rest of the phase
        without power, which would cut the integrated energy short. ``power_source``
        says so."""
        self.has_instant = False
        watts: float | None = self._optional("average power", self._average_power_w)
        self.has_power = watts is not None
        self.power_source = "instant, then average" if self.has_power else "instant, then none"
        return watts

    def counter_mj(self) -> int | None:
        return self._counter_mj() if self.has_counter else None

    def processes(self) -> frozenset[int] | None:
        """The process ids with a compute or graphics context on this GPU, or None
        where NVML lists neither (``unlisted`` says why)."""
        lists = [self._process_list("compute", "nvmlDeviceGetComputeRunningProcesses"),
                 self._process_list("graphics", "nvmlDeviceGetGraphicsRunningProcesses")]
        if all(found is None for found in lists):
            return None
        return frozenset(pid for found in lists if found is not None for pid in found)

    def _process_list(self, kind: str, function: str) -> list[int] | None:
        """The ids in one of NVML's process lists, or None once it has failed. The lists
        only say who else was on the GPU, so no failure of theirs — not offered, a
        driver older than nvidia-ml-py's ``_v3`` call (whose wrapper raises
        NVMLLibraryMismatchError, not an NVMLError), a library shaped otherwise — may
        cost the phase its samples: it is kept in ``unlisted`` and the list not read again."""
        if kind in self.unlisted:
            return None
        try:
            return [int(process.pid) for process in getattr(self.nvml, function)(self.handle)]
        except Exception as error:
            mismatch = getattr(self.nvml, "NVMLLibraryMismatchError", None)
            if mismatch is not None and isinstance(error, mismatch):
                self.unlisted[kind] = "the driver is older than nvidia-ml-py's call"
            else:
                self.unlisted[kind] = f"{type(error).__name__}: {error}"
            return None

    def _soft(self, quantity: str, read: Callable[[], Any], missing: list[str]) -> Any:
        """An optional reading: a failure (a transient driver error) leaves it out of
        this sample only, said in ``missing``; it is tried again at the next."""
        try:
            return self._optional(quantity, read)
        except GpuError as error:
            missing.append(f"{quantity}: {error.reason}")
            return None

    def read(self) -> Reading:
        """One sample. Never raises for an NVML error: an essential reading (power,
        counter) that failed is kept in ``error``, optional ones in ``missing``."""
        nvml = self.nvml
        missing: list[str] = []
        utilization = self._soft(
            "utilization", lambda: self._call(nvml.nvmlDeviceGetUtilizationRates, self.handle), missing
        )
        memory = self._soft("memory", lambda: self._call(nvml.nvmlDeviceGetMemoryInfo, self.handle), missing)
        power: float | None = None
        counter: int | None = None
        error: str | None = None
        try:
            power = self.power_w(missing)
            counter = self.counter_mj()
        except GpuError as failure:
            error = str(failure)
        except nvml.NVMLError as failure:  # "not offered" from a reading that was offered
            error = str(_gpu_error(nvml, self.label, failure))
        return Reading(
            power_w=power,
            utilization_gpu=float(utilization.gpu) if utilization is not None else None,
            utilization_memory=float(utilization.memory) if utilization is not None else None,
            memory_used=int(memory.used) if memory is not None else None,
            counter_mj=counter,
            processes=self.processes(),
            error=error,
            missing=tuple(missing),
        )


def _gpu_error(nvml: ModuleType, label: str, error: Exception) -> GpuError:
    reason = f"{type(error).__name__}: {error}"
    lost = isinstance(error, getattr(nvml, "NVMLError_GpuIsLost", ()))
    return GpuError(f"GPU {label}: {reason}", reason=reason, lost=lost)


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


IDLE_SECONDS_VARIABLE = "SEQBENCH_GPU_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 3.0
IDLE_SECONDS_RANGE = (0.1, 60.0)


def idle_seconds_setting(environ: Mapping[str, str] | None = None) -> float:
    """The idle window's length: ``$SEQBENCH_GPU_IDLE_SECONDS``, else 3 s; a UserError
    naming the variable and the range for anything else."""
    from seqbench.errors import UserError

    text = (os.environ if environ is None else environ).get(IDLE_SECONDS_VARIABLE)
    if not text:
        return DEFAULT_IDLE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    low, high = IDLE_SECONDS_RANGE
    if not low <= value <= high:  # NaN fails too
        raise UserError(f"${IDLE_SECONDS_VARIABLE}: expected seconds from {low:g} to {high:g}, got {text!r}")
    return value


def _idle_seconds_or_default() -> float:
    # Read when this module is imported, which every command does through the plugins:
    # a bad value is refused by `seqbench run` (runner), not as a traceback of
    # `seqbench tasks`.
    try:
        return idle_seconds_setting()
    except Exception:
        return DEFAULT_IDLE_SECONDS


class NvmlMeter(Meter):
    name = "nvml"
    description = (
        "NVIDIA GPU energy per phase for the GPUs the model uses (energy counter, else "
        "integrated power), idle power from the counter's rate, energy above idle, "
        "mean/peak power, utilisation, peak memory"
    )
    # The settle window idle power is measured over (SEQBENCH_GPU_IDLE_SECONDS to change).
    idle_seconds = _idle_seconds_or_default()

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
            gpus = []
            for uuid in cuda_gpus(nvml, os.environ.get("CUDA_VISIBLE_DEVICES")):
                try:
                    gpus.append(_Gpu(nvml, uuid))
                except (Unavailable, GpuError, nvml.NVMLError):
                    continue  # the meter itself will say why, if a point uses this one
            _idle_figures(cls.idle_seconds, gpus, keep=True)
        except (GpuError, nvml.NVMLError):
            pass  # likewise
        finally:
            _shutdown(nvml)

    def unavailable(self) -> str | None:
        try:
            gpu_numbers(self.device)  # a point on the CPU needs no NVML at all
        except Unavailable as why:
            return str(why)
        nvml, reason = start_nvml()
        if nvml is None:
            return reason
        self._nvml = nvml
        try:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            skipped: list[str] = []
            gpus = cuda_gpus(nvml, visible, skipped)
            try:
                uuids = select_gpus(self.device, gpus, visible)
            except Unavailable as why:
                # Other GPUs broken elsewhere in the machine matter only when the
                # point's own cannot be found.
                return f"{why} (NVML could not open: {'; '.join(skipped)})" if skipped else str(why)
            self._gpus = [_Gpu(nvml, uuid) for uuid in uuids]
        except (Unavailable, GpuError) as why:
            return str(why)
        except nvml.NVMLError as error:
            return f"NVML: {type(error).__name__}: {error}"
        except BaseException:
            self.close()  # whoever records this error will not close a meter it never got
            raise
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
        before = time.monotonic()
        counters = [gpu.counter_mj() for gpu in self._gpus]
        return self._figures(window, window.sampler.samples(), middle(before), counters, {})

    def stop(self, phase: str) -> dict[str, Any]:
        window, self._window = self._window, None
        if window is None:
            return {}
        problems = []
        assert self._nvml is not None  # a window is open only while NVML is
        try:
            window.sampler.stop()
        except (GpuError, self._nvml.NVMLError) as error:  # the last sample; the thread is joined
            problems.append(f"last sample: {error}")
        before = time.monotonic()
        counters: list[int | None] = []
        failed: dict[int, str] = {}  # GPUs whose end reading failed: their energy is unknown
        for index, gpu in enumerate(self._gpus):
            try:
                counters.append(gpu.counter_mj())
            except (GpuError, self._nvml.NVMLError) as error:
                counters.append(None)
                failed[index] = str(error)
        ended = middle(before)
        figures = self._figures(window, window.sampler.samples(), ended, counters, failed)
        stopped_by = window.sampler.error
        if stopped_by is not None:
            problems.insert(0, f"{window.sampler.failures} sample(s) failed, the first with "
                               f"{type(stopped_by).__name__}: {stopped_by}")
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
        before = time.monotonic()
        try:
            errors = [reading.error for sample in sampler.samples() for reading in sample.value if reading.error]
            if errors:  # a GPU that failed before the phase began: nothing of it can be measured
                raise GpuError(errors[0])
            counters = [gpu.counter_mj() for gpu in self._gpus]
        except BaseException:
            sampler.stop(final_sample=False)
            raise
        return _Window(started=middle(before), counters=counters, sampler=sampler)

    def _probe(self) -> tuple[Reading, ...]:
        return tuple(gpu.read() for gpu in self._gpus)

    def _energy(
        self, index: int, window: _Window, samples: Samples, counter_end: int | None, failed: bool,
        seconds: float,
    ) -> tuple[float | None, str | None, float | None, str | None]:
        """(joules or None, method, integrated joules or None, why it fell back) of one
        GPU over the window. A GPU whose power or counter failed during it has none:
        what its samples cover is not the phase."""
        gpu = self._gpus[index]
        series = _power_series(samples, index)
        integrated = trapezoid(series) if len(series) >= 2 else None
        if failed:
            return None, None, None, None
        start = window.counters[index]
        if start is None or counter_end is None:
            if integrated is None and gpu.has_power:
                return None, None, None, f"GPU {gpu.uuid}: no plausible power readings to integrate"
            return integrated, "integrated", integrated, None
        # Read at every sample too: a counter that steps back anywhere in the phase was
        # reset (driver reload) or wrapped, and its end-minus-start would be short.
        readings = [start, *(s.value[index].counter_mj for s in samples if s.t >= window.started), counter_end]
        steps = [b - a for a, b in zip(readings, readings[1:]) if a is not None and b is not None]
        if all(step >= 0 for step in steps):
            if counter_end == start and integrated and seconds > 0 and self._counter_should_move(index, seconds):
                # A counter that never moved while the board drew power is stuck, not idle.
                why = (f"GPU {gpu.uuid}: energy counter did not advance during the phase while power read "
                       f"{integrated / seconds:.4g} W on average; power samples integrated instead")
                return integrated, "integrated", integrated, why
            return (counter_end - start) / 1000.0, "counter", integrated, None
        why = f"GPU {gpu.uuid}: energy counter went backwards during the phase (reset)"
        if integrated is None:
            return None, None, None, why + "; no power readings to integrate"
        return integrated, "integrated", integrated, why + "; power samples integrated instead"

    def _counter_should_move(self, index: int, seconds: float) -> bool:
        """Whether a working counter updates at least once in ``seconds``: twice its
        update interval seen while idle; where the idle window saw no two updates, any
        phase."""
        figure = self._idle[index] if self._idle and index < len(self._idle) else None
        interval = figure.counter_interval_s if figure is not None else None
        return interval is None or seconds >= 2 * interval

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
        self, window: _Window, samples: Samples, ended: float, counters: list[int | None], failed: dict[int, str]
    ) -> dict[str, Any]:
        seconds = ended - window.started
        failed = {**_failed_during(samples, len(self._gpus)), **failed}
        per_gpu = [self._energy(i, window, samples, counters[i], i in failed, seconds) for i in range(len(self._gpus))]
        parts = [joules for joules, _, _, _ in per_gpu]
        energy = sum(j for j in parts if j is not None) if None not in parts else None
        methods = {method for _, method, _, _ in per_gpu if method is not None}
        integrated = [joules for _, _, joules, _ in per_gpu]
        fallbacks = [f"GPU {gpu.uuid}: {quantity}: {why}" for gpu in self._gpus for quantity, why in gpu.unsupported.items()]
        fallbacks += [why for _, _, _, why in per_gpu if why]
        power = _series(samples, lambda r: r.power_w, sum)
        utilization = _series(samples, lambda r: r.utilization_gpu, _mean)
        utilization_memory = _series(samples, lambda r: r.utilization_memory, _mean)
        memory = _series(samples, lambda r: r.memory_used, sum)
        idle_figures = self._idle or []
        idle_parts = [f.power_w for f in idle_figures]
        idle = sum(p for p in idle_parts if p is not None) if idle_parts and None not in idle_parts else None
        idle_others = [f.other_pids for f in idle_figures]
        idle_pids = sorted({pid for pids in idle_others if pids for pid in pids})
        sources = {gpu.power_source for gpu in self._gpus}
        others, other_pids, why = _other_processes(samples, os.getpid())
        unlisted = [f"GPU {gpu.uuid}: {kind} processes: {reason}" for gpu in self._gpus
                    for kind, reason in gpu.unlisted.items()]
        # Over the meter's own window, as the energy is (not the phase's time.<phase>_s).
        above = energy - idle * seconds if idle is not None and energy is not None else None
        return {
            "gpus": ",".join(gpu.uuid for gpu in self._gpus),
            "gpu_names": ",".join(gpu.name for gpu in self._gpus),
            "seconds": seconds,
            "energy_j": energy,
            "energy_method": (None if energy is None else next(iter(methods)) if len(methods) == 1
                              else "counter+integrated"),
            **self._resolution(seconds, methods),
            "integrated_energy_j": sum(integrated) if None not in integrated else None,
            "power_source": sources.pop() if len(sources) == 1 else "+".join(sorted(sources)),
            "idle_power_w": idle,
            "idle_method": ",".join(sorted({f.method for f in idle_figures})) or None,
            "idle_window_s": min((f.window_s for f in idle_figures), default=None),
            "idle_other_processes": None if not idle_others or None in idle_others else len(idle_pids),
            "idle_other_pids": ",".join(map(str, idle_pids)) or None,
            "idle_note": "; ".join(f"GPU {f.uuid}: {f.note}" for f in idle_figures if f.note) or None,
            "energy_above_idle_j": above,
            "below_idle": _below_idle(above, idle, seconds),
            "mean_power_w": energy / seconds if seconds > 0 and energy is not None else None,
            "peak_power_w": max(value for _, value in power) if power else None,
            "utilization_gpu_mean_pct": _time_mean(utilization),
            "utilization_gpu_peak_pct": max(v for _, v in utilization) if utilization else None,
            "utilization_memory_mean_pct": _time_mean(utilization_memory),
            "memory_peak_bytes": max(value for _, value in memory) if memory else None,
            "samples": len(samples),
            "other_processes": others,
            "other_pids": other_pids,
            "other_processes_note": "; ".join(([why] if why else []) + unlisted) or None,
            "fallbacks": "; ".join(fallbacks) or None,
            "missing_readings": _missing_readings(self._gpus, samples),
            **({"gpu_error": "; ".join(failed.values())} if failed else {}),
        }


def _below_idle(above: float | None, idle: float | None, seconds: float) -> bool | None:
    """Whether the phase drew less than the idle figure, by more than BELOW_IDLE_SHARE
    of the idle energy over its window: that figure is off (measured in a higher power
    state than the phase ran in, or with another process on the GPU), not energy
    recovered. A smaller shortfall is a phase at idle read with the counter's noise."""
    if above is None or idle is None:
        return None
    return above < -BELOW_IDLE_SHARE * idle * max(seconds, 0.0)


def _failed_during(samples: Samples, count: int) -> dict[int, str]:
    """The GPUs whose power or counter failed at some sample, with the first error."""
    failed: dict[int, str] = {}
    for sample in samples:
        for index in range(count):
            error = sample.value[index].error
            if error is not None:
                failed.setdefault(index, error)
    return failed


def _missing_readings(gpus: list[_Gpu], samples: Samples) -> str | None:
    """Which optional readings (utilisation, memory, implausible power) some samples
    lack, per GPU: how many, and the first reason."""
    notes = []
    for index, gpu in enumerate(gpus):
        counts: dict[str, int] = {}
        first: dict[str, str] = {}
        for sample in samples:
            for entry in sample.value[index].missing:
                quantity, _, why = entry.partition(": ")
                counts[quantity] = counts.get(quantity, 0) + 1
                first.setdefault(quantity, why)
        notes += [f"GPU {gpu.uuid}: {quantity}: {count} of {len(samples)} samples without it ({first[quantity]})"
                  for quantity, count in counts.items()]
    return "; ".join(notes) or None


def _other_processes(samples: Samples, own: int) -> tuple[int | None, str | None, str | None]:
    """(the most processes besides this one seen at once on the point's GPUs, their ids,
    why the figure is a count or unknown) over the phase's samples. The GPUs' energy,
    power and utilisation are the whole board's, so work of other processes there is
    billed to the point; this says when that happened.

    NVML lists host process ids: inside a container's PID namespace this worker's own id
    is not among them. Then each GPU's list is counted, one entry taken as this worker
    (whose model is on that GPU), and nobody is named; where no GPU lists even one
    process, whether others were there is unknown."""
    lists = [[found for found in (reading.processes for reading in sample.value) if found is not None]
             for sample in samples]
    lists = [found for found in lists if found]
    if not lists:
        return None, None, None  # NVML lists no processes here: `unlisted` says why
    if any(own in found for sample in lists for found in sample):
        seen = [frozenset().union(*sample) - {own} for sample in lists]
        everyone = sorted(frozenset().union(*seen))
        return max(map(len, seen)), ",".join(map(str, everyone)) or None, None
    if not any(found for sample in lists for found in sample):
        return None, None, ("NVML listed no process on the point's GPU, not even this worker "
                            "(another PID namespace?): whether other processes shared it is unknown")
    most = max(len(found) - 1 for sample in lists for found in sample)
    return max(most, 0), None, ("NVML lists process ids from another PID namespace (a container): "
                                "other processes on the point's GPU counted, not named")


# The idle figures this process's prepare found or measured, by cache file and GPU UUID.
_PREPARED: dict[tuple[str, str], IdleFigure] = {}


def _idle_figures(seconds: float, gpus: list[_Gpu], keep: bool = False) -> list[IdleFigure]:
    """Each GPU's idle figure: this sweep's cached one while fresh, else measured now
    (all the GPUs that need it together, in one window) and cached, unless another
    process was on the GPU during the window. ``keep`` (prepare): hold them for this
    process's meter, which takes them first, so a figure not cached is still this
    point's and is not measured again once the model is on the GPU."""
    cache = IdleCache()
    key = str(cache.path)
    with cache.locked() as entries:
        figures = {gpu.uuid: _PREPARED.pop((key, gpu.uuid), None) or cache.fresh(entries, gpu.uuid) for gpu in gpus}
        missing = [gpu for gpu in gpus if figures[gpu.uuid] is None]
        if missing:
            for figure in measure_idle(missing, seconds):
                figures[figure.uuid] = figure
                if not figure.other_pids:  # a busy GPU's "idle" is not kept for other points
                    entries[figure.uuid] = figure.to_dict()
    found = [figures[gpu.uuid] for gpu in gpus]
    if keep:
        _PREPARED.clear()
        _PREPARED.update(((key, figure.uuid), figure) for figure in found if figure is not None)
    return found  # type: ignore[return-value]


def _shutdown(nvml: ModuleType) -> None:
    try:
        nvml.nvmlShutdown()
    except nvml.NVMLError:
        pass
