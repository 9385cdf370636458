"""Which GPUs a sweep may hand out, and which points need one.

A point runs on a GPU unless its ``run.device`` is ``cpu``. When several points run at
once, each one that needs a GPU is given its own through ``CUDA_VISIBLE_DEVICES``, so
two points never share a GPU's memory, clocks or NVML energy counter.
"""

from __future__ import annotations

import os
from typing import Mapping

from seqbench.point import Point
from seqbench.meters.nvml import Unavailable, select_gpus, start_nvml

__all__ = ["visible_gpus", "device_of", "needs_gpu", "pinned_index", "GpuPool"]


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries.

    The variable's own entries when it is set (read by CUDA's rule: the list ends at
    the first entry CUDA cannot parse; an empty value hides every GPU), else every GPU
    NVML finds, else none (no NVIDIA driver).
    """
    environ = os.environ if environ is None else environ
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        try:
            return [str(ident) for ident in select_gpus("cuda", visible, 0)]
        except Unavailable:
            return []
    nvml, _ = start_nvml()
    if nvml is None:
        return []
    try:
        return [str(index) for index in range(nvml.nvmlDeviceGetCount())]
    except nvml.NVMLError:
        return []
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass


def device_of(point: Point) -> str:
    return point.run.device or "auto"


def needs_gpu(point: Point) -> bool:
    return device_of(point) != "cpu"


def pinned_index(point: Point) -> int | None:
    """N for a point whose ``run.device`` is ``cuda:N``, else None."""
    device = device_of(point)
    if device.startswith("cuda:") and device[5:].isdigit():
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
