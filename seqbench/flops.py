"""Model FLOPs per point: how much arithmetic a training example and a prediction take,
the FLOP/s each phase achieved, and — on a GPU whose peak is known — model FLOPs
utilisation (achieved / peak for the precision used).

FLOPs here are *model* FLOPs, counted from the network's shapes (a multiply-add is 2
FLOPs, the backward pass of a matmul twice its forward), not the hardware's executed
instructions: recomputation (the flash kernel's, of attention's scores; a decoder
re-run over every prefix) and kernels' own overheads are not counted, as in PaLM's MFU.
Padding is counted as the model computes it (a token batch trimmed to its longest row).
Framework plugins count them (``Model.flops``); this module checks what a count gives
(``checked_counts``: plugin output, stored only as numbers, true/false and short text
the store takes) and turns counts and timings into rates.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from seqbench.printable import printable

__all__ = ["PEAKS", "Peak", "peak_for", "phase_rates", "checked_counts", "checked_count", "CountError",
           "COUNTS", "DESCRIBED"]


@dataclass(frozen=True)
class Peak:
    gpu: str
    precision: str
    flop_per_s: float
    source: str


TERA = 1e12
# Dense (no sparsity) peaks from NVIDIA's data sheets, in FLOP/s. fp32 is the CUDA-core
# (IEEE) figure: a seqbench-torch point at fp32 on CUDA turns TF32 off for matmuls and
# for cuDNN's convolutions and RNNs (which torch runs in TF32 by default), and records
# the math it ran as ``fp32_math``; a count whose fp32 math is not IEEE gets no fp32
# peak. bf16 and fp16 are the tensor-core figures. Each entry's words must all be whole
# words of NVML's device name (upper-cased, "-" read as a space), and entries are tried
# most specific first: a word that merely starts like a model number names another GPU
# ("L40" is not the "L4", "A10G" not the "A10", "V100S" not the "V100"), so it finds no
# peak rather than a wrong one.
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
    # Other V100s (FHHL, SXM3, DGXS) run at other clocks: no peak rather than SXM2's.
    (("V100", "PCIE"), {"fp32": 14 * TERA, "fp16": 112 * TERA}, "V100 PCIe data sheet"),
    (("V100", "SXM2"), {"fp32": 15.7 * TERA, "fp16": 125 * TERA}, "V100 SXM2 data sheet"),
    (("T4",), {"fp32": 8.1 * TERA, "fp16": 65 * TERA}, "T4 data sheet"),
]


# A vGPU profile's suffix, as NVML names it after the board (``NVIDIA L40-48Q``,
# ``GRID A100-40C``): the framebuffer in GB and the profile's letter.
_VGPU_PROFILE = re.compile(r"^\d+[ABCQ]$")


def peak_for(gpu_name: str | None, precision: str) -> Peak | None:
    """The table's peak for an NVML device name (e.g. ``NVIDIA H100 80GB HBM3``) at
    ``precision`` (fp32, bf16, fp16), or None when the GPU or precision is not in it.

    A share of a GPU has none: a MIG instance (``NVIDIA A100-SXM4-40GB MIG 1g.5gb``)
    has a fraction of the board's multiprocessors, and a vGPU profile (``NVIDIA
    L40-48Q``) a time slice of them, so the board's peak would understate their
    utilisation by that fraction."""
    if not gpu_name:
        return None
    words = set(gpu_name.upper().replace("-", " ").split())
    if "MIG" in words or any(_VGPU_PROFILE.match(word) for word in words):
        return None
    for keys, peaks, source in PEAKS:
        if words.issuperset(keys):
            # The first entry naming this GPU decides: a precision it lacks (bf16 on a
            # T4) has no peak, rather than a less specific entry's.
            return Peak(gpu_name, precision, peaks[precision], source) if precision in peaks else None
    return None


def _rate(flops: float | None, seconds: float | None) -> float | None:
    """FLOP/s, or None where nothing counted was done: a phase whose count is 0 (a
    model doing only elementwise work, which model FLOPs leave out) has no rate,
    rather than a measured 0. None too where the quotient is past float range."""
    if flops is None or not flops or not seconds or seconds <= 0 or not math.isfinite(flops):
        return None
    rate = flops / seconds
    return rate if math.isfinite(rate) else None


def _known(count: float | None) -> float | None:
    """A per-example count, or None for none or 0: nothing a FLOP count sees."""
    return count if count else None


def _finite(value: float) -> float | None:
    """A phase's total, None where counts times examples pass float range."""
    return value if math.isfinite(value) else None


class CountError(ValueError):
    """A model's FLOP count that cannot be stored (``checked_counts``): the problem, in
    words, for whoever knows the model's plugin to name it."""


# The per-example counts a model's count may give: finite numbers of FLOPs, 0 or more.
COUNTS = ("train_per_example", "predict_per_example", "validation_predict_per_example",
          "test_predict_per_example")
# What a plugin's count may say beyond its figures, copied into the entry once checked.
DESCRIBED = ("fp32_math", "lower_bound", "omitted")
# A count's words (``method``, ``fp32_math``, ``omitted``): one printable line each,
# short enough for a table cell; ``omitted`` may be given as a list of such phrases.
MAX_TEXT = 1000
MAX_PHRASES = 20
_SHOWN = 40  # characters of an offending value quoted in a message


def _shown(value: Any) -> str:
    """An offending value, for a message: short, printable, and never the value's own
    ``repr`` where that could be long, slow or raise (an integer of 10**5 digits, a
    plugin's object)."""
    # The built-in types' own methods: a subclass's may be anything.
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, int):
        bits = int.bit_length(value)
        return int.__repr__(value) if bits <= 128 else f"an integer of about {int(bits * math.log10(2)) + 1} digits"
    if isinstance(value, str):
        text = str.__str__(value)
        return printable(repr(text[:_SHOWN]) + ("..." if len(text) > _SHOWN else "")) + " (text)"
    return f"a {printable(type(value).__name__[:_SHOWN])}"


def checked_count(value: Any, key: str, source: str = "flops()") -> float | None:
    """``value``, what ``source`` gave as ``key``, as a float of FLOPs per example (None:
    not known); CountError unless it is None or a real number, finite (within float
    range) and not negative. A bool is not a count."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise CountError(f"{source} gave {key} = {_shown(value)}, not a number of FLOPs")
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise CountError(f"{source} gave {key} = {_shown(value)}; a count is a finite number of FLOPs, "
                         "0 or more")
    return number


def _checked_text(value: Any, key: str, source: str) -> str:
    """One printable line of at most MAX_TEXT characters; ``omitted`` may be a list or
    tuple of at most MAX_PHRASES such lines, joined with "; " (as seqbench-torch joins)."""
    if key == "omitted" and type(value) in (list, tuple):
        if len(value) > MAX_PHRASES:
            raise CountError(f"{source} gave {key} as a list of {len(value)} items; at most {MAX_PHRASES}")
        value = "; ".join(_checked_text(item, key, source) for item in value)
    if not isinstance(value, str):
        raise CountError(f"{source} gave {key} = {_shown(value)}, not text")
    text = str.__str__(value)  # a str subclass's own text, as JSON would write it
    if len(text) > MAX_TEXT or not text.isprintable():
        raise CountError(f"{source} gave {key} = {_shown(text)}; expected one printable line of at most "
                         f"{MAX_TEXT} characters")
    return text


def checked_counts(counts: Any, source: str = "flops()") -> dict[str, Any]:
    """What a model's count (``source``: the call that gave it) holds that the record
    keeps, checked: the COUNTS as ``checked_count`` gives them, ``method`` and
    ``fp32_math`` text, ``lower_bound`` true or false, ``omitted`` text (or a list of
    phrases, joined). A key left out or None is not known; other keys are ignored.
    CountError, saying which key and why, for anything else: its value would be
    stored as it came, where a report or an export may refuse the store (an integer
    past float range), or a figure computed from it fails the point (text, where a
    number belongs) or misleads (a negative count)."""
    if not isinstance(counts, Mapping):
        raise CountError(f"{source} returned {_shown(counts)}, not a dict of counts")
    checked: dict[str, Any] = {}
    for key in COUNTS:
        if key in counts:
            checked[key] = checked_count(counts[key], key, source)
    for key in ("method", "fp32_math", "omitted"):
        if counts.get(key) is not None:
            checked[key] = _checked_text(counts[key], key, source)
    bound = counts.get("lower_bound")
    if bound is not None:
        if not isinstance(bound, (bool, np.bool_)):
            raise CountError(f"{source} gave lower_bound = {_shown(bound)}, not true or false")
        checked["lower_bound"] = bool(bound)
    return checked


def phase_rates(
    counts: Mapping[str, Any],
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
    backward) and ``predict_per_example`` (on a training batch), and where counted on
    their own batches ``validation_predict_per_example`` and ``test_predict_per_example``,
    which then price the validation and test predictions (their lengths, so padding,
    may differ from training's). A prediction count of 0 is kept as None. ``fp32_math``,
    ``lower_bound`` and ``omitted``, where given, are copied; at fp32 a count whose
    ``fp32_math`` is not ``ieee`` gets no peak (the table's fp32 figures are IEEE's).
    ``counts`` is checked first (``checked_counts``; CountError): a count that is not
    one is not stored.
    """
    counts = checked_counts(counts)
    train_each = counts.get("train_per_example")
    predict_each = _known(counts.get("predict_per_example"))
    validation_each = _known(counts.get("validation_predict_per_example", predict_each))
    test_each = _known(counts.get("test_predict_per_example", predict_each))
    epochs = int(timings.get("epochs") or 0)
    train_examples = int(timings.get("train_examples") or 0)
    done: dict[str, float | None] = {
        "train": (
            _finite(train_each * train_examples + (validation_each or 0.0) * validation_examples * epochs)
            if train_each is not None
            else None
        ),
        "eval": _finite(test_each * test_examples) if test_each is not None else None,
    }
    fp32_math = counts.get("fp32_math")
    found = [peak_for(name, precision) for name in gpu_names]
    if precision == "fp32" and fp32_math not in (None, "ieee"):
        found = [None for _ in found]
    peaks = [p for p in found if p is not None]
    peak = sum(p.flop_per_s for p in peaks) if peaks and len(peaks) == len(found) else None
    entry: dict[str, Any] = {
        "train_per_example": train_each,
        "predict_per_example": predict_each,
        "validation_predict_per_example": validation_each,
        "test_predict_per_example": test_each,
        "count_method": counts.get("method"),
        **{key: counts[key] for key in DESCRIBED if key in counts},
        "precision": precision,
        "peak_flop_per_s": peak,
        "peak_gpu": "; ".join(p.gpu for p in peaks) if peak else None,
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
