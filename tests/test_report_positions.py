"""``seqbench report --plot`` for a task with per-position test metrics (gp-pairs): a
figure per metric, the metric against target position, a row of panels per swept
setting, the oracle as the floor; and no such figure for a store without them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.plots import figures
from seqbench.report.sets import load_set

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
POSITION_FIGURES = {"nll-vs-target-position", "mse-vs-target-position"}
LENGTHS, CONTEXT = (8, 12), 4

# A cheap learner for gaussian targets, so the figures have a line beside the oracle:
# B is A moved by the mean of the context's B - A, with one variance learnt in training.
SHIFTED_A = """
from dataclasses import dataclass
import numpy as np
from seqbench import Model, hookimpl

@dataclass
class ShiftedA(Model):
    name = "numpy:shifted-a"
    serves = frozenset({("continuous", "gaussian")})

    def build(self, task, settings):
        self._context = task.context
        self._variance = 1.0

    def _means(self, inputs):
        inputs = np.asarray(inputs, dtype=np.float64)
        a, b = inputs[..., 1], inputs[..., 2]
        shift = (b[:, : self._context] - a[:, : self._context]).mean(axis=1, keepdims=True)
        return a[:, self._context :] + shift

    def fit(self, train, settings, on_epoch):
        batch = train.materialize()
        self._variance = float(np.mean((batch.targets - self._means(batch.inputs)) ** 2))
        on_epoch(1, self._variance, len(batch))

    def predict(self, inputs):
        means = self._means(inputs)
        return np.stack([means, np.full_like(means, self._variance)], axis=-1)

@hookimpl
def register_models(register):
    register(ShiftedA)
"""

SUITE = """
[suite]
name = "{name}"
seeds = {seeds}
[run]
epochs = 1
train_size = 64
eval_size = 64
batch_size = 16
[task]
name = "gp-pairs"
context = {context}
[sweep]
task.length = {lengths}
{sweep}
{models}
"""
BOTH_MODELS = '[[model]]\nname = "numpy:shifted-a"\n[[model]]\nname = "oracle"\n'


def run_suite(directory: Path, text: str) -> Path:
    suite = directory / "suite.toml"
    suite.write_text(text)
    store = directory / "store.sqlite"
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store)])
    assert result.exit_code == 0, result.output
    return store


def report(store: Path, out: Path):
    result = CliRunner().invoke(main, ["report", "--store", str(store), "--plot", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result


def assert_valid_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    assert matplotlib.image.imread(path).shape[0] > 100


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    import importlib
    import os
    import sys

    from seqbench import plugins

    site = tmp_path_factory.mktemp("site")
    (site / "seqbench_shifted.py").write_text(SHIFTED_A)
    info = site / "seqbench_shifted-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seqbench-shifted\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[seqbench]\nseqbench-shifted = seqbench_shifted\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(site))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
        importlib.invalidate_caches()
        plugins.reset()
        yield
        sys.modules.pop("seqbench_shifted", None)
        plugins.reset()


@pytest.fixture(scope="module")
def gp_store(learner, tmp_path_factory) -> Path:
    text = SUITE.format(name="gp", seeds="[0, 1]", context=CONTEXT, lengths=list(LENGTHS), sweep="",
                        models=BOTH_MODELS)
    return run_suite(tmp_path_factory.mktemp("gp"), text)


@pytest.fixture(scope="module")
def gp_report(gp_store):
    out = gp_store.parent / "report"
    return report(gp_store, out), out


def by_name(store: Path, suite: str) -> dict:
    return {plot.name: plot for plot in figures([load_set(store, suite, suite)]).plots}


def test_a_store_with_position_metrics_gets_a_figure_per_metric_on_its_page(gp_report):
    result, out = gp_report
    stems = {path.stem for path in out.glob("*.png")}
    assert POSITION_FIGURES <= stems
    page = (out / "report.md").read_text()
    for stem in POSITION_FIGURES:
        assert_valid_png(out / f"{stem}.png")
        assert str(out / f"{stem}.png") in result.output
        assert f"]({stem}.png)" in page
    assert "Position 0 is the first target position." in page
    assert page.index("nll-vs-target-position") < page.index("mse-vs-target-position")  # primary first


def test_a_store_without_position_metrics_gets_no_position_figure(tmp_path):
    text = ("[suite]\nname = 'adding'\n[run]\nepochs = 1\ntrain_size = 32\neval_size = 32\n"
            "[task]\nname = 'adding'\n[sweep]\ntask.seq_len = [5, 10]\n[[model]]\nname = 'oracle'\n")
    store = run_suite(tmp_path, text)
    assert results.load_position_metrics(store).empty
    report(store, tmp_path / "report")
    stems = {path.stem for path in (tmp_path / "report").glob("*.png")}
    assert "mse-vs-seq_len" in stems  # the report itself was drawn
    assert not [stem for stem in stems if "position" in stem]


def test_a_store_made_before_position_metrics_existed_still_reports(gp_store, tmp_path):
    older = tmp_path / "older.sqlite"
    source, target = sqlite3.connect(gp_store), sqlite3.connect(older)
    source.backup(target)
    source.close()
    target.execute("DROP TABLE position_metrics")
    target.commit()
    target.close()
    report(older, tmp_path / "report")
    stems = {path.stem for path in (tmp_path / "report").glob("*.png")}
    assert "nll-vs-length" in stems and not stems & POSITION_FIGURES


def test_the_figure_shows_the_stores_mean_min_and_max_over_seeds_per_length(gp_store):
    plot = by_name(gp_store, "gp")["nll-vs-target-position"]
    by_position = results.load_position_metrics(gp_store, names=["nll"])
    lengths = results.load(gp_store).set_index("id")["task.length"]
    by_position["length"] = by_position["id"].map(lengths)
    expected = by_position.groupby(["model", "length", "position"])["value"].agg(["mean", "min", "max"])
    shown = plot.data.set_index(["series", "task.length", "position"])[["mean", "min", "max"]]
    shown.index.names = expected.index.names
    pd.testing.assert_frame_equal(shown.sort_index(), expected.sort_index(), check_dtype=False)
    assert (plot.data["n"] == 2).all()  # both seeds in every mean
    for length in LENGTHS:
        positions = plot.data.loc[plot.data["task.length"] == length, "position"]
        assert sorted(set(positions)) == list(range(length - CONTEXT))


def test_the_figure_has_a_row_per_length_and_the_oracle_as_the_floor(gp_store):
    plot = by_name(gp_store, "gp")["nll-vs-target-position"]
    figure = plot.draw()
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [f"length = {n}" for n in LENGTHS]
    for ax, length in zip(panels, LENGTHS):
        lines = {line.get_label(): line for line in ax.get_lines()}
        learner = lines["numpy:shifted-a"]
        assert list(learner.get_xdata()) == list(range(length - CONTEXT))
        assert learner.get_marker() in ("None", None, "")  # a line, not hundreds of dots
        floor = lines["oracle (floor)"]
        assert floor.get_linestyle() == "--" and floor.get_color() == "black"
        oracle = plot.data[(plot.data["series"] == "oracle") & (plot.data["task.length"] == length)]
        np.testing.assert_allclose(floor.get_ydata(), oracle.sort_values("position")["mean"])
        assert (learner.get_ydata() > floor.get_ydata()).mean() > 0.5  # the floor is below


def test_length_and_batch_size_swept_together_give_a_row_per_pair_in_order(learner, tmp_path):
    text = SUITE.format(name="both", seeds="[0]", context=CONTEXT, lengths="[12, 8]",
                        sweep="run.batch_size = [32, 16]", models='[[model]]\nname = "oracle"\n')
    store = run_suite(tmp_path, text)
    figure = by_name(store, "both")["mse-vs-target-position"].draw()
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["length = 8   batch_size = 16", "length = 8   batch_size = 32",
                      "length = 12   batch_size = 16", "length = 12   batch_size = 32"]
