"""A point's record: the one thing that crosses from the worker back to the parent.

The pipeline fills one in the worker (``seqbench.pipeline.run_point``); the worker
writes it as JSON; an executor reads it back, or builds a failed one when the worker
died; ``seqbench run`` stores it (``seqbench.store``). The JSON is an object with
these fields, in this order; stores, ``--resume`` and executors written against
earlier versions rely on its shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Mapping, TypedDict

if TYPE_CHECKING:
    from seqbench.point import Point

__all__ = ["Record", "EpochProgress", "LengthResult", "PositionValue", "Status", "now"]

Status = Literal["ok", "failed"]


class _LengthResultBase(TypedDict):
    length: int


class LengthResult(_LengthResultBase, total=False):
    """The test metrics at one ``run.eval_lengths`` length, or why there are none."""

    metrics: dict[str, float]
    error: str


class PositionValue(TypedDict):
    """One test metric at one target position (None: the value was not finite)."""

    name: str
    position: int
    value: float | None


class EpochProgress(TypedDict):
    """A running point's latest epoch, which the worker writes beside its record while
    the point trains (the record itself comes only at the end)."""

    epoch: int
    epochs: int
    metric: str  # the task's primary metric
    value: float  # its validation value after this epoch
    seconds: float  # training seconds so far


def now() -> str:
    """The current UTC time as the record's timestamps write it."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Record:
    """What became of one point. ``status`` is ``failed`` until the pipeline finishes.

    ``curves`` holds one row per epoch: ``epoch``, ``train_loss``, ``val_<metric>``,
    ``seconds``, ``examples_per_s``. ``timings`` holds phase seconds (``<phase>_s``),
    rates and the target's figures; ``measurements`` each meter's figures by phase,
    and ``flops`` (seqbench.flops) where the model counts its FLOPs. ``provenance``
    holds what only the point's worker knows of where it ran: the machine and software
    (``seqbench.provenance.machine``: host, CPU, GPUs, driver, versions), ``device``
    (what the built model runs on, not the ``auto`` asked for) and ``threads`` (its CPU
    budget, seqbench.threads); the store merges it over the sweep's provenance, so
    under Ray a run names the node it ran on, not the driver.
    """

    suite: str
    point: str
    task: str
    model: str
    seed: int
    config: dict[str, Any]
    status: Status = "failed"
    error: str | None = None
    traceback: str | None = None
    primary_metric: str | None = None
    direction: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)
    length_metrics: list[LengthResult] = field(default_factory=list)
    position_metrics: list[PositionValue] = field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    # Last, and left out of the JSON while empty: a record without it (from an earlier
    # worker, or a failed one an executor built) reads and writes back byte for byte.
    provenance: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, point: Point) -> Record:
        """A record for ``point``, started now; ``failed`` until the pipeline says ok."""
        return cls(
            suite=point.suite,
            point=point.hash,
            task=point.task,
            model=point.model,
            seed=point.seed,
            config=point.config(),
            started_at=now(),
        )

    @classmethod
    def failed(cls, point: Point, error: str, detail: str | None = None) -> Record:
        """A ``failed`` record saying why (``detail``: a traceback or a log's tail)."""
        record = cls.start(point)
        record.error, record.traceback, record.finished_at = error, detail, now()
        return record

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def primary_value(self) -> float | None:
        """The primary metric's test value; None when the point has none (failed)."""
        return self.metrics.get(self.primary_metric) if self.primary_metric else None

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON object (shallow: its tables are the record's own)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        if not self.provenance:
            del values["provenance"]
        return values

    def to_json(self) -> str:
        """The JSON a worker writes; NumPy values a plugin left in are made plain."""
        return json.dumps(self.to_dict(), default=_jsonable)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """From a record's JSON object. Only the identity is required: executors written
        for earlier versions may leave the rest out, as the store always allowed. Keys
        that are not fields are ignored, as the store always ignored them (a record from
        a newer worker, on a Ray node, say, still reads)."""
        known = {f.name for f in fields(cls)}
        values = {
            key: value
            for key, value in data.items()
            if key in known and (value is not None or key not in _TABLES)
        }
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> Record:
        return cls.from_dict(json.loads(text))

    @classmethod
    def coerce(cls, value: Record | Mapping[str, Any]) -> Record:
        """``value`` if it is a Record, else the Record its JSON object describes (what
        executors written for earlier versions yield)."""
        return value if isinstance(value, Record) else cls.from_dict(value)


# Fields whose None means "empty" in a record built by hand.
_TABLES = frozenset(
    {"metrics", "timings", "measurements", "curves", "length_metrics", "position_metrics", "provenance"}
)


def _jsonable(value: Any) -> Any:
    # NumPy scalars and arrays that a plugin left in its metrics or measurements.
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
