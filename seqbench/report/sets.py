"""The result sets a report shows: one suite's runs from one store, what the suite swept,
and each run's series (model plus any other swept setting)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqbench import results
from seqbench.report.naming import axis_name, is_oracle

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ResultSet", "Sweep", "load_set", "sweep_of", "tidy", "summarise", "summarise_by_phase", "series_names",
           "setting_rows", "add_intervals", "RESULTS", "SETTING", "FLOPS_COLUMNS", "FLOPS_METHOD"]

BATCH = "run.batch_size"
SETTING = "setting"  # the panel row when a suite swept both length and batch size
# The record's FLOPs figures (seqbench.flops) per phase, which seqbench.plots.flops draws.
FLOPS_COLUMNS = {
    "flop_per_s": {"train": "meter.flops.train.flop_per_s", "eval": "meter.flops.eval.flop_per_s"},
    "utilisation": {"train": "meter.flops.train.utilisation", "eval": "meter.flops.eval.utilisation"},
}
# What the FLOP/s and utilisation figures say of their method (seqbench.plots.flops):
# the peak divided by and what it is, and whether a count is a lower bound.
FLOPS_METHOD = (
    "meter.flops.peak_flop_per_s", "meter.flops.peak_source", "meter.flops.precision",
    "meter.flops.fp32_math", "meter.flops.lower_bound", "meter.flops.peak_gpu",
)
# Result columns the report reads (the rest of a record is never loaded).
RESULTS = (
    "time.train_s", "time.eval_s", "time.total_s", "time.epochs",
    "meter.nvml.train.energy_j", "meter.nvml.eval.energy_j",
    "meter.nvml.train.energy_method", "meter.nvml.unavailable",
    *(column for columns in FLOPS_COLUMNS.values() for column in columns.values()),
    *FLOPS_METHOD,
)
# Used only when the task's plugin is not installed where the report is made.
LENGTH_NAMES = ("seq_len", "length", "seq_length", "sequence_length", "T")


@dataclass
class ResultSet:
    """One suite's runs from one store, with a label for titles and comparisons."""

    label: str
    store: Path
    suite: str
    runs: "pd.DataFrame"
    length_metrics: "pd.DataFrame"
    position_metrics: "pd.DataFrame"
    provenance: list[tuple[dict[str, Any], int]]
    _curves: "pd.DataFrame | None" = field(default=None, repr=False)

    @property
    def task(self) -> str:
        return str(self.runs["task"].iloc[0])

    @property
    def primary_metric(self) -> str | None:
        named = self.runs["primary_metric"].dropna()
        return str(named.iloc[0]) if len(named) else None

    @property
    def direction(self) -> str:
        named = self.runs["direction"].dropna()
        return str(named.iloc[0]) if len(named) else "min"

    def curves(self) -> "pd.DataFrame":
        """Training loss and the validation primary metric per run and epoch."""
        if self._curves is None:
            names = ["train_loss"] + ([f"val_{self.primary_metric}"] if self.primary_metric else [])
            self._curves = results.load_curves(self.store, self.suite, names=names, identity=False)
        return self._curves


def smoke_flags(runs: "pd.DataFrame") -> "pd.Series":
    """Per run, whether its configuration marks it a smoke run (``run.smoke``); all
    False for runs stored without that column."""
    import pandas as pd

    if "run.smoke" not in runs.columns:
        return pd.Series(False, index=runs.index)
    return runs["run.smoke"].fillna(False).astype(bool)


def load_set(store: Path, suite: str, label: str) -> ResultSet:
    runs = results.load(store, suite, results=RESULTS)
    return ResultSet(
        label=label,
        store=store,
        suite=suite,
        runs=runs,
        length_metrics=results.load_length_metrics(store, suite, identity=False),
        position_metrics=results.load_position_metrics(store, suite, identity=False),
        provenance=results.load_provenance(store, suite),
    )


def _length_param(task: str, columns: list[str]) -> str | None:
    """The task's length parameter as a column name, asking the task's plugin when it is
    installed, else guessing from common names."""
    try:
        from seqbench import registry

        name = registry.tasks().get(task).length_param
    except Exception:  # not installed here, or a broken plugin: the report still works
        name = next((n for n in LENGTH_NAMES if f"task.{n}" in columns), None)
    return f"task.{name}" if name and f"task.{name}" in columns else None


def _varies(runs: "pd.DataFrame", column: str) -> bool:
    values = runs[column].map(repr)
    if column.startswith("model."):
        # A hyper-parameter of one model is missing (NaN) for the others: it varies only
        # if some model ran with more than one value of it.
        return bool((values.groupby(runs["model"]).nunique() > 1).any())
    return values.nunique() > 1


@dataclass(frozen=True)
class Sweep:
    """What a set of runs varied. ``length`` and ``batch`` are plotted on an x axis;
    every ``other`` varied setting becomes part of the series name."""

    length: str | None
    batch: str | None
    other: tuple[str, ...]
    length_param: str | None

    @property
    def axes(self) -> list[str]:
        return [axis for axis in (self.length, self.batch) if axis]


def sweep_of(sets: list[ResultSet]) -> Sweep:
    """The union of what each set varied within itself, so side-by-side sets share their
    axes; a setting that only differs between the sets (a device, say) is what the
    comparison is about, and stays out of the series names."""
    length_param = None
    varied: list[str] = []
    for result_set in sets:
        runs = result_set.runs
        columns = list(runs.columns)
        length_param = length_param or _length_param(result_set.task, columns)
        for column in columns:
            if column.split(".")[0] in ("task", "model", "run") and "." in column:
                if column not in varied and _varies(runs, column):
                    varied.append(column)
    length = length_param if length_param in varied else None
    batch = BATCH if BATCH in varied else None
    other = tuple(c for c in varied if c not in (length, batch))
    return Sweep(length=length, batch=batch, other=other, length_param=length_param)


def _short(column: str) -> str:
    return column.split(".", 1)[1]


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def series_names(runs: "pd.DataFrame", sweep: Sweep) -> "pd.Series":
    """``torch:lstm`` or, when other settings were swept, ``torch:lstm lr=0.001``."""
    names = runs["model"].astype(str)
    for column in sweep.other:
        if column not in runs.columns:
            continue
        values = runs[column]
        present = values.map(_present).astype(bool)
        text = values.map(_value_text)
        names = names.where(~present, names + " " + _short(column) + "=" + text)
    return names


def tidy(sets: list[ResultSet], sweep: Sweep, status: str = "ok") -> "pd.DataFrame":
    """One row per run with the columns every figure uses: source, series, oracle, the
    axes, seed, metric, train_s, eval_s, train_energy_j, eval_energy_j."""
    import pandas as pd

    parts = []
    for result_set in sets:
        runs = result_set.runs
        runs = runs[runs["status"] == status] if status else runs
        part = pd.DataFrame({
            "id": runs["id"],
            "source": result_set.label,
            "series": series_names(runs, sweep),
            "model": runs["model"],
            "oracle": runs["model"].map(is_oracle).astype(bool),
            "seed": runs["seed"],
            "metric": pd.to_numeric(runs["primary_value"], errors="coerce"),
            "train_s": pd.to_numeric(runs["time.train_s"], errors="coerce"),
            "eval_s": pd.to_numeric(runs["time.eval_s"], errors="coerce"),
            "train_energy_j": pd.to_numeric(runs["meter.nvml.train.energy_j"], errors="coerce"),
            "eval_energy_j": pd.to_numeric(runs["meter.nvml.eval.energy_j"], errors="coerce"),
            "error": runs["error"],
        })
        for axis in sweep.axes:
            part[axis] = runs[axis] if axis in runs.columns else None
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    # Facets keep the sets' order (the first set on the left), not the alphabet's.
    frame["source"] = pd.Categorical(frame["source"], categories=[s.label for s in sets], ordered=True)
    return frame


def summarise(frame: "pd.DataFrame", by: list[str], value: str) -> "pd.DataFrame":
    """Mean, min, max and count of ``value`` over seeds, for each group of ``by``, and
    the mean's 95% interval (``low``, ``high``; NaN with one seed: seqbench.stats)."""
    import numpy as np

    kept = frame.dropna(subset=[value])
    grouped = kept.groupby(by, sort=True, dropna=False, observed=True)[value]
    with np.errstate(over="ignore"):  # sums past float64's largest: add_intervals redoes those groups
        summary = grouped.agg(["mean", "min", "max", "count", "std"]).reset_index()
    return add_intervals(summary, grouped).rename(columns={"count": "n"})


def add_intervals(summary: "pd.DataFrame", grouped: Any) -> "pd.DataFrame":
    """``low`` and ``high`` for ``summarise``: Student's t for every group at once,
    ``stats.interval`` (one call per group, its mean included) only where a group has a
    bootstrap's number of values (``stats.uses_bootstrap``) or values of extreme
    magnitude."""
    import numpy as np

    from seqbench import stats

    n = summary["count"].to_numpy(dtype=float)
    quantile = np.array([stats.t_quantile(0.5 + stats.LEVEL / 2, k - 1) if k >= 2 else np.nan for k in n])
    half = quantile * summary.pop("std").to_numpy(dtype=float) / np.sqrt(n)
    summary["low"], summary["high"] = summary["mean"] - half, summary["mean"] + half
    # stats.interval itself where the bootstrap is due, and where squares of the values
    # would overflow or underflow (|values| beyond 1e150 or within 1e-150): pandas'
    # standard deviation gives infinite or zero spreads there.
    largest = np.maximum(np.abs(summary["min"].to_numpy(dtype=float)), np.abs(summary["max"].to_numpy(dtype=float)))
    extreme = (n >= 2) & ((largest > 1e150) | ((largest < 1e-150) & (largest > 0)))
    many = np.flatnonzero(np.array([stats.uses_bootstrap(int(k)) for k in n], dtype=bool) | extreme)
    if len(many):
        values = [group.to_numpy(dtype=float) for _, group in grouped]
        for row in many:
            found = stats.interval(values[row])
            # The mean too: pandas' sum of values near 1e308 overflows to inf.
            summary.loc[summary.index[row], ["mean", "low", "high"]] = [found.mean, found.low, found.high]
    return summary


def summarise_by_phase(frame: "pd.DataFrame", columns: dict[str, str], by: list[str]) -> "pd.DataFrame":
    """``summarise`` of each phase's column (``columns``: phase -> column), stacked
    with a leading ``phase`` column: one frame for figures that draw phases side by side."""
    import pandas as pd

    parts = []
    for phase, column in columns.items():
        part = summarise(frame, by, column)
        part.insert(0, "phase", phase)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def setting_rows(points: "pd.DataFrame", sweep: Sweep) -> tuple["pd.DataFrame", str | None, str]:
    """Give each swept setting (length, batch size, or both) its own row of panels, for
    figures whose x axis is neither (epochs, positions): runs of different settings
    must not be averaged into one line. Returns the points, the row column and its
    label."""
    axes = sweep.axes
    if len(axes) <= 1:
        return points, (axes[0] if axes else None), (axis_name(axes[0]) if axes else "")
    import pandas as pd

    # Written out as text, but ordered as the numbers are (5 before 10): an ordered
    # categorical keeps that order through grouping and faceting.
    points = points.sort_values(axes, kind="stable")
    label = points[axes[0]].map(lambda v: f"{axis_name(axes[0])} = {v}")
    for axis in axes[1:]:
        label = label + points[axis].map(lambda v, a=axis: f"   {axis_name(a)} = {v}")
    ordered = pd.Categorical(label, categories=list(dict.fromkeys(label)), ordered=True)
    return points.assign(**{SETTING: ordered}), SETTING, ""
