"""A stand-in for nvidia-ml-py's ``pynvml``, for machines without an NVIDIA GPU.

It has the real module's names, signatures, units and errors for everything seqbench
calls (``tests/test_nvml.py`` checks them against the installed nvidia-ml-py): opaque
handles, milliwatts, millijoules, bytes, percentages, and the ``NVMLError`` hierarchy
with one subclass per ``NVML_ERROR_*`` code, each carrying ``.value``.

It is configured by the ``FAKE_NVML`` environment variable (JSON), read at
``nvmlInit()``, so worker subprocesses see the same GPUs:

    {"library": "ok" | "missing" | "driver_not_loaded",
     "driver": "550.54.15", "cuda": 12040,
     "gpus": [{"name": "...", "uuid": "GPU-...",
               "idle_w": 60.0, "amp_w": 0.0, "period_s": 2.0,
               "energy_counter": true, "counter_interval_s": 0.0,
               "power": true, "power_window_s": 0.0, "power_instant": false,
               "utilization": [gpu %, memory %],
               "memory_total": bytes, "memory_used": bytes,
               "processes": true, "own": "listed" | "host_id" | "hidden",
               "others": [pid, ...],
               "graphics": [pid, ...],
               "energy_counter_stuck": false, "power_mw": null,
               "fail": {"nvmlDevice...": [NVML_ERROR_code, times or null]}}]}

Power at ``time.monotonic()`` t is ``idle_w + load_w + amp_w * sin(2 pi t / period_s)``;
the energy counter is its exact integral since t = 0, so it advances with simulated
power x time. As on real GPUs:

* the counter is updated only every ``counter_interval_s`` (0: continuously): between
  updates it reads the value at the last update;
* ``nvmlDeviceGetPowerUsage`` is the mean power over the last ``power_window_s``
  (about one second on Ampere and Hopper; 0: instantaneous);
* with ``power_instant``, ``nvmlDeviceGetFieldValues`` answers
  ``NVML_FI_DEV_POWER_INSTANT`` (and ``NVML_FI_DEV_POWER_AVERAGE``) in milliwatts;
  without, those fields come back with ``nvmlReturn = NVML_ERROR_NOT_SUPPORTED``, as
  on drivers before 535.

The process lists (``nvmlDeviceGetComputeRunningProcesses``, ``...GraphicsRunning...``)
are objects with ``pid``, ``usedGpuMemory``, ``gpuInstanceId`` and ``computeInstanceId``,
as nvidia-ml-py's: the compute list holds the calling process and ``others``; the
graphics list holds ``graphics``. ``own`` says how the calling process is listed: by
its own id (``listed``), by another (``host_id``: a container, whose PID namespace
gives it another id than the host ids NVML reports), or not at all (``hidden``). ``processes: false`` makes both
calls ``NotSupported``.

``_fake_set_state`` (not part of the real interface) lets a test model put load on a
GPU, as real work would; the load's history is kept, so averaged power lags it.

Faults, for tests of how seqbench copes: ``energy_counter_stuck`` keeps the counter at
one value; ``power_mw`` makes both power readings return that many milliwatts (0, or
the sentinel 0xFFFFFFFF); ``fail`` makes the named functions (``"*"``: every call on
this GPU, its handle included) raise ``NVMLError(code)``, the next ``times`` calls
(null: every call). ``_fake_fail`` sets the same while running.
"""

from __future__ import annotations

import json
import math
import os
import string
import threading
import time

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_INSUFFICIENT_POWER = 8
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_CORRUPTED_INFOROM = 14
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_OPERATING_SYSTEM = 17
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_IN_USE = 19
NVML_ERROR_MEMORY = 20
NVML_ERROR_NO_DATA = 21
NVML_ERROR_UNKNOWN = 999

NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186

NVML_VALUE_TYPE_DOUBLE = 0
NVML_VALUE_TYPE_UNSIGNED_INT = 1
NVML_VALUE_TYPE_UNSIGNED_LONG = 2
NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3
NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4
NVML_VALUE_TYPE_SIGNED_INT = 5
NVML_VALUE_TYPE_UNSIGNED_SHORT = 6
NVML_VALUE_TYPE_COUNT = 7


class NVMLError(Exception):
    """As in pynvml: ``NVMLError(code)`` is an instance of the code's subclass."""

    _valClassMapping: dict = {}
    _errcode_to_string = {
        NVML_ERROR_UNINITIALIZED: "Uninitialized",
        NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
        NVML_ERROR_NOT_SUPPORTED: "Not Supported",
        NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
        NVML_ERROR_NOT_FOUND: "Not Found",
        NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
        NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
        NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
        NVML_ERROR_GPU_IS_LOST: "GPU is lost",
        NVML_ERROR_UNKNOWN: "Unknown Error",
    }

    def __new__(typ, value):
        if typ == NVMLError:
            typ = NVMLError._valClassMapping.get(value, typ)
        obj = Exception.__new__(typ)
        obj.value = value
        return obj

    def __str__(self):
        return self._errcode_to_string.get(self.value, "NVML Error with code %d" % self.value)

    def __eq__(self, other):
        return self.value == other.value

    __hash__ = Exception.__hash__


def _extractNVMLErrorsAsClasses():
    # The real module's naming: NVML_ERROR_NOT_SUPPORTED -> NVMLError_NotSupported.
    this_module = globals()
    for err_name in [x for x in list(this_module) if x.startswith("NVML_ERROR_")]:
        class_name = "NVMLError_" + string.capwords(
            err_name.replace("NVML_ERROR_", ""), "_"
        ).replace("_", "")
        err_val = this_module[err_name]

        def gen_new(val):
            def new(typ, *args):
                return NVMLError.__new__(typ, val)

            return new

        new_error_class = type(class_name, (NVMLError,), {"__new__": gen_new(err_val)})
        new_error_class.__module__ = __name__
        this_module[class_name] = new_error_class
        NVMLError._valClassMapping[err_val] = new_error_class


_extractNVMLErrorsAsClasses()


class c_nvmlUtilization_t:
    def __init__(self, gpu: int, memory: int) -> None:
        self.gpu = gpu
        self.memory = memory


class c_nvmlMemory_t:
    def __init__(self, total: int, free: int, used: int) -> None:
        self.total = total
        self.free = free
        self.used = used


class c_nvmlValue_t:
    """The real module's union: the member ``valueType`` names is the one to read."""

    def __init__(self, uiVal: int = 0) -> None:
        self.dVal = float(uiVal)
        self.uiVal = uiVal
        self.ulVal = uiVal
        self.ullVal = uiVal
        self.sllVal = uiVal
        self.siVal = uiVal
        self.usVal = uiVal & 0xFFFF


class c_nvmlFieldValue_t:
    def __init__(self, fieldId: int, scopeId: int = 0) -> None:
        self.fieldId = fieldId
        self.scopeId = scopeId
        self.timestamp = 0
        self.latencyUsec = 0
        self.valueType = NVML_VALUE_TYPE_UNSIGNED_INT
        self.nvmlReturn = NVML_SUCCESS
        self.value = c_nvmlValue_t()


# A container's process as the host numbers it, in ``own = "host_id"``.
HOST_ID_OFFSET = 1_000_000


class _ProcessInfo:
    """nvidia-ml-py's friendly object over ``c_nvmlProcessInfo_v3_t``."""

    def __init__(self, pid: int, used: int | None) -> None:
        self.pid = pid
        self.usedGpuMemory = used
        self.gpuInstanceId = 0xFFFFFFFF
        self.computeInstanceId = 0xFFFFFFFF


class c_nvmlDevice_t:
    """An opaque handle, as the real module's ctypes pointer is to its callers."""

    def __init__(self, gpu: "_Gpu") -> None:
        self._gpu = gpu


class _Gpu:
    def __init__(self, index: int, spec: dict) -> None:
        self.index = index
        self.name = spec.get("name", "NVIDIA Fake GPU")
        self.uuid = spec.get("uuid", f"GPU-00000000-0000-0000-0000-{index:012d}")
        self.idle_w = float(spec.get("idle_w", 60.0))
        self.amp_w = float(spec.get("amp_w", 0.0))
        self.omega = 2 * math.pi / float(spec.get("period_s", 2.0))
        self.energy_counter = bool(spec.get("energy_counter", True))
        self.counter_interval_s = float(spec.get("counter_interval_s", 0.0))
        self.power = bool(spec.get("power", True))
        self.power_window_s = float(spec.get("power_window_s", 0.0))
        self.power_instant = bool(spec.get("power_instant", False))
        self.utilization = list(spec.get("utilization", [0, 0]))
        self.memory_total = int(spec.get("memory_total", 80 * 2**30))
        self.memory_used = int(spec.get("memory_used", 2**28))
        self.processes = bool(spec.get("processes", True))
        self.own = str(spec.get("own", "listed"))
        self.others = [int(pid) for pid in spec.get("others", [])]
        self.graphics = [int(pid) for pid in spec.get("graphics", [])]
        # The load's history, as (from t, watts above idle, joules at that t): the
        # counter is the exact integral of power since t = 0, piece by piece.
        self.pieces: list[tuple[float, float, float]] = [(0.0, float(spec.get("load_w", 0.0)), 0.0)]
        self.counter_stuck = bool(spec.get("energy_counter_stuck", False))
        self.power_mw = spec.get("power_mw")
        # function name ("*": any) -> [NVML error code, calls left to fail or None: all]
        self.fail: dict = {name: list(rule) for name, rule in spec.get("fail", {}).items()}

    def check(self, function: str) -> None:
        """Raise the error a test injected for ``function`` on this GPU, if any."""
        for name in (function, "*"):
            rule = self.fail.get(name)
            if rule is None:
                continue
            code, left = rule
            if left is not None:
                if left <= 0:
                    continue
                rule[1] = left - 1
            raise NVMLError(code)

    @property
    def load_w(self) -> float:
        return self.pieces[-1][1]

    def _piece(self, t: float) -> tuple[float, float, float]:
        for piece in reversed(self.pieces):
            if piece[0] <= t:
                return piece
        return self.pieces[0]

    def power_w(self, t: float) -> float:
        return self.idle_w + self._piece(t)[1] + self.amp_w * math.sin(self.omega * t)

    def energy_j(self, t: float) -> float:
        base_t, load_w, base_j = self._piece(t)
        steady = (self.idle_w + load_w) * (t - base_t)
        wave = math.cos(self.omega * base_t) - math.cos(self.omega * t)
        return base_j + steady + self.amp_w / self.omega * wave

    def counter_j(self, t: float) -> float:
        if self.counter_interval_s > 0:
            t = math.floor(t / self.counter_interval_s) * self.counter_interval_s
        return self.energy_j(t)

    def averaged_power_w(self, t: float) -> float:
        window = self.power_window_s
        if window <= 0:
            return self.power_w(t)
        return (self.energy_j(t) - self.energy_j(t - window)) / window

    def set_load(self, t: float, load_w: float) -> None:
        self.pieces.append((t, float(load_w), self.energy_j(t)))


_lock = threading.Lock()
_state: dict = {"refcount": 0, "gpus": [], "config": {}}


def _config() -> dict:
    return json.loads(os.environ.get("FAKE_NVML") or "{}")


def _gpu(handle) -> _Gpu:
    if _state["refcount"] == 0:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    if not isinstance(handle, c_nvmlDevice_t):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return handle._gpu


def _initialized() -> None:
    if _state["refcount"] == 0:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)


def nvmlInitWithFlags(flags):
    config = _config()
    library = config.get("library", "ok")
    if library == "missing":
        raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
    if library == "driver_not_loaded":
        raise NVMLError(NVML_ERROR_DRIVER_NOT_LOADED)
    with _lock:
        if _state["refcount"] == 0:
            _state["config"] = config
            _state["gpus"] = [_Gpu(i, spec) for i, spec in enumerate(config.get("gpus", []))]
        _state["refcount"] += 1
    return None


def nvmlInit():
    nvmlInitWithFlags(0)
    return None


def nvmlShutdown():
    with _lock:
        if _state["refcount"] == 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        _state["refcount"] -= 1
    return None


def nvmlSystemGetDriverVersion():
    _initialized()
    return _state["config"].get("driver", "550.54.15")


def nvmlSystemGetCudaDriverVersion():
    _initialized()
    return int(_state["config"].get("cuda", 12040))


def nvmlDeviceGetCount():
    _initialized()
    return len(_state["gpus"])


def nvmlDeviceGetHandleByIndex(index):
    _initialized()
    if not 0 <= index < len(_state["gpus"]):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    _state["gpus"][index].check("nvmlDeviceGetHandleByIndex")
    return c_nvmlDevice_t(_state["gpus"][index])


def nvmlDeviceGetHandleByUUID(uuid):
    _initialized()
    for gpu in _state["gpus"]:
        if gpu.uuid == uuid:
            return c_nvmlDevice_t(gpu)
    raise NVMLError(NVML_ERROR_NOT_FOUND)


def nvmlDeviceGetName(handle):
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetName")
    return gpu.name


def nvmlDeviceGetUUID(handle):
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetUUID")
    return gpu.uuid


def nvmlDeviceGetIndex(handle):
    return _gpu(handle).index


def nvmlDeviceGetPowerUsage(handle):
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetPowerUsage")
    if not gpu.power:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    if gpu.power_mw is not None:
        return int(gpu.power_mw)
    with _lock:
        return int(gpu.averaged_power_w(time.monotonic()) * 1000)


def nvmlDeviceGetTotalEnergyConsumption(handle):
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetTotalEnergyConsumption")
    if not gpu.energy_counter:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    with _lock:
        return int(gpu.counter_j(0.0 if gpu.counter_stuck else time.monotonic()) * 1000)


def nvmlDeviceGetFieldValues(handle, fieldIds):
    """As the real call: one ``c_nvmlFieldValue_t`` per id (an id, or ``(id, scope)``),
    each with its own ``nvmlReturn``; unknown or unsupported fields are not errors."""
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetFieldValues")
    now = time.monotonic()
    values = []
    for entry in fieldIds:
        field_id, scope = entry if isinstance(entry, tuple) else (entry, 0)
        value = c_nvmlFieldValue_t(field_id, scope)
        value.timestamp = int(now * 1e6)
        with _lock:
            if gpu.power and gpu.power_instant and field_id == NVML_FI_DEV_POWER_INSTANT:
                value.value = c_nvmlValue_t(int(gpu.power_w(now) * 1000) if gpu.power_mw is None else int(gpu.power_mw))
            elif gpu.power and gpu.power_instant and field_id == NVML_FI_DEV_POWER_AVERAGE:
                value.value = c_nvmlValue_t(int(gpu.averaged_power_w(now) * 1000))
            else:
                value.nvmlReturn = NVML_ERROR_NOT_SUPPORTED
        values.append(value)
    return values


def nvmlDeviceGetUtilizationRates(handle):
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetUtilizationRates")
    return c_nvmlUtilization_t(*gpu.utilization)


def nvmlDeviceGetMemoryInfo(handle, version=None):
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetMemoryInfo")
    return c_nvmlMemory_t(gpu.memory_total, gpu.memory_total - gpu.memory_used, gpu.memory_used)


def nvmlDeviceGetComputeRunningProcesses(handle):
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetComputeRunningProcesses")
    if not gpu.processes:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    with _lock:
        own = {"listed": [os.getpid()], "host_id": [HOST_ID_OFFSET + os.getpid()], "hidden": []}[gpu.own]
        pids = own + list(gpu.others)
    return [_ProcessInfo(pid, 2**28) for pid in pids]


def nvmlDeviceGetGraphicsRunningProcesses(handle):
    gpu = _gpu(handle)
    gpu.check("nvmlDeviceGetGraphicsRunningProcesses")
    if not gpu.processes:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    with _lock:
        pids = list(gpu.graphics)
    return [_ProcessInfo(pid, None) for pid in pids]


def _fake_set_state(index, load_w=None, utilization=None, memory_used=None, power_instant=None, others=None):
    """Test-only: what running work does to GPU ``index`` (load in watts above idle);
    ``power_instant`` turns the instant field on or off, as a driver's may mid-run;
    ``others``: the ids of other processes with a context on it now."""
    gpu = _state["gpus"][index]
    with _lock:
        if others is not None:
            gpu.others = [int(pid) for pid in others]
        if power_instant is not None:
            gpu.power_instant = bool(power_instant)
        if load_w is not None:
            gpu.set_load(time.monotonic(), load_w)
        if utilization is not None:
            gpu.utilization = list(utilization)
        if memory_used is not None:
            gpu.memory_used = int(memory_used)


def _fake_fail(index, function, code, times=None):
    """Test-only: make ``function`` (``"*"``: every call) on GPU ``index`` raise
    ``NVMLError(code)`` for the next ``times`` calls (None: from now on)."""
    gpu = _state["gpus"][index]
    with _lock:
        gpu.fail[function] = [int(code), times]
