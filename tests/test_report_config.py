"""`seqbench report --per config`: one row per configuration, the mean over seeds with
its 95% interval, read from the 3-seed worked example's store (docs/examples/)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from seqbench import stats
from seqbench.cli import main
from seqbench.results import load

STORE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "frameworks-3-seeds.sqlite"


def report(*args: str) -> str:
    result = CliRunner().invoke(main, ["report", "--store", str(STORE), "--per", "config", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_each_configuration_is_the_mean_of_its_seeds_with_the_stats_interval():
    rows = pd.read_csv(io.StringIO(report("--format", "csv")))
    runs = load(STORE)
    assert len(rows) == runs.groupby(["model", "task.seq_len"]).ngroups == 12
    for row in rows.itertuples(index=False):
        seeds = runs[(runs["model"] == row.model) & (runs["task.seq_len"] == row.seq_len)]
        values = seeds["metric.mse"].to_numpy(dtype=float)
        expected = stats.interval(values)
        assert row.seeds == len(values) == 3
        mean, low, high = rows.loc[(rows["model"] == row.model) & (rows["seq_len"] == row.seq_len),
                                   ["mse mean", "mse low", "mse high"]].iloc[0]
        assert math.isclose(mean, values.mean(), rel_tol=1e-12, abs_tol=1e-300)
        assert math.isclose(low, expected.low, rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(high, expected.high, rel_tol=1e-9, abs_tol=1e-15)


def test_the_terminal_table_shows_mean_plus_minus_the_interval():
    lines = report().splitlines()
    assert lines[0].split()[:4] == ["suite", "model", "seq_len", "mse"]
    (lstm,) = [line.split() for line in lines if " torch:lstm " in line and line.split()[2] == "25"]
    rows = pd.read_csv(io.StringIO(report("--format", "csv")))
    row = rows[(rows["model"] == "torch:lstm") & (rows["seq_len"] == 25)].iloc[0]
    # mean ± half-width, four significant digits then two
    assert lstm[3:6] == [f"{row['mse mean']:.4g}", "±", f"{(row['mse high'] - row['mse low']) / 2:.2g}"]
    assert lstm[6] == "3"


def test_compare_gives_each_set_its_rows(tmp_path):
    other = tmp_path / "copy.sqlite"
    other.write_bytes(STORE.read_bytes())
    rows = pd.read_csv(io.StringIO(report("--format", "csv", "--compare", str(other))))
    assert len(rows) == 24 and rows["source"].nunique() == 2
    first, second = (part.drop(columns="source").reset_index(drop=True) for _, part in rows.groupby("source"))
    pd.testing.assert_frame_equal(first, second)
