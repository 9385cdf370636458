"""Model FLOPs per point: how much arithmetic a training example and a prediction take,
the FLOP/s each phase achieved, and — on a GPU whose peak is known — model FLOPs
utilisation (achieved / peak for the precision used).

FLOPs here are *model* FLOPs, counted from the network's shapes (a multiply-add is 2
FLOPs, the backward pass of a matmul twice its forward), not the hardware's executed
instructions: recomputation (the flash kernel's, of attention's scores) and kernels'
own overheads are not counted, as in PaLM's MFU. Padding is counted as the model
computes it (a token batch trimmed to its longest row). Framework plugins count them
(``Model.flops``); this module turns counts and timings into rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["PEAKS", "Peak", "peak_for", "phase_rates"]


@dataclass(frozen=True)
class Peak:
    gpu: str
    precision: str
    flop_per_s: float
    source: str


TERA = 1e12
# Dense (no sparsity) peaks from NVIDIA's data sheets, in FLOP/s. fp32 is the CUDA-core
# figure: PyTorch does not use TF32 for fp32 matmuls by default. bf16 and fp16 are the
# tensor-core figures. Each entry's words must all be whole words of NVML's device name
# (upper-cased, "-" read as a space), and entries are tried most specific first: a word
# that merely starts like a model number names another GPU ("L40" is not the "L4",
# "A10G" not the "A10", "V100S" not the "V100"), so it finds no peak rather than a wrong one.
PEAKS: list[tuple[tuple[str, ...], dict[str, float], str]] = [
    (("H200", "NVL"), {"fp32": 60 * TERA, "bf16": 835 * TERA, "fp16": 835 * TERA}, "H200 NVL data sheet"),
    (("H200",), {"fp32": 67 * TERA, "bf16": 989 * TERA, "fp16": 989 * TERA}, "H200 SXM data sheet"),
    (("H100", "PCIE"), {"fp32": 51 * TERA, "bf16": 756 * TERA, "fp16": 756 * TERA}, "H100 PCIe data sheet"),
    (("H100", "NVL"), {"fp32": 60 * TERA, "bf16": 835 * TERA, "fp16": 835 * TERA}, "H100 NVL data sheet"),
    (("H100",), {"fp32": 67 * TERA, "bf16": 989 * TERA, "fp16": 989 * TERA}, "H100 SXM data sheet"),
    (("A100",), {"fp32": 19.5 * TERA, "bf16": 312 * TERA, "fp16": 312 * TERA}, "A100 data sheet"),
    (("L40S",), {"fp32": 91.6 * TERA, "bf16": 362 * TERA, "fp16": 362 * TERA}, "L40S data sheet"),
    (("L40",), {"fp32": 90.5 * TERA, "bf16": 181 * TERA, "fp16": 181 * TERA}, "L40 data sheet"),
    (("L4",), {"fp32": 30.3 * TERA, "bf16": 121 * TERA, "fp16": 121 * TERA}, "L4 data sheet"),
    (("A10",), {"fp32": 31.2 * TERA, "bf16": 125 * TERA, "fp16": 125 * TERA}, "A10 data sheet"),
    (("V100", "PCIE"), {"fp32": 14 * TERA, "fp16": 112 * TERA}, "V100 PCIe data sheet"),
    (("V100",), {"fp32": 15.7 * TERA, "fp16": 125 * TERA}, "V100 SXM2 data sheet"),
    (("T4",), {"fp32": 8.1 * TERA, "fp16": 65 * TERA}, "T4 data sheet"),
]


def peak_for(gpu_name: str | None, precision: str) -> Peak | None:
    """The table's peak for an NVML device name (e.g. ``NVIDIA H100 80GB HBM3``) at
    ``precision`` (fp32, bf16, fp16), or None when the GPU or precision is not in it."""
    if not gpu_name:
        return None
    words = set(gpu_name.upper().replace("-", " ").split())
    for keys, peaks, source in PEAKS:
        if words.issuperset(keys):
            # The first entry naming this GPU decides: a precision it lacks (bf16 on a
            # T4) has no peak, rather than a less specific entry's.
            return Peak(gpu_name, precision, peaks[precision], source) if precision in peaks else None
    return None


def _rate(flops: float | None, seconds: float | None) -> float | None:
    if flops is None or not seconds or seconds <= 0 or not math.isfinite(flops):
        return None
    return flops / seconds


def phase_rates(
    counts: Mapping[str, float],
    timings: Mapping[str, Any],
    validation_examples: int,
    test_examples: int,
    gpu_names: list[str],
    precision: str,
) -> dict[str, Any]:
    """The ``flops`` record entry: per-example counts, and per phase the FLOPs done, the
    FLOP/s achieved and (on known GPUs) the utilisation.

    The train phase runs the training steps and, after every epoch, predicts the
    validation split: both count. ``counts`` holds ``train_per_example`` (forward and
    backward) and ``predict_per_example``.
    """
    train_each = counts.get("train_per_example")
    predict_each = counts.get("predict_per_example")
    epochs = int(timings.get("epochs") or 0)
    train_examples = int(timings.get("train_examples") or 0)
    done: dict[str, float | None] = {
        "train": (
            train_each * train_examples + (predict_each or 0.0) * validation_examples * epochs
            if train_each is not None
            else None
        ),
        "eval": predict_each * test_examples if predict_each is not None else None,
    }
    found = [peak_for(name, precision) for name in gpu_names]
    peaks = [p for p in found if p is not None]
    peak = sum(p.flop_per_s for p in peaks) if peaks and len(peaks) == len(found) else None
    entry: dict[str, Any] = {
        "train_per_example": train_each,
        "predict_per_example": predict_each,
        "count_method": counts.get("method"),
        "precision": precision,
        "peak_flop_per_s": peak,
        "peak_source": "; ".join(p.source for p in peaks) if peak else None,
    }
    for phase, flops in done.items():
        rate = _rate(flops, timings.get(f"{phase}_s"))
        entry[phase] = {
            "flops": flops,
            "flop_per_s": rate,
            "utilisation": rate / peak if rate is not None and peak else None,
        }
    return entry
