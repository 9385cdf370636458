"""One point's life, inside its own process: build task, generate data, build model,
train with per-epoch curves, evaluate on the test split, score, measure, one record."""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np

from seqbench import registry
from seqbench.data import FreshTrain, Split
from seqbench.grid import Point
from seqbench.meters import run_meters
from seqbench.model import EpochOutcome, FitSettings, Model
from seqbench.task import PAD_ID, Task

__all__ = ["run_point", "predict_split", "failed_record", "position_metrics", "NonFiniteResult"]


class NonFiniteResult(FloatingPointError):
    """A loss or metric became NaN or infinite."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def base_record(point: Point) -> dict[str, Any]:
    return {
        "suite": point.suite,
        "point": point.hash,
        "task": point.task,
        "model": point.model,
        "seed": point.seed,
        "config": point.config(),
        "status": "failed",
        "error": None,
        "traceback": None,
        "primary_metric": None,
        "direction": None,
        "metrics": {},
        "timings": {},
        "measurements": {},
        "curves": [],
        "length_metrics": [],
        "position_metrics": [],
        "started_at": now(),
        "finished_at": None,
    }


def failed_record(point: Point, error: str, detail: str | None = None) -> dict[str, Any]:
    record = base_record(point)
    record.update(error=error, traceback=detail, finished_at=now())
    return record


def predict_split(model: Model, split: Split, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and targets for a whole split, batch by batch."""
    predictions, targets = [], []
    for batch in split.batches(batch_size):
        predictions.append(np.asarray(model.predict(batch.inputs)))
        targets.append(batch.targets)
    return _concatenate_padded(predictions), _concatenate_padded(targets)


def _concatenate_padded(batches: list[np.ndarray]) -> np.ndarray:
    """Batches joined along the examples axis. Token sequences may differ in width
    between batches (a model tested at a length it was not built for decodes to the
    length it knows); they are right-padded with PAD_ID to the widest, as the task
    contract pads every token sequence."""
    widths = {batch.shape[1] for batch in batches if batch.ndim == 2}
    if len(widths) > 1 and all(np.issubdtype(b.dtype, np.integer) for b in batches):
        widest = max(widths)
        batches = [np.pad(b, ((0, 0), (0, widest - b.shape[1])), constant_values=PAD_ID) for b in batches]
    return np.concatenate(batches)


class _Phases:
    """Wall-clock phases; the model's device is synchronised before every clock read."""

    def __init__(self, meters: run_meters) -> None:
        self.meters = meters
        self.seconds: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.model: Model | None = None

    def synchronize(self) -> None:
        if self.model is not None:
            self.model.synchronize()

    def clock(self) -> float:
        self.synchronize()
        return time.perf_counter()

    def run(self, phase: str, action):
        # Work queued before the phase must not be billed to it, in time or energy.
        self.synchronize()
        self.meters.start(phase)
        start = self.started[phase] = self.clock()
        try:
            return action()
        finally:
            self.seconds[phase] = self.clock() - start
            self.meters.stop(phase)


def reaches(value: float, target: float, direction: str) -> bool:
    """True when ``value`` is at least as good as ``target`` ("min": lower is better)."""
    return value <= target if direction == "min" else value >= target


def _check_finite(metrics: dict[str, float], where: str) -> None:
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    if bad:
        raise NonFiniteResult(f"{where} metric {bad[0]} is {metrics[bad[0]]}")


def _length_generalisation(task: Task, model: Model, point: Point) -> list[dict[str, Any]]:
    """Test the trained model at each of ``run.eval_lengths`` (same seed, test split).

    A length the model cannot handle is a result, not a failed point: its error is kept
    beside the other lengths' metrics.
    """
    results = []
    for length in point.run["eval_lengths"]:
        at_length = dataclasses.replace(task, **{task.length_param: length})
        split = Split(at_length, "test", point.run["eval_size"], point.seed)
        try:
            predictions, targets = predict_split(model, split, point.run["batch_size"])
            scores = at_length.score(predictions, targets)
            results.append({"length": length, "metrics": {k: float(v) for k, v in scores.items()}})
        except Exception as error:
            results.append({"length": length, "error": f"{type(error).__name__}: {error}"})
    return results


def position_metrics(task: Task, predictions: np.ndarray, targets: np.ndarray) -> list[dict[str, Any]]:
    """The task's per-position test metrics as records' rows ``{name, position, value}``,
    or none when the task defines none.

    A value that is not finite is kept as None (NULL in the store): the averaged test
    metrics passed their finiteness check, and one position's overflow should not make
    the point fail. An array that is not one value per target position is the task's
    bug, and fails the point with a message saying so.
    """
    scores = task.score_positions(predictions, targets)
    if scores is None:
        return []
    positions = targets.shape[1] if targets.ndim > 1 else None
    rows: list[dict[str, Any]] = []
    for name, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        if positions is None or values.shape != (positions,):
            expected = f"({positions},)" if positions else "none: its targets have no positions"
            raise ValueError(
                f"task {task.name!r}: score_positions gave {name!r} of shape {values.shape}; "
                f"expected one value per target position, {expected}"
            )
        rows += [
            {"name": str(name), "position": position, "value": float(value) if math.isfinite(value) else None}
            for position, value in enumerate(values.tolist())
        ]
    return rows


EpochReport = Callable[[dict[str, Any]], None]


def run_point(
    point: Point, process_started: float | None = None, on_epoch: EpochReport | None = None
) -> dict[str, Any]:
    """Run ``point`` to a record; failures become a ``failed`` record, never an exception.

    ``on_epoch`` hears of each finished epoch as it happens: ``{"epoch", "epochs",
    "metric", "value", "seconds"}``, the primary validation metric and the training
    seconds so far. The record itself is only complete at the end."""
    record = base_record(point)
    started = time.perf_counter()
    if process_started is not None:
        record["timings"]["startup_s"] = started - process_started
    meters = run_meters(
        [cls for _, cls in registry.meters().items()], point.run["device"], settings=point.run
    )
    phases = _Phases(meters)
    try:
        _run(point, record, phases, on_epoch)
        record["status"] = "ok"
    except Exception as error:
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc()
    finally:
        meters.close()
        record["timings"].update({f"{k}_s": v for k, v in phases.seconds.items()})
        record["timings"]["total_s"] = time.perf_counter() - started
        record["measurements"] = meters.results
        record["finished_at"] = now()
    return record


def _run(point: Point, record: dict[str, Any], phases: _Phases, report: EpochReport | None) -> None:
    run = point.run
    task: Task = registry.tasks().get(point.task)(**point.task_params)
    model: Model = registry.models().get(point.model)(**point.model_params)
    record["primary_metric"] = task.primary_metric
    record["direction"] = task.direction

    splits = {
        "train": (
            FreshTrain(task, run["train_size"], point.seed)
            if run.get("train_data") == "fresh"
            else Split(task, "train", run["train_size"], point.seed)
        ),
        "validation": Split(task, "validation", run["eval_size"], point.seed),
        "test": Split(task, "test", run["eval_size"], point.seed),
    }
    phases.run("data", lambda: [split.prepare() for split in splits.values()])
    settings = FitSettings(
        epochs=run["epochs"],
        batch_size=run["batch_size"],
        device=run["device"],
        seed=point.seed,
        patience=run["patience"],
    )
    model.build(task, settings)
    phases.model = model

    curves: list[dict[str, Any]] = record["curves"]
    # The first epoch starts with the train phase: model building is not training.
    state = {"best": None, "since_best": 0, "examples": 0, "epoch_start": None}
    target = run.get("target")
    reached: dict[str, Any] = {}

    def on_epoch(epoch: int, train_loss: float, examples_seen: int) -> EpochOutcome:
        if not math.isfinite(train_loss):
            raise NonFiniteResult(f"training loss is {train_loss} at epoch {epoch}")
        predictions, targets = predict_split(model, splits["validation"], run["batch_size"])
        val = task.score(predictions, targets)
        _check_finite(val, f"validation (epoch {epoch})")
        now = phases.clock()
        seconds = now - (state["epoch_start"] or phases.started["train"])
        if target is not None and not reached:
            direction = target.get("direction", task.direction)
            if reaches(float(val[target["metric"]]), target["value"], direction):
                # MLPerf's time-to-train: the validation that shows the target counts.
                reached.update(epoch=epoch, seconds=now - phases.started["train"])
                for name, values in phases.meters.read("train").items():
                    phases.meters.results[name]["to_target"] = values
        state["examples"] += examples_seen
        primary = float(val[task.primary_metric])
        improved = task.better(primary, state["best"])
        if improved:
            state["best"], state["since_best"] = primary, 0
        else:
            state["since_best"] += 1
        curves.append(
            {
                "epoch": epoch,
                "train_loss": float(train_loss),
                **{f"val_{name}": float(value) for name, value in val.items()},
                "seconds": seconds,
                "examples_per_s": examples_seen / seconds if seconds > 0 else None,
            }
        )
        if report is not None:
            report(
                {
                    "epoch": epoch,
                    "epochs": run["epochs"],
                    "metric": task.primary_metric,
                    "value": primary,
                    "seconds": now - phases.started["train"],
                }
            )
        patience = run["patience"]
        stop = patience is not None and state["since_best"] >= patience
        state["epoch_start"] = phases.clock()
        if isinstance(splits["train"], FreshTrain):
            splits["train"].start_epoch(epoch + 1)
        return EpochOutcome(stop=stop, improved=improved)

    phases.run("train", lambda: model.fit(splits["train"], settings, on_epoch))
    predictions, targets = phases.run(
        "eval", lambda: predict_split(model, splits["test"], run["batch_size"])
    )
    metrics = {name: float(value) for name, value in task.score(predictions, targets).items()}
    _check_finite(metrics, "test")
    record["metrics"] = metrics
    record["position_metrics"] = position_metrics(task, predictions, targets)
    if run.get("eval_lengths"):
        record["length_metrics"] = phases.run(
            "generalisation", lambda: _length_generalisation(task, model, point)
        )

    timings = record["timings"]
    if target is not None:
        timings["target_reached"] = bool(reached)
        timings["target_epoch"] = reached.get("epoch")
        timings["time_to_target_s"] = reached.get("seconds")
    tokens = task.tokens_per_example()
    timings["epochs"] = len(curves)
    timings["train_examples"] = state["examples"]
    for phase, examples in (("train", state["examples"]), ("eval", len(splits["test"]))):
        seconds = phases.seconds.get(phase, 0.0)
        rate = examples / seconds if seconds > 0 and examples else None
        timings[f"{phase}_examples_per_s"] = rate
        timings[f"{phase}_tokens_per_s"] = rate * tokens if rate is not None else None
