"""Where a point may run and where its built model runs, and what its arithmetic
achieved there.

Before anything starts, suite validation checks every ``run.device`` against this
machine (``check_here``: ``cuda:3`` where no fourth GPU is visible is refused) and shows
each model the device the point will get (``planned_device``). After ``build`` the
pipeline asks the model where it runs (the meters need that before they start) and,
after training, what its arithmetic achieved.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

from seqbench.flops import CountError, checked_count, checked_counts, phase_rates
from seqbench.plugin_registry import PLUGIN_FAILURES, describe_error
from seqbench.printable import printable

if TYPE_CHECKING:
    from seqbench.data import Split
    from seqbench.model import Model
    from seqbench.task import Examples

__all__ = ["point_device", "count_flops", "FLOPS_BATCH", "visible_gpu_count", "check_here",
           "planned_device"]


def visible_gpu_count() -> int:
    """GPUs a point started here may use: ``CUDA_VISIBLE_DEVICES``'s entries when it is
    set, else every GPU NVML finds; none without an NVIDIA driver."""
    from seqbench.executors.gpus import visible_gpus

    return len(visible_gpus())


def check_here(device: str, gpus: int) -> None:
    """Refuse (ValueError, saying what is allowed) a ``run.device`` this machine, with
    ``gpus`` visible GPUs, cannot give: ``cuda`` without a GPU, ``cuda:N`` without an
    (N+1)th. ``device`` has passed ``settings.check_device``."""
    if not device.startswith("cuda"):
        return
    index = int(device.partition(":")[2] or 0)
    if index < gpus:
        return
    allowed = ", ".join(["auto", "cpu", *(["cuda"] if gpus else []), *(f"cuda:{i}" for i in range(gpus))])
    seen = f"{gpus} visible GPU{'s' if gpus != 1 else ''}" if gpus else "no visible GPU"
    raise ValueError(f"{device!r} is not on this machine ({seen}); allowed here: {allowed}")


def planned_device(device: str, gpus: int | None) -> str:
    """Where a point asking for ``device`` will run, as far as is known before it starts:
    ``auto`` becomes ``cuda:0`` or ``cpu`` when the GPUs are known (``gpus``), and
    stays ``auto`` when they are not (an executor that runs points elsewhere)."""
    if device == "auto" and gpus is not None:
        return "cuda:0" if gpus > 0 else "cpu"
    if device == "cuda":
        return "cuda:0"
    return device


def point_device(model: "Model", requested: str) -> str:
    """The device(s) the built model runs on, comma-joined (``cpu``, ``cuda:0``,
    ``cuda:0,cuda:1``). A model that cannot say is taken to run where the run asked;
    an ``auto`` left unresolved is recorded as such."""
    devices = model.devices()
    if devices:
        return ",".join(dict.fromkeys(str(device) for device in devices))
    return requested


# The most examples FLOPs are counted on: a per-batch product shared among 64 examples
# is within 1% of its share in a larger batch (S4D's kernel at d_model 32, N 64, L 32:
# 0.8% high at 16 against 64, a quarter of that at 64 against 256).
FLOPS_BATCH = 64


def _first_batch(split: "Split", batch_size: int) -> "Examples":
    return next(iter(split.batches(min(batch_size, FLOPS_BATCH))))


def _predict_count(model: "Model", split: "Split", batch_size: int, name: str) -> float | None:
    """Model FLOPs of one prediction on ``split``'s first batch (``name``: validation or
    test): the model's ``predict_flops(inputs)`` where it has one (seqbench-torch's: no
    training step counted), else ``flops``'s ``predict_per_example``; checked as a count
    (``checked_count``)."""
    batch = _first_batch(split, batch_size)
    predict_flops = getattr(model, "predict_flops", None)
    if callable(predict_flops):
        return checked_count(predict_flops(batch.inputs), f"{name}_predict_per_example",
                             f"predict_flops() on the {name} batch")
    found = model.flops(batch.inputs, batch.targets)
    return checked_counts(found, f"flops() on the {name} batch").get("predict_per_example") if found else None


def count_flops(
    model: "Model",
    train: "Split",
    batch_size: int,
    *,
    validation: "Split | None",
    test: "Split | None",
    timings: Mapping[str, Any],
    measurements: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The record's ``flops`` entry (see seqbench.flops.phase_rates), or None when the
    model does not count its FLOPs. Counted once, after training, on the training
    split's first batch of the run's ``batch_size``, up to FLOPS_BATCH examples: close
    to a training step's own shape, so the padding a batch carries (token batches are
    trimmed to their longest row) and the products made once per batch (a convolution
    kernel, a filter) are shared nearly as in training, without paying a whole
    large batch's count (benchmarks/flops_count.py: 3-8x 64's time at 256).

    Prediction is counted again on the first batch of the validation and of the test
    split, which price the validation predictions of the train phase and the eval
    phase: their lengths may differ from training's (parity with ``min_length``, whose
    training batches are shorter), and with them the padding and a decoder's steps.
    ``validation`` and ``test`` are the point's splits (None: the point has none, and
    its phases no such examples).

    A count that raises, or gives what is not a count (``seqbench.flops.checked_counts``:
    text or a negative number for FLOPs, an integer past float range), and anything
    its figures raise, leave the trained point as it is: the entry is only ``error``,
    naming the model, its plugin and the problem."""
    batch = _first_batch(train, batch_size)
    started = time.perf_counter()
    try:
        found = model.flops(batch.inputs, batch.targets)
        if found is None:
            return None
        counts = checked_counts(found)
        if not counts:
            return None
        for name, split in (("validation", validation), ("test", test)):
            if split is not None and len(split):
                counts[f"{name}_predict_per_example"] = _predict_count(model, split, batch_size, name)
        # Outside every phase but inside the point's total_s: a count steps through each
        # product in Python (an LSTM at T = 1500: seconds, more than its smoke run's
        # training), so what it cost is kept beside what it found.
        seconds = time.perf_counter() - started
        nvml = measurements.get("nvml", {})
        names = (nvml.get("train") or {}).get("gpu_names")
        entry = phase_rates(
            counts,
            timings,
            validation_examples=len(validation) if validation is not None else 0,
            test_examples=len(test) if test is not None else 0,
            gpu_names=names.split(",") if names else [],
            precision=str(getattr(model, "precision", "fp32")),
        )
    except PLUGIN_FAILURES as error:  # a count that fails must not fail a trained point
        return {"error": _count_failure(model, error)}
    entry["count_s"] = seconds
    return entry


def _count_failure(model: "Model", error: BaseException) -> str:
    """Why a model's count was not kept, naming the model and its plugin: ``model
    'x' of plugin 'p' (dist 1.0): no FLOP count: flops() gave train_per_example = '12'
    (text), not a number of FLOPs``. A count checking refused (CountError) says what it
    gave; anything else raised, what (``describe_error``)."""
    from seqbench import registry

    name = getattr(type(model), "name", None)
    try:
        owner = registry.models().owner_of(name) if isinstance(name, str) else ""
    except Exception:  # the reason matters more than the plugin's name
        owner = ""
    problem = str(error) if isinstance(error, CountError) else f"counting raised {describe_error(error)}"
    return printable(f"model {name!r}{owner}: no FLOP count: {problem}")
