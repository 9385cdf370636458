"""One point's life, inside its own process, as steps (``_run`` reads top to bottom):

1. make the task and the model the point names (the task's data as validated);
2. let the meters measure what needs an unused device (idle power),
   build the model, then open the meters for the device the built
   model says it runs on (``Model.devices``), not the one asked for;
                                                           [steps 1-2: build_s]
3. generate the train, validation and test splits                   [phase data]
4. train: the model's loop calls ``EpochJudge.on_epoch`` after each
   epoch, which scores validation, keeps the curve row and decides
   early stopping and the target                                    [phase train]
5. predict and score the test split (averaged and per position)     [phase eval]
6. with ``run.eval_lengths``: test again at each length             [phase generalisation]
7. throughput (examples and input tokens the model was fed, seqbench.throughput)
   and the target's figures into the record's timings;
   the model's FLOPs and the FLOP/s each phase achieved into its
   measurements.

``run_point`` brackets them: meters, phase clocks, the worker's machine
(``provenance.machine``) and thread budget in the record's provenance, and a
``failed`` record instead of an exception.
"""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from typing import Any, Callable, NamedTuple, TypeVar

import numpy as np

from seqbench import registry
from seqbench.data import FreshTrain, Split
from seqbench.devices import count_flops, point_device
from seqbench.meters import MeterSet
from seqbench.model import EpochOutcome, Model, known_to_run_on_cpu
from seqbench.plugin_output import PluginOutputError, checked_epoch, checked_predictions, shown
from seqbench.point import Point
from seqbench.provenance import machine
from seqbench.record import EpochProgress, LengthResult, PositionValue, Record, now
from seqbench.settings import RunSettings, reaches
from seqbench.task import PAD_ID, Task, fit_width
from seqbench.threads import worker_budget
from seqbench.throughput import CountedFreshTrain, CountedSplit, tokens_read, throughput

__all__ = [
    "run_point",
    "predict_split",
    "failed_record",
    "position_metrics",
    "reaches",
    "EpochJudge",
    "NonFiniteResult",
    "DataChanged",
]

T = TypeVar("T")

EpochReport = Callable[[EpochProgress], None]
"""Hears of each finished epoch, as it ends."""


class NonFiniteResult(FloatingPointError):
    """A loss or metric became NaN or infinite."""


class DataChanged(RuntimeError):
    """The task the worker built makes other data than the suite validated (a data file
    edited or replaced since): its results would be stored under the old data's identity,
    and a resumed run would take them as done."""


def _check_data_version(task: Task, point: Point) -> None:
    built = task.data_version()
    if built != point.task_data_version:
        raise DataChanged(
            f"task {point.task!r}: data version {built} here, {point.task_data_version} when the suite "
            "was validated: its data (a data file) changed since; run the suite again to make the "
            "points of the data as it is now")


def failed_record(point: Point, error: str, detail: str | None = None) -> Record:
    """``Record.failed``, under the name earlier versions exported."""
    return Record.failed(point, error, detail)


def predict_split(model: Model, split: Split, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and targets for a whole split, batch by batch; each batch's
    predictions checked against the batch and the task's signature (one answer per
    example, the promised shape and dtype kind), or the point fails naming the model."""
    signature = split.task.signature
    predictions, targets = [], []
    for batch in split.batches(batch_size):
        answer = model.predict(batch.inputs)
        predictions.append(checked_predictions(model.name, answer, len(batch), signature))
        targets.append(batch.targets)
    return _concatenate_padded(predictions, answers=True), _concatenate_padded(targets, answers=False)


def _concatenate_padded(batches: list[np.ndarray], answers: bool) -> np.ndarray:
    """Batches joined along the examples axis. Token sequences may differ in width
    between batches (a model tested at a length it was not built for decodes to the
    length it knows); they are right-padded to the widest: targets with PAD_ID, as the
    task contract pads every token sequence, and predictions (``answers``) with
    NO_ANSWER (``fit_width``), which no target equals: PAD there would score the
    positions a batch did not answer right wherever the target is padding."""
    widths = {batch.shape[1] for batch in batches if batch.ndim == 2}
    if len(widths) > 1 and all(np.issubdtype(b.dtype, np.integer) for b in batches):
        widest = max(widths)
        if answers:
            batches = [fit_width(b, widest) for b in batches]
        else:
            batches = [np.pad(b, ((0, 0), (0, widest - b.shape[1])), constant_values=PAD_ID) for b in batches]
    return np.concatenate(batches)


class Phases:
    """Wall-clock phases, each bracketed by the meters; the model's device is
    synchronised before every clock read."""

    def __init__(self, meters: MeterSet) -> None:
        self.meters = meters
        self.seconds: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.model: Model | None = None  # set once built: from then on, clocks synchronise it

    def synchronize(self) -> None:
        if self.model is not None:
            self.model.synchronize()

    def clock(self) -> float:
        self.synchronize()
        return time.perf_counter()

    def run(self, phase: str, action: Callable[[], T]) -> T:
        # Work queued before the phase must not be billed to it, in time or energy.
        self.synchronize()
        self.meters.start(phase)
        start = self.started[phase] = self.clock()
        try:
            return action()
        finally:
            self.seconds[phase] = self.clock() - start
            self.meters.stop(phase)


def _check_finite(metrics: dict[str, float], where: str) -> None:
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    if bad:
        raise NonFiniteResult(f"{where} metric {bad[0]} is {metrics[bad[0]]}")


class EpochJudge:
    """The harness's side of a model's training loop: its ``on_epoch`` is the callback
    the loop calls after every epoch (``seqbench.model.EpochCallback``).

    Each call checks the report against the model contract (``checked_epoch``: epochs
    1, 2, ... up to ``run.epochs``, none after being told to stop) and the loss,
    scores the validation split, notes when ``run.target`` is first reached, appends
    the epoch's curve row, tells ``report`` and answers whether to stop (patience) and
    whether this epoch is the best so far.

    A report that fails is kept (``failure``): a loop that catches the exception and
    trains on still fails its point, at its next report or when ``fit`` returns
    (``raise_failure``).
    """

    def __init__(
        self,
        task: Task,
        model: Model,
        train: Split,
        validation: Split,
        run: RunSettings,
        phases: Phases,
        curves: list[dict[str, Any]],
        report: EpochReport | None = None,
    ) -> None:
        self.task, self.model, self.run = task, model, run
        self.train, self.validation = train, validation
        self.phases = phases
        self.curves = curves  # the record's own list: a point that fails keeps its epochs
        self.report = report
        self.best: float | None = None
        self.since_best = 0
        self.examples = 0  # training examples seen, over all epochs
        self.tokens: float | None = 0.0  # their input tokens (None: not counted)
        self.epoch_start: float | None = None  # None: the epoch began with the train phase
        self.reached: tuple[int, float] | None = None  # (epoch, seconds) the target was reached
        self.epochs_reported = 0
        self.stopped = False  # an answer said stop: the loop must not report another epoch
        self.failure: Exception | None = None  # what a report raised, the loop's to pass on

    def on_epoch(self, epoch: int, train_loss: float, examples_seen: int) -> EpochOutcome:
        if self.failure is not None:
            raise self.failure
        try:
            return self._judge(epoch, train_loss, examples_seen)
        except Exception as error:
            self.failure = error
            raise

    def raise_failure(self) -> None:
        """After ``fit``: the exception an epoch report raised, should the loop have caught it."""
        if self.failure is not None:
            raise self.failure

    def _judge(self, epoch: Any, train_loss: Any, examples_seen: Any) -> EpochOutcome:
        if self.stopped:
            raise PluginOutputError(
                "model", self.model.name, f"on_epoch reported epoch {shown(epoch)} after epoch "
                f"{self.epochs_reported} was answered stop=True; fit must return when told to stop")
        epoch, train_loss, examples_seen = checked_epoch(
            self.model.name, epoch, train_loss, examples_seen,
            expected=self.epochs_reported + 1, epochs=self.run.epochs, train_size=len(self.train))
        self.epochs_reported = epoch
        if not math.isfinite(train_loss):
            raise NonFiniteResult(f"training loss is {train_loss} at epoch {epoch}")
        validation = self._score_validation(epoch)
        clock = self.phases.clock()
        train_started = self.phases.started["train"]
        seconds = clock - (self.epoch_start if self.epoch_start is not None else train_started)
        self._note_target(epoch, validation, clock - train_started)
        self.examples += examples_seen
        tokens = tokens_read(self.train, examples_seen)
        self.tokens = self.tokens + tokens if self.tokens is not None and tokens is not None else None
        primary = float(validation[self.task.primary_metric])
        improved = self._note_best(primary)
        self.curves.append(
            {
                "epoch": epoch,
                "train_loss": float(train_loss),
                **{f"val_{name}": float(value) for name, value in validation.items()},
                "seconds": seconds,
                "examples_per_s": examples_seen / seconds if seconds > 0 else None,
            }
        )
        if self.report is not None:
            self.report(
                {
                    "epoch": epoch,
                    "epochs": self.run.epochs,
                    "metric": self.task.primary_metric,
                    "value": primary,
                    "seconds": clock - train_started,
                }
            )
        patience = self.run.patience
        stop = patience is not None and self.since_best >= patience
        self.stopped = stop
        self.epoch_start = self.phases.clock()
        if isinstance(self.train, FreshTrain):  # run.train_data = "fresh": the next epoch's examples
            self.train.start_epoch(epoch + 1)
        return EpochOutcome(stop=stop, improved=improved)

    def _score_validation(self, epoch: int) -> dict[str, float]:
        predictions, targets = predict_split(self.model, self.validation, self.run.batch_size)
        scores = self.task.score(predictions, targets)
        _check_finite(scores, f"validation (epoch {epoch})")
        return scores

    def _note_target(self, epoch: int, validation: dict[str, float], seconds: float) -> None:
        target = self.run.target
        if target is None or self.reached is not None:
            return
        if target.reached_by(float(validation[target.metric]), self.task.direction):
            # MLPerf's time-to-train: the validation that shows the target counts.
            self.reached = (epoch, seconds)
            self.phases.meters.keep_reading("train", as_phase="to_target")

    def _note_best(self, primary: float) -> bool:
        improved = self.task.better(primary, self.best)
        if improved:
            self.best, self.since_best = primary, 0
        else:
            self.since_best += 1
        return improved

    def target_timings(self) -> dict[str, Any]:
        """``target_reached``, ``target_epoch``, ``time_to_target_s``; none without a target."""
        if self.run.target is None:
            return {}
        epoch, seconds = self.reached if self.reached is not None else (None, None)
        return {"target_reached": self.reached is not None, "target_epoch": epoch, "time_to_target_s": seconds}


class Splits(NamedTuple):
    train: Split
    validation: Split
    test: Split

    def prepare(self) -> None:
        """Generate every split (held in memory where it fits, see ``Split``)."""
        for split in self:
            split.prepare()


def _build(point: Point) -> tuple[Task, Model]:
    task: Task = registry.tasks().get(point.task)(**point.task_params)
    model: Model = registry.models().get(point.model)(**point.model_params)
    return task, model


def _splits(task: Task, point: Point) -> Splits:
    run = point.run
    # Train and test count the input tokens of the batches the model is fed.
    return Splits(
        train=(
            CountedFreshTrain(task, run.train_size, point.seed)
            if run.train_data == "fresh"
            else CountedSplit(task, "train", run.train_size, point.seed)
        ),
        validation=Split(task, "validation", run.eval_size, point.seed),
        test=CountedSplit(task, "test", run.eval_size, point.seed),
    )


def _test_metrics(task: Task, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    metrics = {name: float(value) for name, value in task.score(predictions, targets).items()}
    _check_finite(metrics, "test")
    return metrics


def _length_generalisation(task: Task, model: Model, point: Point) -> list[LengthResult]:
    """Test the trained model at each of ``run.eval_lengths`` (same seed, test split).

    A length the model cannot handle is a result, not a failed point: its error is kept
    beside the other lengths' metrics.
    """
    assert task.length_param is not None, "suite validation refuses eval_lengths without one"
    results: list[LengthResult] = []
    for length in point.run.eval_lengths or ():
        try:
            # A new task: one that reads a data file reads it again, which may have been
            # replaced since the point began; its lengths' results would then come from
            # other data than the point's.
            at_length = dataclasses.replace(task, **{task.length_param: length})  # type: ignore[type-var]
            _check_data_version(at_length, point)
            split = Split(at_length, "test", point.run.eval_size, point.seed)
            predictions, targets = predict_split(model, split, point.run.batch_size)
            scores = {k: float(v) for k, v in at_length.score(predictions, targets).items()}
        except Exception as error:
            results.append({"length": length, "error": f"{type(error).__name__}: {error}"})
            continue
        # A metric that is not finite (a model diverging at a longer length) is a result
        # too, kept as the length's error: stored as a value it became NULL, and the
        # length's mean was taken over the other seeds without a word.
        entry: LengthResult = {"length": length}
        finite = {k: v for k, v in scores.items() if math.isfinite(v)}
        if finite:
            entry["metrics"] = finite
        if len(finite) < len(scores):
            shown = ", ".join(f"{k} = {v}" for k, v in scores.items() if k not in finite)
            entry["error"] = f"NonFiniteResult: test metric {shown} at this length"
        results.append(entry)
    return results


def position_metrics(task: Task, predictions: np.ndarray, targets: np.ndarray) -> list[PositionValue]:
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
    rows: list[PositionValue] = []
    for name, raw in scores.items():
        values = np.asarray(raw, dtype=np.float64)
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


def run_point(
    point: Point, process_started: float | None = None, on_epoch: EpochReport | None = None
) -> Record:
    """Run ``point`` to a record; failures become a ``failed`` record, never an exception.

    ``on_epoch`` hears of each finished epoch as it happens: ``{"epoch", "epochs",
    "metric", "value", "seconds"}``, the primary validation metric and the training
    seconds so far. The record itself is only complete at the end."""
    record = Record.start(point)
    # Every installed plugin is imported and registers on first use of a registry: done
    # here, before the clock, it is startup's (a slow plugin the suite does not use is
    # not billed to every point's total).
    for collect in (registry.tasks, registry.models, registry.meters):
        collect()
    # Where the point runs, told by the worker itself: under Ray, a node the sweep's own
    # provenance never saw (about 12 ms, startup's too).
    record.provenance.update(machine())
    started = time.perf_counter()
    if process_started is not None:
        record.timings["startup_s"] = started - process_started
    # Opened in step 2, once the built model says which device it runs on.
    meters = MeterSet([cls for _, cls in registry.meters().items()], settings=point.run.as_dict())
    record.provenance["threads"] = worker_budget()
    phases = Phases(meters)
    try:
        _run(point, record, phases, on_epoch)
        record.status = "ok"
    except Exception as error:
        if isinstance(error, PluginOutputError):
            error.owner = (registry.tasks() if error.kind == "task" else registry.models()).owner_of(error.name)
        record.error = f"{type(error).__name__}: {error}"
        record.traceback = traceback.format_exc()
    finally:
        meters.close()
        record.timings.update({f"{phase}_s": seconds for phase, seconds in phases.seconds.items()})
        record.timings["total_s"] = time.perf_counter() - started
        record.measurements = {**meters.results, **record.measurements}  # and flops (step 7)
        record.finished_at = now()
    return record


def _run(point: Point, record: Record, phases: Phases, report: EpochReport | None) -> None:
    """The steps of the module's docstring, in order; each fills its part of ``record``."""
    building = time.perf_counter()
    try:
        task, model = _build(point)  # 1
        _check_data_version(task, point)
        record.primary_metric, record.direction = task.primary_metric, task.direction

        fit = point.run.fit_settings(point.seed)  # 2
        # Idle power, before the model takes a GPU; none for a model known to stay on the CPU.
        phases.meters.prepare("cpu" if known_to_run_on_cpu(type(model)) else None)
        model.build(task, fit)  # where a framework is first imported
        phases.model = model
        phases.synchronize()  # what build queued on a device is build's
        record.provenance["device"] = point_device(model, point.run.device)
        phases.meters.open(record.provenance["device"])
    finally:
        record.timings["build_s"] = time.perf_counter() - building

    splits = _splits(task, point)  # 3
    phases.run("data", splits.prepare)

    judge = EpochJudge(
        task, model, splits.train, splits.validation, point.run, phases, record.curves, report
    )
    phases.run("train", lambda: model.fit(splits.train, fit, judge.on_epoch))
    judge.raise_failure()

    predictions, targets = phases.run(  # 5
        "eval", lambda: predict_split(model, splits.test, point.run.batch_size)
    )
    test_tokens = tokens_read(splits.test, len(splits.test))
    record.metrics = _test_metrics(task, predictions, targets)
    record.position_metrics = position_metrics(task, predictions, targets)
    if point.run.eval_lengths:  # 6
        record.length_metrics = phases.run(
            "generalisation", lambda: _length_generalisation(task, model, point)
        )

    record.timings.update(judge.target_timings())  # 7
    record.timings["epochs"] = len(record.curves)
    record.timings["train_examples"] = judge.examples
    record.timings.update(
        throughput((judge.examples, judge.tokens), (len(splits.test), test_tokens), phases.seconds)
    )
    seconds = {f"{phase}_s": value for phase, value in phases.seconds.items()}
    flops = count_flops(
        model,
        splits.train,
        point.run.batch_size,
        validation=splits.validation,
        test=splits.test,
        timings={**record.timings, **seconds},
        measurements=phases.meters.results,
    )
    if flops is not None:
        record.measurements["flops"] = flops
