"""Which GPUs a sweep may hand out, and which points need one.

A point runs on a GPU unless its ``run.device`` is ``cpu``. When several points run at
once, each one that needs a GPU is given its own through ``CUDA_VISIBLE_DEVICES``, so
two points never share a GPU's memory, clocks or NVML energy counter. GPUs are handed
out by UUID, so the GPU a worker's CUDA sees and the one its meter reads are the same
whatever order either numbers them in; workers also number GPUs in PCI bus order
(``CUDA_DEVICE_ORDER=PCI_BUS_ID``, set by seqbench.threads.prepare_worker), as NVML
does, for indices that reach them some other way.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Mapping

from seqbench.meters.nvml import Unavailable, start_nvml, text, visible_ids
from seqbench.point import Point
from seqbench.settings import DEVICE_PATTERN

__all__ = ["visible_gpus", "device_of", "needs_gpu", "pinned_index", "GpuPool"]


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs this process may use, as UUIDs for ``CUDA_VISIBLE_DEVICES``.

    ``CUDA_VISIBLE_DEVICES``'s own entries when it is set (read by CUDA's rule: the
    list ends at the first entry CUDA cannot parse; an empty value hides every GPU),
    an index taken in PCI bus order (NVML's); else every GPU NVML finds; else none (no
    NVIDIA driver). Without NVML, entries are kept as they were written.
    """
    environ = os.environ if environ is None else environ
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    entries: list[int | str] | None = None
    if visible is not None:
        try:
            entries = visible_ids(visible, 0)
        except Unavailable:
            return []
    nvml, _ = start_nvml()
    if nvml is None:
        return [str(entry) for entry in entries or []]
    try:
        if entries is None:
            entries = list(range(nvml.nvmlDeviceGetCount()))
        return [_uuid(nvml, entry) for entry in entries]
    except nvml.NVMLError:
        return [str(entry) for entry in entries or []]
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass


def _uuid(nvml: ModuleType, entry: int | str) -> str:
    if isinstance(entry, str):
        return entry  # already a UUID (GPU-... or MIG-...)
    return text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(entry)))


def device_of(point: Point) -> str:
    return point.run.device or "auto"


def needs_gpu(point: Point) -> bool:
    return device_of(point) != "cpu"


def pinned_index(point: Point) -> int | None:
    """N for a point whose ``run.device`` is ``cuda:N``, else None."""
    # The suite's own pattern (ASCII digits only): str.isdigit would take "cuda:²".
    device = device_of(point)
    if DEVICE_PATTERN.fullmatch(device) and device.startswith("cuda:"):
        return int(device[5:])
    return None


class GpuPool:
    """GPUs free to hand out; a point takes one when it starts and gives it back when it ends."""

    def __init__(self, gpus: list[str]) -> None:
        self.free = list(gpus)

    def take(self) -> str | None:
        return self.free.pop(0) if self.free else None

    def give_back(self, gpu: str) -> None:
        self.free.append(gpu)
