"""Which GPUs a sweep may hand out, and which points need one.

A point runs on a GPU unless its ``run.device`` is ``cpu`` or its model is known to run
on the CPU before it is built (a NumPy model that keeps ``Model.devices``'s answer,
``cpu``); a model that only says so once built (``devices()``) still takes one. When several points run at
once, each one that needs a GPU is given its own through ``CUDA_VISIBLE_DEVICES``, so
two points never share a GPU's memory, clocks or NVML energy counter. GPUs are handed
out by UUID, so the GPU a worker's CUDA sees and the one its meter reads are the same
whatever order either numbers them in; workers also number GPUs in PCI bus order
(``CUDA_DEVICE_ORDER=PCI_BUS_ID``, set by seqbench.threads.prepare_worker), as NVML
does, for indices that reach them some other way.
"""

from __future__ import annotations

import os
from typing import Mapping

from seqbench.meters.nvml_lib import NO_GPU_REASONS, cuda_gpus, parse_visible, start_nvml
from seqbench.point import Point
from seqbench.settings import DEVICE_PATTERN

__all__ = ["visible_gpus", "device_of", "needs_gpu", "pinned_index", "GpuPool"]


def visible_gpus(environ: Mapping[str, str] | None = None, skipped: list[str] | None = None) -> list[str]:
    """The GPUs this process may use, as full UUIDs for ``CUDA_VISIBLE_DEVICES``, each
    once, in CUDA's (PCI bus) order.

    ``CUDA_VISIBLE_DEVICES`` read by CUDA's rules against the GPUs NVML finds
    (seqbench.meters.nvml_lib.cuda_gpus: indices in PCI order, unique UUID prefixes,
    the list ending at the first entry that matches no GPU or repeats one; empty or
    ``-1`` hides every GPU); every GPU NVML finds when it is unset; none without an
    NVIDIA driver, whatever the variable lists. Without nvidia-ml-py, or where NVML
    fails otherwise, the entries CUDA could parse are kept as written, each once. A GPU NVML cannot open (lost, or another error) is left out, and named in
    ``skipped``; the others are kept.
    """
    environ = os.environ if environ is None else environ
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    nvml, why = start_nvml()
    if nvml is None:
        if why in NO_GPU_REASONS:
            return []  # no driver: CUDA_VISIBLE_DEVICES=0 names no GPU CUDA could open
        return _as_written(visible)
    try:
        return cuda_gpus(nvml, visible, skipped)
    except nvml.NVMLError as error:
        if skipped is not None:
            skipped.append(f"NVML could not list the GPUs: {type(error).__name__}: {error}")
        return _as_written(visible)
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass


def _as_written(visible: str | None) -> list[str]:
    written: list[str] = []
    for entry in parse_visible(visible or ""):
        if str(entry) in written:
            break  # CUDA ends the list at a repeated entry
        written.append(str(entry))
    return written


def device_of(point: Point) -> str:
    return point.run.device or "auto"


def needs_gpu(point: Point) -> bool:
    return device_of(point) != "cpu" and not _model_runs_on_cpu(point)


def _model_runs_on_cpu(point: Point) -> bool:
    """Whether the point's model runs on the CPU whatever the device asked
    (``model.known_to_run_on_cpu``)."""
    from seqbench import registry
    from seqbench.model import known_to_run_on_cpu

    try:
        model = registry.models().get(point.model)
    except Exception:  # an unknown model fails the point elsewhere, with its reason
        return False
    return known_to_run_on_cpu(model)


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
