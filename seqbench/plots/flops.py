"""Achieved model FLOP/s per phase (train, eval), and model FLOPs utilisation where the
GPU's peak is known, against sequence length and batch size; one mean per model when
the suite swept neither. Only where the models counted their FLOPs (seqbench.flops).
Each caption says what the figure rests on: the peak divided by (GPU, precision,
figure, source) and the models whose counts are lower bounds."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from seqbench.plots.canvas import Palette, Plot
from seqbench.plots.charts import line_grid, point_grid
from seqbench.report.naming import axis_name
from seqbench.report.sets import FLOPS_COLUMNS, ResultSet, Sweep, summarise_by_phase

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plots", "COLUMNS", "caption", "peaks_named", "lower_bound_models"]

# name in file names: the record's column per phase, axis label, heading
COLUMNS = {
    "flops": (FLOPS_COLUMNS["flop_per_s"], "achieved FLOP/s", "Achieved model FLOP/s"),
    "mfu": (FLOPS_COLUMNS["utilisation"], "model FLOPs utilisation", "Model FLOPs utilisation"),
}


def _by_phase(sets: list[ResultSet], runs: "pd.DataFrame", columns: dict[str, str],
              by: list[str]) -> "pd.DataFrame":
    """The tidy runs joined to each set's figures for ``columns``, one row per run and
    phase, summarised over seeds."""
    import pandas as pd

    figures = []
    for result_set in sets:
        source = result_set.runs
        part = pd.DataFrame({"source": result_set.label, "id": source["id"]})
        for phase, column in columns.items():
            values = source[column] if column in source.columns else None
            part[phase] = pd.to_numeric(values, errors="coerce") if values is not None else float("nan")
        figures.append(part)
    joined = runs.assign(source_key=runs["source"].astype(str)).merge(
        pd.concat(figures, ignore_index=True).rename(columns={"source": "source_key"}),
        on=["source_key", "id"], how="left",
    )
    return summarise_by_phase(joined, {phase: phase for phase in columns}, by)


def _texts(sets: list[ResultSet], column: str) -> "pd.Series":
    import pandas as pd

    parts = [s.runs[column] for s in sets if column in s.runs.columns]
    return pd.concat(parts, ignore_index=True) if parts else pd.Series(dtype=object)


def peaks_named(sets: list[ResultSet]) -> list[str]:
    """Each distinct peak the runs' utilisation divides by: ``NVIDIA H100 80GB HBM3,
    bf16: 989 TFLOP/s dense (H100 SXM data sheet)``; fp32 says its math (IEEE: the
    CUDA-core figure, TF32 off)."""
    import pandas as pd

    frames = [s.runs for s in sets if "meter.flops.peak_flop_per_s" in s.runs.columns]
    if not frames:
        return []
    runs = pd.concat(frames, ignore_index=True)
    runs = runs[pd.to_numeric(runs["meter.flops.peak_flop_per_s"], errors="coerce") > 0]
    named = []
    for _, run in runs.iterrows():
        precision = str(run.get("meter.flops.precision"))
        math = run.get("meter.flops.fp32_math")
        mode = ""
        if precision == "fp32" and isinstance(math, str):
            mode = f" ({'IEEE, TF32 off' if math == 'ieee' else math})"
        peak = float(run["meter.flops.peak_flop_per_s"]) / 1e12
        named.append(f"{run.get('meter.flops.peak_gpu')}, {precision}{mode}: {peak:g} TFLOP/s dense "
                     f"({run.get('meter.flops.peak_source')})")
    return list(dict.fromkeys(named))


def lower_bound_models(sets: list[ResultSet]) -> list[str]:
    """The models whose counts leave out some of their products (``meter.flops.lower_bound``)."""
    models = [
        str(model)
        for s in sets if "meter.flops.lower_bound" in s.runs.columns
        for model, bound in zip(s.runs["model"], s.runs["meter.flops.lower_bound"]) if bound is True or bound == 1
    ]
    return sorted(set(models))


def caption(sets: list[ResultSet], quantity: str) -> str:
    """What a FLOP/s or utilisation figure rests on, in words under it."""
    words = ["Model FLOPs count matrix products only (no elementwise work, no recomputation); "
             "causal attention's T x T scores are counted whole."]
    bounded = lower_bound_models(sets)
    if bounded:
        words.append(f"Lower bounds for {', '.join(bounded)}: their counts leave out some of their "
                     "products (meter.flops.omitted says which).")
    if quantity == "mfu":
        words.insert(0, f"Utilisation divides by {'; '.join(peaks_named(sets)) or 'no known peak'}.")
    return " ".join(words)


def plots(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame", palette: Palette) -> list[Plot]:
    if runs.empty:
        return []
    col = "source" if len(sets) > 1 else None
    found = []
    for quantity, (columns, ylabel, heading) in COLUMNS.items():
        labels = {phase: f"{phase} {ylabel}" for phase in columns}
        groupings: list[tuple[str | None, list[str]]] = [
            (axis, ["source", "series", "oracle", axis]) for axis in sweep.axes
        ] or [(None, ["source", "series", "oracle"])]
        for axis, by in groupings:
            data = _by_phase(sets, runs, columns, by)
            if data.empty:
                break  # no run has the figure (no FLOP counts, or no known GPU peak)
            if axis is None:
                title = f"{heading} per model"
                draw = partial(point_grid, data, title=title, ylabel=labels, palette=palette,
                               row="phase", col=col, row_label="phase")
                found.append(Plot(name=f"{quantity}-by-model", title=title, data=data, draw=draw,
                                  caption=caption(sets, quantity)))
                continue
            name = axis_name(axis)
            title = f"{heading} against {name}"
            draw = partial(line_grid, data, x=axis, title=title, xlabel=name, ylabel=labels,
                           palette=palette, row="phase", col=col, row_label="phase", same_scale="row")
            found.append(Plot(name=f"{quantity}-vs-{name}", title=title, data=data, draw=draw,
                              caption=caption(sets, quantity)))
    return found
