"""NVML itself and which GPUs a device string means: loading the library, its strings,
and CUDA's numbering of GPUs (through ``CUDA_VISIBLE_DEVICES`` and PCI bus order)
resolved to NVML devices by UUID. ``pynvml`` (nvidia-ml-py) is imported lazily, never
when seqbench is imported.

Every list of GPUs seqbench hands out or meters comes from ``cuda_gpus``, which reads
``CUDA_VISIBLE_DEVICES`` by CUDA's own rules against the GPUs NVML finds, so the sweep's
GPU pool, a worker's CUDA and its meter agree on which GPU an entry means.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

__all__ = ["Unavailable", "start_nvml", "text", "parse_visible", "cuda_gpus", "gpu_numbers",
           "select_gpus", "handle_by_uuid", "CPU_REASON"]

CPU_REASON = "point ran on cpu"

# A device string's CUDA GPU: "cuda", "cuda:1", TensorFlow's "/GPU:0",
# "/job:localhost/replica:0/task:0/device:GPU:1", "gpu:0"; and the CPU's, likewise.
_CUDA_DEVICE = re.compile(r"(?:.*/)?(?:device:)?(?:cuda|gpu)(?::([0-9]+))?", re.IGNORECASE)
_CPU_DEVICE = re.compile(r"(?:.*/)?(?:device:)?cpu(?::[0-9]+)?", re.IGNORECASE)
_INDEX = re.compile(r"[0-9]+")


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
    except Exception as error:  # a broken library or binding is as unusable as a missing one
        return None, f"NVML failed to initialise: {type(error).__name__}: {error}"[:300]
    return pynvml, None


# start_nvml's reasons that mean this machine has no working NVIDIA driver: then CUDA
# has no GPU either, whatever CUDA_VISIBLE_DEVICES lists.
NO_LIBRARY = "NVML library not found: no NVIDIA driver"
NO_DRIVER = "NVIDIA driver not loaded"
NO_GPU_REASONS = (NO_LIBRARY, NO_DRIVER)


def _init_failure(nvml: ModuleType, error: Exception) -> str:
    if isinstance(error, nvml.NVMLError_LibraryNotFound):
        return NO_LIBRARY
    if isinstance(error, nvml.NVMLError_DriverNotLoaded):
        return NO_DRIVER
    if isinstance(error, nvml.NVMLError_NoPermission):
        return "no permission to use NVML"
    return f"NVML failed to initialise: {error}"


def text(value: Any) -> str:
    """NVML strings: str in nvidia-ml-py >= 11.5, bytes before."""
    return value.decode() if isinstance(value, bytes) else str(value)


def handle_by_uuid(nvml: ModuleType, uuid: str) -> Any:
    """The NVML handle of the GPU (or MIG instance) with this full UUID. nvidia-ml-py
    before 11.5 takes the UUID only as bytes."""
    try:
        return nvml.nvmlDeviceGetHandleByUUID(uuid)
    except TypeError:
        return nvml.nvmlDeviceGetHandleByUUID(uuid.encode())


def parse_visible(visible: str) -> list[int | str]:
    """``CUDA_VISIBLE_DEVICES``'s entries as CUDA reads them, before they are matched
    to GPUs: indices, and UUIDs or UUID prefixes (``GPU-...``, ``MIG-...``); the list
    ends at the first entry CUDA cannot parse ("-1", "", "bad")."""
    entries: list[int | str] = []
    for entry in (part.strip() for part in visible.split(",")):
        if _INDEX.fullmatch(entry):
            entries.append(int(entry))
        elif entry.startswith(("GPU-", "MIG-")) and len(entry) > 4:
            entries.append(entry)
        else:
            break
    return entries


def _handles(nvml: ModuleType, skipped: list[str] | None = None) -> list[tuple[int, Any]]:
    """(NVML index, handle) of every GPU NVML finds and this process may open. A GPU
    that fails to open for another reason (``GpuIsLost``, ``Unknown``, a reset needed)
    is left out too, named in ``skipped``: one broken GPU must not cost the others."""
    handles = []
    for index in range(nvml.nvmlDeviceGetCount()):
        try:
            handles.append((index, nvml.nvmlDeviceGetHandleByIndex(index)))
        except nvml.NVMLError_NoPermission:
            continue  # a GPU outside this container's cgroup: CUDA cannot open it either
        except nvml.NVMLError as error:
            if skipped is not None:
                skipped.append(f"GPU at NVML index {index}: {type(error).__name__}: {error}")
    return handles


def _pci_order(nvml: ModuleType, skipped: list[str] | None = None) -> list[str]:
    """The UUIDs of every GPU NVML finds and this process may open, in PCI bus order
    (domain, bus, device): the order CUDA numbers them in with
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, which NVML's own index order need not follow.
    A GPU whose handle or UUID NVML cannot give is left out, named in ``skipped``."""
    found = []
    for index, handle in _handles(nvml, skipped):
        try:
            pci = nvml.nvmlDeviceGetPciInfo(handle)
            key: tuple[int, ...] = (int(pci.domain), int(pci.bus), int(pci.device), index)
        except (nvml.NVMLError, AttributeError):
            key = (index,)  # no bus id to order by: NVML's order, which is PCI order by default
        try:
            uuid = text(nvml.nvmlDeviceGetUUID(handle))
        except nvml.NVMLError as error:
            if skipped is not None:
                skipped.append(f"GPU at NVML index {index}: {type(error).__name__}: {error}")
            continue
        found.append((key, uuid, handle))
    found.sort(key=lambda item: item[0])
    return [uuid for _, uuid, _ in found]


def _mig_uuids(nvml: ModuleType) -> list[str]:
    """The UUIDs of every MIG instance of every GPU in MIG mode (none where the driver
    or nvidia-ml-py has no MIG)."""
    uuids = []
    try:
        for _, handle in _handles(nvml):
            try:
                if nvml.nvmlDeviceGetMigMode(handle)[0] != getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1):
                    continue
                slots = nvml.nvmlDeviceGetMaxMigDeviceCount(handle)
            except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound, AttributeError):
                continue
            for slot in range(slots):
                try:
                    uuids.append(text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot))))
                except nvml.NVMLError_NotFound:
                    continue  # an empty slot
    except AttributeError:
        return []
    return uuids


def cuda_gpus(nvml: ModuleType, visible: str | None, skipped: list[str] | None = None) -> list[str]:
    """The full UUIDs of the GPUs CUDA numbers 0, 1, ... in a process with this
    ``CUDA_VISIBLE_DEVICES`` (None: unset) and ``CUDA_DEVICE_ORDER=PCI_BUS_ID``.
    GPUs NVML cannot open (a lost GPU) are left out, as CUDA cannot use them either,
    and named in ``skipped``.

    CUDA's rules: an index is a position in PCI bus order; a UUID may be given by any
    prefix that matches exactly one GPU (or MIG instance); the list ends at the first
    entry that matches no GPU (an index past the last, an unknown or ambiguous UUID) or
    names one already listed.
    """
    ordered = _pci_order(nvml, skipped)
    if visible is None:
        return ordered
    entries = parse_visible(visible)
    candidates = ordered + (_mig_uuids(nvml) if any(isinstance(e, str) and e.startswith("MIG-") for e in entries) else [])
    chosen: list[str] = []
    for entry in entries:
        if isinstance(entry, int):
            matches = ordered[entry:entry + 1]
        else:
            matches = [uuid for uuid in candidates if uuid.lower().startswith(entry.lower())]
        if len(matches) != 1 or matches[0] in chosen:
            break
        chosen.append(matches[0])
    return chosen


def gpu_numbers(device: str) -> list[int]:
    """CUDA's numbers of the GPUs a device string names (one device, or several joined
    by commas): ``cuda:N`` (or TensorFlow's ``/GPU:N``) is N; ``cuda`` and ``auto`` (a
    model that did not say where it ran) are CUDA's default device, 0; CPU entries use
    no GPU. Raises Unavailable when no NVIDIA GPU is named, saying what was."""
    numbers: list[int] = []
    others: list[str] = []
    for part in (part.strip() for part in device.split(",")):
        if not part or _CPU_DEVICE.fullmatch(part):
            continue
        match = _CUDA_DEVICE.fullmatch(part)
        if part == "auto" or match:
            number = int(match.group(1)) if match and match.group(1) else 0
            if number not in numbers:
                numbers.append(number)
        else:
            others.append(part)
    if numbers:
        return numbers
    if others:
        raise Unavailable(f"point ran on {','.join(others)}, not on an NVIDIA GPU")
    raise Unavailable(CPU_REASON)


def select_gpus(device: str, gpus: list[str], visible: str | None) -> list[str]:
    """The UUIDs of the GPUs the device a point ran on means, from ``gpus`` (CUDA's
    numbering, ``cuda_gpus``). Raises Unavailable naming why none can be measured."""
    numbers = gpu_numbers(device)
    if not gpus:
        raise Unavailable("NVML finds no GPU" if visible is None
                          else f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU")
    chosen = []
    for number in numbers:
        if number >= len(gpus):
            where = "NVML finds" if visible is None else f"CUDA_VISIBLE_DEVICES={visible!r} gives CUDA"
            raise Unavailable(f"device cuda:{number} but {where} {len(gpus)} GPU(s)")
        chosen.append(gpus[number])
    return chosen
