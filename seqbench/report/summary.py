"""The summary page's content for one group of side-by-side result sets: the suite,
provenance, figures, the best model per length, results, failures and the runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from seqbench.plots.generalisation import EVAL_LENGTH, TRAIN_LENGTH, length_points
from seqbench.report.compare import (configuration_display, configuration_table, verdict_display, verdict_note,
                                     verdicts)
from seqbench.report.naming import axis_name
from seqbench.report.page import Block, Bullets, Heading, Image, Table, Text
from seqbench.report.runs import table_columns
from seqbench.report.sets import smoke_flags, summarise, tidy
from seqbench.stats import Interval

if TYPE_CHECKING:
    import pandas as pd

    from seqbench.plots import Figures

__all__ = ["blocks", "results_table", "results_display", "verdict_table", "best_per_length", "MAX_ROWS"]

MAX_ROWS = 200  # longer tables are in the CSV files beside the page
PROVENANCE_KEYS = ("seqbench", "plugins", "frameworks", "python", "platform", "cpu", "cpu_count",
                   "host", "gpus", "gpu_driver", "cuda_driver", "gpu_unavailable", "suite_file",
                   "suite_hash", "git_commit")
ERROR_CHARACTERS = 300


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" if not str(v).startswith(str(k)) else str(v) for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _first_line(error: Any) -> str:
    text = str(error or "").strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= ERROR_CHARACTERS else line[:ERROR_CHARACTERS] + "…"


def _configuration(frame: "pd.DataFrame", axes: list[str]) -> "pd.Series":
    label = frame["series"].astype(str)
    for axis in axes:
        label = label + " " + axis_name(axis) + "=" + frame[axis].map(_text)
    return label


def results_table(figures: "Figures") -> "pd.DataFrame":
    """Means over seeds per configuration, each with its 95% interval (low, high; empty
    with one seed): the primary metric (with its min and max), time and energy."""
    return configuration_table(figures.sets, figures.sweep, figures.runs)


results_display = configuration_display  # the page's name for it


def best_per_length(figures: "Figures") -> "pd.DataFrame":
    """Per sequence length (or overall), the configuration with the best mean primary
    metric, the runner-up, and the oracle's mean."""
    import pandas as pd

    runs, sweep = figures.runs, figures.sweep
    metric = figures.sets[0].primary_metric
    if metric is None or runs.empty:
        return pd.DataFrame()
    lowest = figures.sets[0].direction == "min"
    others = [a for a in sweep.axes if a != sweep.length]
    runs = runs.assign(configuration=_configuration(runs, others))
    key = ["source"] + ([sweep.length] if sweep.length else [])
    rows = []
    for values, group in runs.groupby(key, observed=True, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        means = group[~group["oracle"]].groupby("configuration")["metric"].mean().sort_values(ascending=lowest)
        oracle = group.loc[group["oracle"], "metric"]
        row = dict(zip(key, values))
        if sweep.length:
            row[axis_name(sweep.length)] = row.pop(sweep.length)
        row["best"] = means.index[0] if len(means) else ""
        row[metric] = means.iloc[0] if len(means) else None
        row["runner-up"] = means.index[1] if len(means) > 1 else ""
        row[f"runner-up {metric}"] = means.iloc[1] if len(means) > 1 else None
        row[f"oracle {metric}"] = oracle.mean() if len(oracle) else None
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(figures.sets) == 1:
        table = table.drop(columns=["source"])
    return table


def _comparison(figures: "Figures") -> "pd.DataFrame":
    """The two sets side by side per configuration, with the ratio second / first."""
    first, second = (s.label for s in figures.sets)
    table = results_table(figures)
    if table.empty:
        return table
    keys = [c for c in table.columns if c in ["series"] + [axis_name(a) for a in figures.sweep.axes]]
    metric = figures.sets[0].primary_metric
    titles = {f"{metric} mean": f"{metric} mean", "train s mean": "train s", "train J mean": "train J"}
    values = [c for c in titles if c in table.columns]
    wide = table.pivot_table(index=keys, columns="source", values=values, observed=False, dropna=False)
    out = {key: wide.index.get_level_values(key) for key in keys}
    for value in values:
        a = wide[(value, first)].to_numpy(dtype=float)
        b = wide[(value, second)].to_numpy(dtype=float)
        title = titles[value]
        out[f"{title} {first}"], out[f"{title} {second}"] = a, b
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{title} ratio"] = np.where((a != 0) & np.isfinite(a) & np.isfinite(b), b / a, np.nan)
    import pandas as pd

    return pd.DataFrame(out)


def _suite_blocks(figures: "Figures") -> list[Block]:
    found: list[Block] = []
    sweep = figures.sweep
    for result_set in figures.sets:
        runs = result_set.runs
        ok = int((runs["status"] == "ok").sum())
        seeds = sorted(runs["seed"].unique().tolist())
        models = sorted(runs["model"].unique().tolist())
        title = f"{result_set.label}: " if len(figures.sets) > 1 else ""
        found.append(Text(
            f"{title}suite {result_set.suite} from {result_set.store}: task {result_set.task}, "
            f"{len(models)} model(s) ({', '.join(models)}), seeds {', '.join(map(str, seeds))}; "
            f"{len(runs)} runs, {ok} succeeded, {len(runs) - ok} failed."))
        swept = [sweep.length, sweep.batch, *sweep.other]
        items = [f"swept {axis_name(c)}: {', '.join(_text(v) for v in _values(runs, c))}"
                 for c in swept if c and c in runs.columns]
        fixed = [f"{c} = {_text(runs[c].iloc[0])}" for c in runs.columns
                 if c.split(".")[0] in ("task", "run") and "." in c and c not in swept
                 and runs[c].map(repr).nunique() == 1]
        if fixed:
            items.append("fixed: " + "; ".join(fixed))
        if smoke_flags(runs).any():
            items.append("smoke runs (seqbench run --smoke): sizes and epochs shrunk; not full-size results")
        if runs["meter.nvml.train.energy_j"].isna().all():
            reasons = sorted(runs["meter.nvml.unavailable"].dropna().unique().tolist())
            why = f": {'; '.join(reasons)}" if reasons else ""
            items.append(f"no GPU energy was measured{why}; energy figures are left out")
        else:
            methods = sorted(runs["meter.nvml.train.energy_method"].dropna().unique().tolist())
            items.append(f"GPU energy method: {', '.join(methods)} (see docs/measurement.md)")
        found.append(Bullets(items))
    return found


def _values(runs: "pd.DataFrame", column: str) -> list:
    values = runs[column].dropna().tolist()
    unique = {repr(v): v for v in values}
    return sorted(unique.values(), key=lambda v: (not isinstance(v, (int, float)), v if isinstance(v, (int, float)) else str(v)))


def _provenance_text(key: str, value: Any) -> str:
    if key == "plugins" and isinstance(value, dict):
        # Values are "distribution version"; several plugins share a distribution.
        return ", ".join(dict.fromkeys(map(str, value.values())))
    return _text(value)


def _provenance(figures: "Figures") -> "pd.DataFrame":
    import pandas as pd

    columns: dict[str, list[str]] = {}
    for result_set in figures.sets:
        many = len(result_set.provenance) > 1
        for number, (provenance, count) in enumerate(result_set.provenance, start=1):
            name = result_set.label if not many else f"{result_set.label} #{number}"
            values = [_provenance_text(k, provenance.get(k)) for k in PROVENANCE_KEYS]
            columns[name] = [str(count)] + values
    return pd.DataFrame({"": ["runs", *PROVENANCE_KEYS], **columns})


def _failures(figures: "Figures") -> "pd.DataFrame":
    import pandas as pd

    failed = tidy(figures.sets, figures.sweep, status="failed")
    if failed.empty:
        return pd.DataFrame()
    columns = (["source"] if len(figures.sets) > 1 else []) + ["series"] + figures.sweep.axes + ["seed", "error"]
    table = failed[columns].copy()
    table["error"] = table["error"].map(_first_line)
    return table.rename(columns={a: axis_name(a) for a in figures.sweep.axes})


def _length_failures(figures: "Figures") -> "pd.DataFrame":
    import pandas as pd

    points = length_points(figures.sets, figures.sweep, figures.runs)
    if points.empty:
        return pd.DataFrame()
    errors = points[points["name"] == "error"].copy()
    if errors.empty:
        return pd.DataFrame()
    keys = (["source"] if len(figures.sets) > 1 else []) + ["series", TRAIN_LENGTH]
    grouped = errors.groupby(keys, observed=True, dropna=False)
    table = grouped[EVAL_LENGTH].agg(lambda v: ", ".join(map(str, sorted(set(v))))).reset_index()
    table["runs"] = grouped["id"].nunique().to_numpy()
    table["first error"] = grouped["error"].first().map(_first_line).to_numpy()
    name = axis_name(figures.sweep.length_param) if figures.sweep.length_param else "length"
    return table.rename(columns={EVAL_LENGTH: "evaluation lengths", TRAIN_LENGTH: f"trained at {name}"})


def _capped(frame: "pd.DataFrame", csv_name: str) -> Table:
    if len(frame) <= MAX_ROWS:
        return Table(frame)
    return Table(frame.head(MAX_ROWS), note=f"The first {MAX_ROWS} of {len(frame):,} rows; all are in {csv_name}.")


def blocks(figures: "Figures", images: list[Image], csv_names: dict[str, str], level: int = 2) -> list[Block]:
    """The page's blocks; ``csv_names`` says where the full tables were written."""
    found: list[Block] = [Heading("Suite" if len(figures.sets) == 1 else "Result sets", level)]
    found += _suite_blocks(figures)
    found += [Heading("Provenance", level), Table(_provenance(figures))]
    found.append(Heading("Figures", level))
    found += images or [Text("No figures: no run succeeded.")]
    best = best_per_length(figures)
    if not best.empty:
        length = figures.sweep.length
        found += [Heading(f"Best model per {axis_name(length)}" if length else "Best model", level),
                  Text("Means over seeds; the oracle is the floor, not a contender."), Table(best)]
    if len(figures.sets) == 2:
        comparison = _comparison(figures)
        if not comparison.empty:
            first, second = (s.label for s in figures.sets)
            found += [Heading(f"{first} and {second} side by side", level),
                      Text(f"Means over seeds; ratio = {second} / {first}."), _capped(comparison, csv_names["summary"])]
    table = results_table(figures)
    if not table.empty:
        found += [Heading("Results", level),
                  Text("Means over seeds, per configuration, ± the 95% interval of the mean (the "
                       "bootstrap with 10 to 99 seeds, Student's t otherwise, none with one seed; see docs/suites.md, "
                       "\"Reading the intervals\")."),
                  _capped(results_display(table), csv_names["summary"])]
    compared = verdict_table(figures)
    if not compared.empty:
        found += [Heading("Verdicts", level), Text(verdict_note(len(figures.sets) == 2)),
                  _capped(verdict_display(compared), csv_names.get("verdicts", csv_names["summary"]))]
    failures = _failures(figures)
    found.append(Heading("Failed points", level))
    found += [_capped(failures, csv_names["runs"])] if not failures.empty else [Text("None: every point succeeded.")]
    length_failures = _length_failures(figures)
    if not length_failures.empty:
        found += [Heading("Evaluation lengths a model could not handle", level), Table(length_failures)]
    found += [Heading("Runs", level), _capped(runs_frame(figures), csv_names["runs"])]
    return found


def verdict_table(figures: "Figures") -> "pd.DataFrame":
    """The comparisons of ``seqbench.report.compare.verdicts`` for this group."""
    return verdicts(figures.sets, figures.sweep, figures.runs)


def runs_frame(figures: "Figures") -> "pd.DataFrame":
    """Every run of the group: identity, varied parameters, headline results."""
    import pandas as pd

    frames = []
    for result_set in figures.sets:
        frame = table_columns(result_set.runs)
        if len(figures.sets) > 1:
            frame.insert(0, "source", result_set.label)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)

