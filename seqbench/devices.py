"""Where a built model runs, and what its arithmetic achieved there: the two facts the
pipeline asks of a model after ``build`` (the meters need the first before they start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from seqbench.flops import phase_rates

if TYPE_CHECKING:
    from seqbench.data import Split
    from seqbench.model import Model

__all__ = ["point_device", "count_flops", "FLOPS_BATCH"]

FLOPS_BATCH = 16  # examples in the batch FLOPs are counted on (per-example figures)


def point_device(model: "Model", requested: str) -> str:
    """The device(s) the built model runs on, comma-joined (``cpu``, ``cuda:0``,
    ``cuda:0,cuda:1``). A model that cannot say is taken to run where the run asked;
    an ``auto`` left unresolved is recorded as such."""
    devices = model.devices()
    if devices:
        return ",".join(dict.fromkeys(str(device) for device in devices))
    return requested


def count_flops(
    model: "Model",
    train: "Split",
    batch_size: int,
    *,
    validation_examples: int,
    test_examples: int,
    timings: Mapping[str, Any],
    measurements: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The record's ``flops`` entry (see seqbench.flops.phase_rates), or None when the
    model does not count its FLOPs. Counted once, after training, on a small batch of
    the training split (at most ``batch_size`` examples, the run's)."""
    batch = next(iter(train.batches(min(FLOPS_BATCH, batch_size))))
    try:
        counts = model.flops(batch.inputs, batch.targets)
    except Exception as error:  # a count that fails must not fail a trained point
        return {"error": f"{type(error).__name__}: {error}"}
    if not counts:
        return None
    nvml = measurements.get("nvml", {})
    names = (nvml.get("train") or {}).get("gpu_names")
    return phase_rates(
        counts,
        timings,
        validation_examples=validation_examples,
        test_examples=test_examples,
        gpu_names=names.split(",") if names else [],
        precision=str(getattr(model, "precision", "fp32")),
    )
