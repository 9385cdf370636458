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
               "energy_counter": true, "power": true,
               "utilization": [gpu %, memory %],
               "memory_total": bytes, "memory_used": bytes}]}

Power at ``time.monotonic()`` t is ``idle_w + load_w + amp_w * sin(2 pi t / period_s)``;
the energy counter is its exact integral since t = 0, so it advances with simulated
power x time. ``_fake_set_state`` (not part of the real interface) lets a test model
put load on a GPU, as real work would.
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
        self.power = bool(spec.get("power", True))
        self.utilization = list(spec.get("utilization", [0, 0]))
        self.memory_total = int(spec.get("memory_total", 80 * 2**30))
        self.memory_used = int(spec.get("memory_used", 2**28))
        self.load_w = 0.0
        # The counter is the exact integral of power since t = 0; a load change
        # starts a new piece at (base_t, base_j).
        self.base_t = 0.0
        self.base_j = 0.0

    def power_w(self, t: float) -> float:
        return self.idle_w + self.load_w + self.amp_w * math.sin(self.omega * t)

    def energy_j(self, t: float) -> float:
        steady = (self.idle_w + self.load_w) * (t - self.base_t)
        wave = math.cos(self.omega * self.base_t) - math.cos(self.omega * t)
        return self.base_j + steady + self.amp_w / self.omega * wave


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
    return c_nvmlDevice_t(_state["gpus"][index])


def nvmlDeviceGetHandleByUUID(uuid):
    _initialized()
    for gpu in _state["gpus"]:
        if gpu.uuid == uuid:
            return c_nvmlDevice_t(gpu)
    raise NVMLError(NVML_ERROR_NOT_FOUND)


def nvmlDeviceGetName(handle):
    return _gpu(handle).name


def nvmlDeviceGetUUID(handle):
    return _gpu(handle).uuid


def nvmlDeviceGetIndex(handle):
    return _gpu(handle).index


def nvmlDeviceGetPowerUsage(handle):
    gpu = _gpu(handle)
    if not gpu.power:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return int(gpu.power_w(time.monotonic()) * 1000)


def nvmlDeviceGetTotalEnergyConsumption(handle):
    gpu = _gpu(handle)
    if not gpu.energy_counter:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    with _lock:
        return int(gpu.energy_j(time.monotonic()) * 1000)


def nvmlDeviceGetUtilizationRates(handle):
    gpu = _gpu(handle)
    return c_nvmlUtilization_t(*gpu.utilization)


def nvmlDeviceGetMemoryInfo(handle, version=None):
    gpu = _gpu(handle)
    return c_nvmlMemory_t(gpu.memory_total, gpu.memory_total - gpu.memory_used, gpu.memory_used)


def _fake_set_state(index, load_w=None, utilization=None, memory_used=None):
    """Test-only: what running work does to GPU ``index`` (load in watts above idle)."""
    gpu = _state["gpus"][index]
    with _lock:
        if load_w is not None:
            now = time.monotonic()
            gpu.base_j = gpu.energy_j(now)
            gpu.base_t = now
            gpu.load_w = float(load_w)
        if utilization is not None:
            gpu.utilization = list(utilization)
        if memory_used is not None:
            gpu.memory_used = int(memory_used)
