"""Statistics in the report: each configuration's mean with its 95% interval over seeds,
and the verdict table, where configurations at the same setting are compared paired by
seed (within one result set: model against model; with ``--compare``: the first set
against the second, configuration by configuration). The statistics are
``seqbench.stats``; this module picks what is compared with what."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Iterator

from seqbench import stats
from seqbench.report.naming import axis_name
from seqbench.report.sets import summarise
from seqbench.stats import Interval

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from seqbench.report.sets import ResultSet, Sweep

__all__ = ["QUANTITIES", "quantities", "with_intervals", "verdicts", "verdict_display", "verdict_note",
           "interval_columns", "printed_verdicts", "configuration_table", "configuration_display"]

# The tidy runs' columns a verdict compares besides the primary metric, and which way
# is better: lower, for time and energy alike. The primary metric's direction is the
# task's own (Task.direction); a task declares no direction for its other metrics, so
# they are not judged here.
QUANTITIES = {"train_s": ("train s", "min"), "eval_s": ("eval s", "min"),
              "train_energy_j": ("train J", "min"), "eval_energy_j": ("eval J", "min")}


def quantities(sets: "list[ResultSet]", runs: "pd.DataFrame") -> list[tuple[str, str, str]]:
    """(tidy column, title, direction) of every quantity measured in ``runs``: the primary
    metric first."""
    found = [("metric", sets[0].primary_metric or "metric", sets[0].direction)]
    found += [(column, title, direction) for column, (title, direction) in QUANTITIES.items()
              if column in runs.columns and runs[column].notna().any()]
    return found


def interval_columns(title: str) -> tuple[str, str, str]:
    return f"{title} mean", f"{title} low", f"{title} high"


def with_intervals(frame: "pd.DataFrame", by: list[str], value: str, title: str) -> "pd.DataFrame":
    """Per group of ``by``: the mean of ``value`` over seeds and its 95% interval (NaN
    with one seed), as ``<title> mean``, ``<title> low``, ``<title> high``."""
    import pandas as pd

    kept = frame.dropna(subset=[value])
    rows = []
    for key, group in kept.groupby(by, sort=True, dropna=False, observed=True):
        found = stats.interval(group[value].to_numpy(dtype=float))
        rows.append((*(key if isinstance(key, tuple) else (key,)), found.mean, found.low, found.high))
    return pd.DataFrame(rows, columns=[*by, *interval_columns(title)])


def configuration_table(sets: "list[ResultSet]", sweep: "Sweep", runs: "pd.DataFrame") -> "pd.DataFrame":
    """Means over seeds per configuration, each with its 95% interval (low, high; empty
    with one seed): the primary metric (with its min and max), time and energy — the
    summary page's results table, and ``seqbench report --per config``."""
    import pandas as pd

    axes = sweep.axes
    by = ["source", "series"] + axes
    metric = sets[0].primary_metric or "metric"
    table = summarise(runs, by, "metric").rename(columns={
        "n": "seeds", "mean": f"{metric} mean", "min": f"{metric} min", "max": f"{metric} max",
        "low": f"{metric} low", "high": f"{metric} high"})
    for column, title in (("train_s", "train s"), ("eval_s", "eval s"),
                          ("train_energy_j", "train J"), ("eval_energy_j", "eval J")):
        if runs[column].notna().any():
            table = table.merge(with_intervals(runs, by, column, title), on=by, how="left")
    if len(sets) == 1:
        table = table.drop(columns=["source"])
    return table.rename(columns={a: axis_name(a) for a in axes}).reset_index(drop=True) \
        if not table.empty else pd.DataFrame()


def configuration_display(table: "pd.DataFrame") -> "pd.DataFrame":
    """``configuration_table`` as the page and the terminal show it: each quantity's mean ± its interval in
    one column (the mean alone with one seed); min, max and bounds stay in the CSV."""
    shown = table.copy()
    for mean_column in [c for c in table.columns if c.endswith(" mean")]:
        title = mean_column[: -len(" mean")]
        _, low, high = interval_columns(title)
        if low not in table.columns:
            continue
        texts = [Interval(m, lo, hi, 2, "t" if lo == lo else "none").text() if m == m else ""
                 for m, lo, hi in zip(table[mean_column], table[low], table[high])]
        shown.insert(shown.columns.get_loc(mean_column), title, texts)
        shown = shown.drop(columns=[mean_column, low, high, f"{title} min", f"{title} max"], errors="ignore")
    return shown


def _settings(sets: "list[ResultSet]", sweep: "Sweep", runs: "pd.DataFrame") -> tuple["pd.DataFrame", list[str]]:
    """``runs`` with every swept setting that is not a model's own parameter (the axes,
    and task or run settings named in the series), and those columns: runs compared
    with each other must agree on all of them."""
    import pandas as pd

    others = [c for c in sweep.other if not c.startswith("model.")]
    if others:
        values = pd.concat([s.runs[["id", *[c for c in others if c in s.runs.columns]]] for s in sets],
                           ignore_index=True)
        runs = runs.merge(values.drop_duplicates("id"), on="id", how="left")
    columns = [*sweep.axes, *others]
    for column in columns:
        # Pairs are matched on the value's text, so a missing value matches a missing one.
        runs[column] = runs[column].map(lambda v: "" if v is None or v != v else v)
    return runs, columns


def _by_seed(group: "pd.DataFrame", key: str, columns: list[str]) -> dict[Any, "pd.DataFrame"]:
    """Per value of ``key`` (a series or a result set): each quantity's mean per seed,
    indexed by seed. One grouping per setting, however many pairs it holds."""
    means = group.groupby([key, "seed"], observed=True, sort=False)[columns].mean()
    return {name: frame.droplevel(0) for name, frame in means.groupby(level=0, sort=False, observed=True)}


def _pairs(runs: "pd.DataFrame", settings: list[str], columns: list[str], across_sets: bool
           ) -> Iterator[tuple[dict[str, Any], str, "pd.DataFrame", str, "pd.DataFrame"]]:
    """(setting, label of A, A's means per seed, label of B, B's) for every comparison."""
    if across_sets:
        first, second = list(runs["source"].cat.categories)[:2]
        for key, group in runs.groupby(["series", *settings], sort=False, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            sides = _by_seed(group, "source", columns)
            if first in sides and second in sides:
                yield (dict(zip(settings, key[1:])), f"{key[0]} ({first})", sides[first],
                       f"{key[0]} ({second})", sides[second])
        return
    oracle = dict(zip(runs["series"], runs["oracle"].astype(bool)))
    for key, group in (runs.groupby(settings, sort=True, observed=True) if settings else [((), runs)]):
        key = key if isinstance(key, tuple) else (key,)
        series = _by_seed(group, "series", columns)  # in the suite's order
        for name_a, name_b in itertools.combinations(series, 2):
            # The oracle is the floor, not a contender: oracles are compared only with oracles.
            if oracle[name_a] == oracle[name_b]:
                yield dict(zip(settings, key)), name_a, series[name_a], name_b, series[name_b]


def _compare(a: "pd.Series", b: "pd.Series", direction: str) -> tuple[stats.Comparison, str, float, float]:
    """Paired by seed where the seeds match, else unpaired; with the seeds column's text
    and A's and B's means over the values compared (so that A mean - B mean is A - B:
    seeds only one side has are left out of a paired comparison, and named)."""
    a_values, b_values = a.dropna(), b.dropna()
    shared = a_values.index.intersection(b_values.index)
    chosen: stats.Direction = "min" if direction == "min" else "max"
    if len(shared) >= 2 or (len(shared) == len(a_values) == len(b_values)):
        a_used, b_used = a_values[shared].to_numpy(), b_values[shared].to_numpy()
        found = stats.paired(a_used, b_used, chosen)
        unmatched = [f"{side}'s seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)}"
                     for side, values in (("A", a_values), ("B", b_values))
                     if len(seeds := sorted(values.index.difference(shared).tolist()))]
        text = f"{len(shared)} paired" + (f" (left out: {'; '.join(unmatched)})" if unmatched else "")
    else:
        a_used, b_used = a_values.to_numpy(), b_values.to_numpy()
        found = stats.unpaired(a_used, b_used, chosen)
        text = f"{len(a_values)}+{len(b_values)} unpaired"
    return found, text, stats.interval(a_used).mean, stats.interval(b_used).mean


def verdicts(sets: "list[ResultSet]", sweep: "Sweep", runs: "pd.DataFrame") -> "pd.DataFrame":
    """One row per comparison and quantity: the setting, A and B, the seeds used, both
    means over seeds, the difference A - B with its 95% interval, the probability that
    A is better, the effect size (d_av), the ratio of the means, and the verdict for A."""
    import pandas as pd

    if runs.empty:
        return pd.DataFrame()
    across_sets = len(sets) == 2
    runs, settings = _settings(sets, sweep, runs.copy())
    measured = quantities(sets, runs)
    columns = [column for column, _, _ in measured]
    rows = []
    for setting, name_a, a, name_b, b in _pairs(runs, settings, columns, across_sets):
        for column, title, direction in measured:
            if a[column].isna().all() or b[column].isna().all():
                continue
            found, seeds, a_mean, b_mean = _compare(a[column], b[column], direction)
            rows.append({
                **{axis_name(c): v for c, v in setting.items()},
                "A": name_a, "B": name_b, "quantity": title, "better": "lower" if direction == "min" else "higher",
                "seeds": seeds, "A mean": a_mean, "B mean": b_mean,
                "A - B": found.difference.mean, "A - B low": found.difference.low,
                "A - B high": found.difference.high, "P(A better)": found.p_better,
                "effect (d)": found.effect, "A / B": _ratio(a_mean, b_mean),
                "verdict": found.verdict,
            })
    return pd.DataFrame(rows)


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b and b == b else float("nan")


def _percent(p: float) -> str:
    """A probability as a whole percentage that never rounds to a certainty it is not:
    0.996 is ">99%", not "100%" (only a difference without any spread gives 100%)."""
    if p != p:
        return ""
    if 0.0 < p < 0.01 or 0.99 < p < 1.0:
        return "<1%" if p < 0.5 else ">99%"
    return f"{100 * p:.0f}%"


def _signed(value: float) -> str:
    return "" if value != value else f"{value:+.3g}"


def verdict_display(table: "pd.DataFrame") -> "pd.DataFrame":
    """The verdict table as it reads on a page: the interval in one column, shares as
    percentages."""
    if table.empty:
        return table
    shown = table.copy()
    difference = [stats.Interval(m, lo, hi, 2, "t").text(3) if lo == lo else ("" if m != m else f"{m:.3g}")
                  for m, lo, hi in zip(table["A - B"], table["A - B low"], table["A - B high"])]
    shown.insert(shown.columns.get_loc("A - B"), "A - B (95% interval)", difference)
    shown["P(A better)"] = [_percent(p) for p in table["P(A better)"]]
    shown["effect (d)"] = table["effect (d)"].map(_signed)
    shown["A / B"] = [("" if r != r else f"{r:.3g}") for r in table["A / B"]]
    return shown.drop(columns=["A - B", "A - B low", "A - B high", "better"])


def verdict_note(across_sets: bool) -> str:
    pairs = ("each configuration of the first set against the same configuration of the second"
             if across_sets else "configurations at the same setting, model against model (oracles only with oracles)")
    return (f"Compared: {pairs}, paired by seed (the same seed gives the same data), or unpaired "
            "where the seeds differ. A - B is the mean per-seed difference with its 95% interval "
            "(the bootstrap with 10 to 99 seeds, Student's t otherwise); the verdict is for A: better or worse "
            "where the interval excludes zero, indistinguishable where it covers it, too few seeds "
            "with one. P(A better): the probability that A's true mean is the better one. "
            "Effect (d): the difference in average seed standard deviations; A / B: the ratio of the "
            "means. Lower is better for time and energy; the task's direction decides for its metric. "
            "See docs/suites.md, \"Reading the intervals\".")


def printed_verdicts(store: "Path", suite: str | None, compare: str, fmt: str, smoke: bool = False,
                     include_stale: bool = False) -> str:
    """What ``seqbench report --compare`` prints after the runs (``--format`` table or
    markdown): a heading, the verdict table and how to read it."""
    from seqbench.report.selection import load_shown, select
    from seqbench.report.sets import sweep_of, tidy
    from seqbench.report.text import fixed_width_table, markdown_table

    lines = []
    for group in select(store, suite, compare, smoke, include_stale):
        sets = [load_shown(ref, smoke) for ref in group]
        sweep = sweep_of(sets)
        table = verdicts(sets, sweep, tidy(sets, sweep))
        title = " vs ".join(s.label for s in sets)
        if table.empty:
            lines.append(f"\nVerdicts, {title}: nothing to compare (no configuration succeeded in both)")
            continue
        shown = verdict_display(table)
        body = "\n".join(markdown_table(shown)) if fmt == "markdown" else fixed_width_table(shown)
        lines += [f"\nVerdicts, {title} (A: {sets[0].label}, B: {sets[1].label})", body,
                  verdict_note(across_sets=True)]
    return "\n".join(lines)
