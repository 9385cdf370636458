"""Length generalisation: the primary metric at each evaluation length of
``run.eval_lengths``, a row of panels per training length, the training length marked."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from seqbench.plots.canvas import Palette, Plot
from seqbench.plots.charts import line_grid
from seqbench.report.naming import axis_name, floor_label
from seqbench.report.sets import ResultSet, Sweep, summarise

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plots", "length_points", "TRAIN_LENGTH", "EVAL_LENGTH"]

TRAIN_LENGTH = "train_length"
EVAL_LENGTH = "eval_length"


def length_points(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame") -> "pd.DataFrame":
    """One row per (successful run, evaluation length, metric), with the run's source,
    series and training length; failed lengths keep their ``error``."""
    import pandas as pd

    parts = []
    for result_set in sets:
        metrics = result_set.length_metrics
        if metrics.empty:
            continue
        own = runs.loc[runs["source"] == result_set.label, ["id", "source", "series", "oracle"]]
        if sweep.length_param and sweep.length_param in result_set.runs.columns:
            lengths = result_set.runs.set_index("id")[sweep.length_param]
            own = own.assign(**{TRAIN_LENGTH: own["id"].map(lengths)})
        else:
            own = own.assign(**{TRAIN_LENGTH: None})
        points = metrics[["id", "length", "name", "value", "error"]].merge(own, on="id", how="inner")
        parts.append(points.rename(columns={"length": EVAL_LENGTH}))
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


def plots(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame", palette: Palette) -> list[Plot]:
    metric = sets[0].primary_metric
    if metric is None or runs.empty:
        return []
    points = length_points(sets, sweep, runs)
    if points.empty:
        return []
    scored = points[points["name"] == metric]
    if scored.empty:
        return []
    row = TRAIN_LENGTH if sweep.length else None
    by = ["source", "series", "oracle", EVAL_LENGTH] + ([row] if row else [])
    data = summarise(scored, by, "value")
    # Runs that have no finite value at a length (an error there, or a metric that was
    # not finite) are not in that length's mean: say how many, so a mean over the seeds
    # that survived is not read as the model's.
    answered = set(zip(scored["id"], scored[EVAL_LENGTH]))
    failed = points[points["name"] == "error"]
    missing = sum((run, length) not in answered for run, length in zip(failed["id"], failed[EVAL_LENGTH]))
    trained = scored[TRAIN_LENGTH].dropna().unique().tolist()
    marks = {value: value for value in trained} if row else ({None: trained[0]} if len(trained) == 1 else {})
    name = axis_name(sweep.length_param) if sweep.length_param else "length"
    title = f"Length generalisation: test {metric} against evaluation {name}"
    return [Plot(
        name=f"{metric}-vs-eval-{name}", title=title,
        data=data,
        caption="The dotted line marks the length each model was trained at."
        + (f" {missing} run{'s' if missing != 1 else ''} at some evaluation length had no finite test {metric} "
           "(an error, or a value that was not finite) and are left out of that length's mean."
           if missing else ""),
        draw=partial(line_grid, data, x=EVAL_LENGTH, title=title, xlabel=f"evaluation {name}",
                     ylabel=f"test {metric}", palette=palette, row=row,
                     col="source" if len(sets) > 1 else None, row_label=f"trained at {name}",
                     floor=floor_label(sets[0].direction), marks=marks),
    )]
