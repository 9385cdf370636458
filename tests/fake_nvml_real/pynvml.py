"""A second, independent stand-in for nvidia-ml-py's ``pynvml``, written from the real
module's source (13.615.71), not from seqbench's needs or from tests/fake_nvml.

It keeps the real module's two layers: Python wrappers copied in shape from pynvml
(ctypes structures, ``byref`` out-parameters, ``_nvmlGetFunctionPointer`` raising
``NVMLError_FunctionNotFound`` for a function the library lacks, ``convertStrBytes``
turning str arguments into bytes and bytes results into str, ``NVMLError(code)``
becoming the code's subclass and ``__str__`` asking ``nvmlErrorString``) over a
simulated ``libnvidia-ml.so``: ``_SimLibrary``, whose methods take the C arguments and
return ``nvmlReturn_t`` codes. Handles are ctypes pointers; field values come back as a
ctypes array with a per-value ``nvmlReturn``; ``NVMLError`` instances are unhashable and
compare by ``.value``, as the real ones are.

Configured by ``NVML_SIM`` (JSON), read when the library is loaded:

    {"init": "ok" | "LIBRARY_NOT_FOUND" | "DRIVER_NOT_LOADED" | "NO_PERMISSION",
     "missing": ["nvmlDeviceGetFieldValues", ...],    # C functions this driver lacks
     "bytes_api": true,   # strings as nvidia-ml-py before 11.5: bytes only, both ways
     "t0": time.time() of the simulation's start,
     "gpus": [{"uuid": "GPU-...", "name": "...", "bus": PCI bus number,
               "watts": board power (its own idle plus any other process's load),
               "counter": true, "counter_interval_s": 0.02, "power": true,
               "instant": true, "instant_type": "uint" | "ull" | "double",
               "reset_at": s after t0 the counter restarts from 0 (or, with "back_mj",
               steps back by that much), "lost_at": s after
               t0 the GPU falls off the bus, "mig": ["MIG-...", ...] (MIG mode on),
               "access": false (counted, but opening it is NoPermission),
               "compute": [pid, "self" or "host-self", ...] (processes with a compute
               context; "self" is the calling process, "host-self" it as a host
               outside its PID namespace numbers it; default ["self"]),
               "graphics": [pid, ...] (default none)}]}

GPUs are listed in NVML's index order, which need not be PCI bus order. Time is
``time.time()`` (shared by worker processes). ``_sim_event(uuid, key=value)`` (test
only) changes a GPU's configuration in this process, as ``NVML_SIM`` would.
"""

from __future__ import annotations

import json
import os
import string
import sys
import threading
import time
from ctypes import (POINTER, Structure, Union, addressof, byref, c_char, c_char_p, c_double,
                    c_int, c_int32, c_int64, c_longlong, c_uint, c_uint32, c_uint64, c_ulong,
                    c_ulonglong, c_ushort, create_string_buffer)
from functools import wraps

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
NVML_ERROR_GPU_NOT_FOUND = 28
NVML_ERROR_UNKNOWN = 999

_nvmlReturn_t = c_uint
_nvmlValueType_t = c_uint
NVML_VALUE_TYPE_DOUBLE = 0
NVML_VALUE_TYPE_UNSIGNED_INT = 1
NVML_VALUE_TYPE_UNSIGNED_LONG = 2
NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3
NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4
NVML_VALUE_TYPE_SIGNED_INT = 5
NVML_VALUE_TYPE_UNSIGNED_SHORT = 6

NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186
NVML_POWER_SCOPE_GPU = 0
NVML_DEVICE_MIG_DISABLE = 0x0
NVML_DEVICE_MIG_ENABLE = 0x1
NVML_DEVICE_UUID_V2_BUFFER_SIZE = 96
NVML_DEVICE_NAME_V2_BUFFER_SIZE = 96
NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE = 80
NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE = 32
NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE = 16

nvmlLib = None
libLoadLock = threading.Lock()
_nvmlLib_refcount = 0


class NVMLError(Exception):
    _valClassMapping = dict()
    _errcode_to_string = {
        NVML_ERROR_UNINITIALIZED: "Uninitialized",
        NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
        NVML_ERROR_NOT_SUPPORTED: "Not Supported",
        NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
        NVML_ERROR_ALREADY_INITIALIZED: "Already Initialized",
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
        try:
            if self.value not in NVMLError._errcode_to_string:
                NVMLError._errcode_to_string[self.value] = str(nvmlErrorString(self.value))
            return NVMLError._errcode_to_string[self.value]
        except NVMLError:
            return "NVML Error with code %d" % self.value

    def __eq__(self, other):  # as the real one: no __hash__, so instances are unhashable
        return self.value == other.value


def _extractNVMLErrorsAsClasses():
    this_module = sys.modules[__name__]
    for err_name in [x for x in dir(this_module) if x.startswith("NVML_ERROR_")]:
        class_name = "NVMLError_" + string.capwords(err_name.replace("NVML_ERROR_", ""), "_").replace("_", "")
        err_val = getattr(this_module, err_name)

        def gen_new(val):
            def new(typ, *args):
                return NVMLError.__new__(typ, val)
            return new

        new_error_class = type(class_name, (NVMLError,), {"__new__": gen_new(err_val)})
        new_error_class.__module__ = __name__
        setattr(this_module, class_name, new_error_class)
        NVMLError._valClassMapping[err_val] = new_error_class


_extractNVMLErrorsAsClasses()


def _nvmlCheckReturn(ret):
    if ret != NVML_SUCCESS:
        raise NVMLError(ret)
    return ret


def _nvmlGetFunctionPointer(name):
    with libLoadLock:
        if nvmlLib is None:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        try:
            return getattr(nvmlLib, name)
        except AttributeError:
            raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND)


class _PrintableStructure(Structure):
    pass


class struct_c_nvmlDevice_t(Structure):
    pass  # opaque handle


c_nvmlDevice_t = POINTER(struct_c_nvmlDevice_t)


class c_nvmlMemory_t(_PrintableStructure):
    _fields_ = [("total", c_ulonglong), ("free", c_ulonglong), ("used", c_ulonglong)]


class c_nvmlUtilization_t(_PrintableStructure):
    _fields_ = [("gpu", c_uint), ("memory", c_uint)]


class nvmlPciInfo_t(_PrintableStructure):
    _fields_ = [
        ("busIdLegacy", c_char * NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE),
        ("domain", c_uint), ("bus", c_uint), ("device", c_uint),
        ("pciDeviceId", c_uint), ("pciSubSystemId", c_uint),
        ("busId", c_char * NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE),
    ]


class c_nvmlValue_t(Union):
    _fields_ = [("dVal", c_double), ("uiVal", c_uint), ("ulVal", c_ulong), ("ullVal", c_ulonglong),
                ("sllVal", c_longlong), ("siVal", c_int), ("usVal", c_ushort)]


class c_nvmlProcessInfo_v2_t(_PrintableStructure):
    _fields_ = [("pid", c_uint), ("usedGpuMemory", c_ulonglong), ("gpuInstanceId", c_uint),
                ("computeInstanceId", c_uint)]


c_nvmlProcessInfo_v3_t = c_nvmlProcessInfo_v2_t
NVML_VALUE_NOT_AVAILABLE_ulonglong = c_ulonglong(-1)


class NVMLLibraryMismatchError(Exception):
    pass


class nvmlFriendlyObject(object):
    def __init__(self, dictionary):
        for x in dictionary:
            setattr(self, x, dictionary[x])


def nvmlStructToFriendlyObject(struct):
    d = {}
    for x in struct._fields_:
        key = x[0]
        value = getattr(struct, key)
        d[key] = value.decode() if isinstance(value, bytes) else value
    return nvmlFriendlyObject(d)


class c_nvmlFieldValue_t(_PrintableStructure):
    _fields_ = [("fieldId", c_uint32), ("scopeId", c_uint32), ("timestamp", c_int64),
                ("latencyUsec", c_int64), ("valueType", _nvmlValueType_t),
                ("nvmlReturn", _nvmlReturn_t), ("value", c_nvmlValue_t)]


# --- the simulated C library --------------------------------------------------------


class _Device:
    def __init__(self, spec, index, t0):
        self.spec, self.index, self.t0 = spec, index, t0
        self.struct = struct_c_nvmlDevice_t()  # the handle points here
        self.mig = [_Device({**spec, "uuid": uuid, "mig": None, "mig_of": spec["uuid"]}, i, t0)
                    for i, uuid in enumerate(spec.get("mig") or [])]

    def now(self):
        return time.time() - self.t0

    def gone(self):
        lost = self.spec.get("lost_at")
        return lost is not None and self.now() >= lost

    def energy_mj(self):
        t = self.now()
        interval = float(self.spec.get("counter_interval_s", 0.02))
        if interval > 0:
            t = (t // interval) * interval
        reset = self.spec.get("reset_at")
        start = float(self.spec.get("start_mj", 5e9))
        back = self.spec.get("back_mj")
        if reset is not None and t >= reset and back is None:
            t, start = t - reset, 0.0
        elif reset is not None and t >= reset:
            start -= float(back)  # a step back by back_mj, then on as before
        return int(start + float(self.spec["watts"]) * t * 1000)


class _SimLibrary:
    """libnvidia-ml.so as seen through ctypes: every call returns an nvmlReturn_t."""

    def __init__(self, config):
        t0 = float(config.get("t0", time.time()))
        self.config = config
        self.devices = [_Device(spec, i, t0) for i, spec in enumerate(config.get("gpus", []))]
        self.initialised = 0
        for name in config.get("missing", []):
            setattr(self, name, None)

    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        if value is None and name.startswith("nvml"):
            raise AttributeError(name)
        return value

    def _all(self):
        return self.devices + [mig for device in self.devices for mig in device.mig]

    def _device(self, handle):
        if not self.initialised:
            return None, NVML_ERROR_UNINITIALIZED
        if not handle:
            return None, NVML_ERROR_INVALID_ARGUMENT
        address = addressof(handle.contents)
        for device in self._all():
            if addressof(device.struct) == address:
                return device, (NVML_ERROR_GPU_IS_LOST if device.gone() else NVML_SUCCESS)
        return None, NVML_ERROR_INVALID_ARGUMENT

    @staticmethod
    def _point(out, device):
        out._obj.contents = device.struct

    def nvmlInitWithFlags(self, flags):
        failure = self.config.get("init", "ok")
        if failure != "ok":
            return globals()["NVML_ERROR_" + failure]
        self.initialised += 1
        return NVML_SUCCESS

    def nvmlShutdown(self):
        if not self.initialised:
            return NVML_ERROR_UNINITIALIZED
        self.initialised -= 1
        return NVML_SUCCESS

    def nvmlErrorString(self, result):
        return b"Unknown Error"

    def nvmlSystemGetDriverVersion(self, buffer, size):
        buffer.value = self.config.get("driver", "570.86.15").encode()
        return NVML_SUCCESS

    def nvmlSystemGetCudaDriverVersion(self, out):
        out._obj.value = 12080
        return NVML_SUCCESS

    def nvmlDeviceGetCount_v2(self, out):
        if not self.initialised:
            return NVML_ERROR_UNINITIALIZED
        out._obj.value = len(self.devices)
        return NVML_SUCCESS

    def nvmlDeviceGetHandleByIndex_v2(self, index, out):
        if not self.initialised:
            return NVML_ERROR_UNINITIALIZED
        if not 0 <= index.value < len(self.devices):
            return NVML_ERROR_INVALID_ARGUMENT
        if not self.devices[index.value].spec.get("access", True):
            return NVML_ERROR_NO_PERMISSION  # counted, but outside this container's cgroup
        self._point(out, self.devices[index.value])
        return NVML_SUCCESS

    def nvmlDeviceGetHandleByUUID(self, uuid, out):
        if not self.initialised:
            return NVML_ERROR_UNINITIALIZED
        for device in self._all():
            if device.spec["uuid"].encode() == uuid.value:  # the whole UUID, never a prefix
                self._point(out, device)
                return NVML_SUCCESS
        return NVML_ERROR_NOT_FOUND

    def _answer(self, handle, fill):
        device, ret = self._device(handle)
        return ret if ret != NVML_SUCCESS else fill(device)

    def nvmlDeviceGetName(self, handle, buffer, size):
        return self._answer(handle, lambda d: setattr(buffer, "value", d.spec.get("name", "NVIDIA Sim").encode()) or 0)

    def nvmlDeviceGetUUID(self, handle, buffer, size):
        return self._answer(handle, lambda d: setattr(buffer, "value", d.spec["uuid"].encode()) or 0)

    def nvmlDeviceGetIndex(self, handle, out):
        return self._answer(handle, lambda d: setattr(out._obj, "value", d.index) or 0)

    def nvmlDeviceGetPciInfo_v3(self, handle, out):
        def fill(device):
            info, bus = out._obj, int(device.spec.get("bus", device.index))
            info.domain, info.bus, info.device = 0, bus, 0
            info.busId = f"00000000:{bus:02X}:00.0".encode()
            return NVML_SUCCESS
        return self._answer(handle, fill)

    def nvmlDeviceGetMigMode(self, handle, current, pending):
        def fill(device):
            if "mig_of" in device.spec:
                return NVML_ERROR_NOT_SUPPORTED
            mode = NVML_DEVICE_MIG_ENABLE if device.spec.get("mig") else NVML_DEVICE_MIG_DISABLE
            current._obj.value = pending._obj.value = mode
            return NVML_SUCCESS
        return self._answer(handle, fill)

    def nvmlDeviceGetMaxMigDeviceCount(self, handle, out):
        return self._answer(handle, lambda d: setattr(out._obj, "value", len(d.mig)) or 0)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, index, out):
        def fill(device):
            if not 0 <= index.value < len(device.mig):
                return NVML_ERROR_NOT_FOUND
            self._point(out, device.mig[index.value])
            return NVML_SUCCESS
        return self._answer(handle, fill)

    def nvmlDeviceIsMigDeviceHandle(self, handle, out):
        return self._answer(handle, lambda d: setattr(out._obj, "value", int("mig_of" in d.spec)) or 0)

    def _board(self, device, key):
        # MIG instances have no power or energy of their own.
        return "mig_of" not in device.spec and device.spec.get(key, True)

    def nvmlDeviceGetPowerUsage(self, handle, out):
        def fill(device):
            if not self._board(device, "power"):
                return NVML_ERROR_NOT_SUPPORTED
            out._obj.value = int(float(device.spec["watts"]) * 1000)
            return NVML_SUCCESS
        return self._answer(handle, fill)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle, out):
        def fill(device):
            if not self._board(device, "counter"):
                return NVML_ERROR_NOT_SUPPORTED
            out._obj.value = device.energy_mj()
            return NVML_SUCCESS
        return self._answer(handle, fill)

    def nvmlDeviceGetFieldValues(self, handle, count, values):
        def fill(device):
            for value in values._obj[: count.value]:
                value.timestamp = int(time.time() * 1e6)
                supported = self._board(device, "power") and self._board(device, "instant")
                if value.fieldId != NVML_FI_DEV_POWER_INSTANT or value.scopeId != NVML_POWER_SCOPE_GPU or not supported:
                    value.nvmlReturn = NVML_ERROR_NOT_SUPPORTED
                    continue
                milliwatts = float(device.spec["watts"]) * 1000
                kind = device.spec.get("instant_type", "uint")
                if kind == "double":
                    value.valueType, value.value.dVal = NVML_VALUE_TYPE_DOUBLE, milliwatts
                elif kind == "ull":
                    value.valueType, value.value.ullVal = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, int(milliwatts)
                else:
                    value.valueType, value.value.uiVal = NVML_VALUE_TYPE_UNSIGNED_INT, int(milliwatts)
                value.nvmlReturn = NVML_SUCCESS
            return NVML_SUCCESS
        return self._answer(handle, fill)

    def _processes(self, handle, count, infos, key, default):
        """NVML's two-call protocol: with no array (or too small a count) the count
        needed and INSUFFICIENT_SIZE, unless there are none; then the array filled."""
        def fill(device):
            named = {"self": os.getpid(), "host-self": 1_000_000 + os.getpid()}
            pids = [named[pid] if pid in named else int(pid) for pid in device.spec.get(key, default)]
            if not pids:
                count._obj.value = 0
                return NVML_SUCCESS
            if not infos or count._obj.value < len(pids):
                count._obj.value = len(pids)
                return NVML_ERROR_INSUFFICIENT_SIZE
            for info, pid in zip(infos, pids):
                info.pid, info.usedGpuMemory = pid, 2**28
                info.gpuInstanceId = info.computeInstanceId = 0xFFFFFFFF
            count._obj.value = len(pids)
            return NVML_SUCCESS
        return self._answer(handle, fill)

    def nvmlDeviceGetComputeRunningProcesses_v3(self, handle, count, infos):
        return self._processes(handle, count, infos, "compute", ["self"])

    def nvmlDeviceGetGraphicsRunningProcesses_v3(self, handle, count, infos):
        return self._processes(handle, count, infos, "graphics", [])

    def nvmlDeviceGetUtilizationRates(self, handle, out):
        def fill(device):
            if "mig_of" in device.spec:
                return NVML_ERROR_NOT_SUPPORTED
            out._obj.gpu, out._obj.memory = 97, 40
            return NVML_SUCCESS
        return self._answer(handle, fill)

    def nvmlDeviceGetMemoryInfo(self, handle, out):
        def fill(device):
            out._obj.total, out._obj.used = 80 * 2**30, 3 * 2**30
            out._obj.free = out._obj.total - out._obj.used
            return NVML_SUCCESS
        return self._answer(handle, fill)


# --- the wrappers, as in pynvml -----------------------------------------------------


def convertStrBytes(func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        if json.loads(os.environ.get("NVML_SIM") or "{}").get("bytes_api"):
            return func(*args, **kwargs)  # nvidia-ml-py before 11.5: bytes in, bytes out
        args = [arg.encode() if isinstance(arg, str) else arg for arg in args]
        res = func(*args, **kwargs)
        if isinstance(res, bytes):
            return res.decode()
        return res
    return wrapper


def _LoadNvmlLibrary():
    global nvmlLib
    if nvmlLib is None:
        with libLoadLock:
            if nvmlLib is None:
                config = json.loads(os.environ.get("NVML_SIM") or "{}")
                if config.get("init") == "LIBRARY_NOT_FOUND":
                    _nvmlCheckReturn(NVML_ERROR_LIBRARY_NOT_FOUND)
                nvmlLib = _SimLibrary(config)


def nvmlInitWithFlags(flags):
    global _nvmlLib_refcount
    _LoadNvmlLibrary()
    fn = _nvmlGetFunctionPointer("nvmlInitWithFlags")
    _nvmlCheckReturn(fn(flags))
    with libLoadLock:
        _nvmlLib_refcount += 1
    return None


def nvmlInit():
    nvmlInitWithFlags(0)
    return None


def nvmlShutdown():
    global _nvmlLib_refcount
    fn = _nvmlGetFunctionPointer("nvmlShutdown")
    _nvmlCheckReturn(fn())
    with libLoadLock:
        if 0 < _nvmlLib_refcount:
            _nvmlLib_refcount -= 1
    return None


@convertStrBytes
def nvmlErrorString(result):
    fn = _nvmlGetFunctionPointer("nvmlErrorString")
    return fn(result)


@convertStrBytes
def nvmlSystemGetDriverVersion():
    c_version = create_string_buffer(NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE)
    fn = _nvmlGetFunctionPointer("nvmlSystemGetDriverVersion")
    _nvmlCheckReturn(fn(c_version, c_uint(NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE)))
    return c_version.value


def nvmlSystemGetCudaDriverVersion():
    c_cuda_version = c_int()
    fn = _nvmlGetFunctionPointer("nvmlSystemGetCudaDriverVersion")
    _nvmlCheckReturn(fn(byref(c_cuda_version)))
    return c_cuda_version.value


def nvmlDeviceGetCount():
    c_count = c_uint()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetCount_v2")
    _nvmlCheckReturn(fn(byref(c_count)))
    return c_count.value


def nvmlDeviceGetHandleByIndex(index):
    c_index = c_uint(index)
    device = c_nvmlDevice_t()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetHandleByIndex_v2")
    _nvmlCheckReturn(fn(c_index, byref(device)))
    return device


@convertStrBytes
def nvmlDeviceGetHandleByUUID(uuid):
    c_uuid = c_char_p(uuid)
    device = c_nvmlDevice_t()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetHandleByUUID")
    _nvmlCheckReturn(fn(c_uuid, byref(device)))
    return device


@convertStrBytes
def nvmlDeviceGetName(handle):
    c_name = create_string_buffer(NVML_DEVICE_NAME_V2_BUFFER_SIZE)
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetName")
    _nvmlCheckReturn(fn(handle, c_name, c_uint(NVML_DEVICE_NAME_V2_BUFFER_SIZE)))
    return c_name.value


@convertStrBytes
def nvmlDeviceGetUUID(handle):
    c_uuid = create_string_buffer(NVML_DEVICE_UUID_V2_BUFFER_SIZE)
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetUUID")
    _nvmlCheckReturn(fn(handle, c_uuid, c_uint(NVML_DEVICE_UUID_V2_BUFFER_SIZE)))
    return c_uuid.value


def nvmlDeviceGetIndex(handle):
    c_index = c_uint()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetIndex")
    _nvmlCheckReturn(fn(handle, byref(c_index)))
    return c_index.value


def nvmlDeviceGetPciInfo_v3(handle):
    c_info = nvmlPciInfo_t()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetPciInfo_v3")
    _nvmlCheckReturn(fn(handle, byref(c_info)))
    return c_info


def nvmlDeviceGetPciInfo(handle):
    return nvmlDeviceGetPciInfo_v3(handle)


def nvmlDeviceGetMigMode(device):
    c_currentMode, c_pendingMode = c_uint(), c_uint()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetMigMode")
    _nvmlCheckReturn(fn(device, byref(c_currentMode), byref(c_pendingMode)))
    return [c_currentMode.value, c_pendingMode.value]


def nvmlDeviceGetMaxMigDeviceCount(device):
    c_count = c_uint()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetMaxMigDeviceCount")
    _nvmlCheckReturn(fn(device, byref(c_count)))
    return c_count.value


def nvmlDeviceGetMigDeviceHandleByIndex(device, index):
    c_index = c_uint(index)
    migDevice = c_nvmlDevice_t()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetMigDeviceHandleByIndex")
    _nvmlCheckReturn(fn(device, c_index, byref(migDevice)))
    return migDevice


def nvmlDeviceIsMigDeviceHandle(device):
    c_isMigDevice = c_uint()
    fn = _nvmlGetFunctionPointer("nvmlDeviceIsMigDeviceHandle")
    _nvmlCheckReturn(fn(device, byref(c_isMigDevice)))
    return c_isMigDevice  # sic: the real wrapper returns the c_uint, not its value


def nvmlDeviceGetPowerUsage(handle):
    c_watts = c_uint()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetPowerUsage")
    _nvmlCheckReturn(fn(handle, byref(c_watts)))
    return c_watts.value


def nvmlDeviceGetTotalEnergyConsumption(handle):
    c_millijoules = c_uint64()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetTotalEnergyConsumption")
    _nvmlCheckReturn(fn(handle, byref(c_millijoules)))
    return c_millijoules.value


def nvmlDeviceGetMemoryInfo(handle, version=None):
    c_memory = c_nvmlMemory_t()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetMemoryInfo")
    _nvmlCheckReturn(fn(handle, byref(c_memory)))
    return c_memory


def nvmlDeviceGetUtilizationRates(handle):
    c_util = c_nvmlUtilization_t()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetUtilizationRates")
    _nvmlCheckReturn(fn(handle, byref(c_util)))
    return c_util


def nvmlDeviceGetFieldValues(handle, fieldIds):
    values_arr = c_nvmlFieldValue_t * len(fieldIds)
    values = values_arr()
    fn = _nvmlGetFunctionPointer("nvmlDeviceGetFieldValues")
    for i, fieldId in enumerate(fieldIds):
        try:
            (values[i].fieldId, values[i].scopeId) = fieldId
        except TypeError:
            values[i].fieldId = fieldId
    _nvmlCheckReturn(fn(handle, c_int32(len(fieldIds)), byref(values)))
    return values


def throwOnVersionMismatch(func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except NVMLError_FunctionNotFound:  # noqa: F821 (made by _extractNVMLErrorsAsClasses)
            raise NVMLLibraryMismatchError("Unversioned function called and the "
                                           "pyNVML version does not match the NVML lib version. "
                                           "Either use matching pyNVML and NVML lib versions or "
                                           "use a versioned function such as " + func.__name__ + "_v2")
    return wrapper


def _running_processes_v3(name, handle):
    # first call to get the size
    c_count = c_uint(0)
    fn = _nvmlGetFunctionPointer(name)
    ret = fn(handle, byref(c_count), None)
    if ret == NVML_SUCCESS:
        return []  # no running processes
    elif ret == NVML_ERROR_INSUFFICIENT_SIZE:
        # oversize the array in case more processes are created
        c_count.value = c_count.value * 2 + 5
        proc_array = c_nvmlProcessInfo_v3_t * c_count.value
        c_procs = proc_array()
        ret = fn(handle, byref(c_count), c_procs)
        _nvmlCheckReturn(ret)
        procs = []
        for i in range(c_count.value):
            obj = nvmlStructToFriendlyObject(c_procs[i])
            if obj.usedGpuMemory == NVML_VALUE_NOT_AVAILABLE_ulonglong.value:
                obj.usedGpuMemory = None
            procs.append(obj)
        return procs
    else:
        raise NVMLError(ret)


def nvmlDeviceGetComputeRunningProcesses_v3(handle):
    return _running_processes_v3("nvmlDeviceGetComputeRunningProcesses_v3", handle)


@throwOnVersionMismatch
def nvmlDeviceGetComputeRunningProcesses(handle):
    return nvmlDeviceGetComputeRunningProcesses_v3(handle)


def nvmlDeviceGetGraphicsRunningProcesses_v3(handle):
    return _running_processes_v3("nvmlDeviceGetGraphicsRunningProcesses_v3", handle)


@throwOnVersionMismatch
def nvmlDeviceGetGraphicsRunningProcesses(handle):
    return nvmlDeviceGetGraphicsRunningProcesses_v3(handle)


def _sim_event(uuid, **changes):
    """Test only: change GPU ``uuid``'s configuration in this process (``lost_at``,
    ``reset_at``, ``watts``: seconds are after the simulation's ``t0``)."""
    for device in nvmlLib._all():
        if device.spec["uuid"] == uuid:
            device.spec.update(changes)
            return device.now()
    raise KeyError(uuid)
