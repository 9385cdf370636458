"""Wall time and GPU energy per phase (train, eval) against sequence length and batch
size; one mean per model when the suite swept neither. Energy figures only where the
nvml meter measured some."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from seqbench.plots.canvas import Palette, Plot
from seqbench.plots.charts import line_grid, point_grid
from seqbench.report.naming import axis_name
from seqbench.report.sets import ResultSet, Sweep, summarise_by_phase

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plots", "QUANTITIES", "has_energy"]

# name in file names, the runs' columns per phase, axis label
QUANTITIES = {
    "time": ({"train": "train_s", "eval": "eval_s"}, "wall time (s)", "Wall time"),
    "energy": ({"train": "train_energy_j", "eval": "eval_energy_j"}, "GPU energy (J)", "GPU energy"),
}


def has_energy(runs: "pd.DataFrame") -> bool:
    return bool(runs[["train_energy_j", "eval_energy_j"]].notna().any().any())


def plots(sets: list[ResultSet], sweep: Sweep, runs: "pd.DataFrame", palette: Palette) -> list[Plot]:
    if runs.empty:
        return []
    col = "source" if len(sets) > 1 else None
    found = []
    for quantity, (columns, ylabel, heading) in QUANTITIES.items():
        if quantity == "energy" and not has_energy(runs):
            continue
        labels = {phase: f"{phase} {ylabel}" for phase in columns}
        for axis in sweep.axes:
            data = summarise_by_phase(runs, columns, ["source", "series", "oracle", axis])
            name = axis_name(axis)
            title = f"{heading} against {name}"
            found.append(Plot(
                name=f"{quantity}-vs-{name}", title=title, data=data,
                draw=partial(line_grid, data, x=axis, title=title, xlabel=name, ylabel=labels,
                             palette=palette, row="phase", col=col, row_label="phase", same_scale="row"),
            ))
        if not sweep.axes:
            data = summarise_by_phase(runs, columns, ["source", "series", "oracle"])
            title = f"{heading} per model"
            found.append(Plot(
                name=f"{quantity}-by-model", title=title, data=data,
                draw=partial(point_grid, data, title=title, ylabel=labels, palette=palette,
                             row="phase", col=col, row_label="phase"),
            ))
    return found
