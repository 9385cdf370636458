"""NVML itself and which GPUs a device string means: loading the library, its strings,
and the mapping from CUDA's device numbers (through ``CUDA_VISIBLE_DEVICES``) to NVML
devices. ``pynvml`` (nvidia-ml-py) is imported lazily, never when seqbench is imported.
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["Unavailable", "start_nvml", "text", "visible_ids", "select_gpus", "CPU_REASON"]

CPU_REASON = "point ran on cpu"


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


def visible_ids(visible: str | None, count: int) -> list[int | str]:
    """The GPUs CUDA numbers 0, 1, ...: ``CUDA_VISIBLE_DEVICES``'s entries (indices or
    UUIDs, up to the first CUDA cannot parse) when set, else every GPU NVML finds."""
    if visible is None:
        if count == 0:
            raise Unavailable("NVML finds no GPU")
        return list(range(count))
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
    return ids


def select_gpus(device: str, visible: str | None, count: int) -> list[int | str]:
    """The NVML devices (indices, or UUIDs) that the device a point ran on means.

    ``device`` is one device or several joined by commas: ``cuda:N`` is CUDA's N-th
    visible GPU (entry N of ``CUDA_VISIBLE_DEVICES`` when set); ``cuda`` is CUDA's
    current device, 0; ``auto`` (a model that did not say where it ran) is taken as
    CUDA's default device too. ``cpu`` entries use no GPU. Raises Unavailable naming why
    none can be measured.
    """
    wanted = [part.strip() for part in device.split(",") if part.strip()]
    gpu_devices = [part for part in wanted if part != "cpu"]
    if not gpu_devices:
        raise Unavailable(CPU_REASON)
    ids = visible_ids(visible, count)
    chosen: list[int | str] = []
    for part in gpu_devices:
        number = int(part.split(":", 1)[1]) if part.startswith("cuda:") else 0
        if number >= len(ids):
            where = "CUDA_VISIBLE_DEVICES lists" if visible is not None else "NVML finds"
            raise Unavailable(f"device {part} but {where} {len(ids)} GPU(s)")
        if ids[number] not in chosen:
            chosen.append(ids[number])
    return chosen
