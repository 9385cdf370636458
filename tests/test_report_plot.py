"""``seqbench report --plot``: one valid figure per thing the suite varied, each showing
exactly what the store holds; a summary page; stores with failures, with one point,
with GPU energy; and usage errors that write nothing."""

from __future__ import annotations

import base64
import io
import logging
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fake_nvml import use_fake_nvml
from report_stores import pooled_sgd_installed, run_suite, sweep_suite
from seqbench import results
from seqbench.cli import main
from seqbench.plots import figures
from seqbench.plots.canvas import set_scales
from seqbench.plots.pareto import pareto_front
from seqbench.report.sets import load_set

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SWEEP_FIGURES = {"mse-vs-seq_len", "time-vs-seq_len", "curves-by-seq_len", "mse-vs-train-time",
                 "mse-vs-eval-seq_len"}

ENERGY = """
[suite]
name = "energy"
[run]
epochs = 2
train_size = 64
eval_size = 32
batch_size = 16
device = "cuda"
[task]
name = "adding"
[sweep]
task.seq_len = [5, 10]
run.batch_size = [16, 32]
[[model]]
name = "numpy:pooled-sgd"
[[model]]
name = "oracle"
"""

ONE_POINT = """
[suite]
name = "one"
[run]
train_size = 64
eval_size = 32
[task]
name = "adding"
seq_len = 5
[[model]]
name = "oracle"
"""


def report(store: Path, *args: str):
    return CliRunner().invoke(main, ["report", "--store", str(store), *args])


def assert_valid_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


def section(page: str, heading: str) -> str:
    """The text of a Markdown page under ``## heading``, up to the next heading."""
    return page.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def by_name(group) -> dict:
    return {plot.name: plot for plot in group.plots}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with pooled_sgd_installed(tmp_path_factory.mktemp("site")):
        yield


@pytest.fixture(scope="module")
def sweep_store(site, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("sweep")
    return run_suite(directory, sweep_suite(), directory / "results" / "seqbench.sqlite")


@pytest.fixture(scope="module")
def sweep_report(sweep_store):
    result = report(sweep_store, "--plot", "--svg")
    assert result.exit_code == 0, result.output
    return result, sweep_store.parent / "report"


@pytest.fixture(scope="module")
def sweep_figures(sweep_store):
    return figures([load_set(sweep_store, "sweep", "sweep")])


@pytest.fixture(scope="module")
def failed_store(site, tmp_path_factory) -> Path:
    """The sweep suite again, with the pooled learner refusing sequences over 5 steps."""
    directory = tmp_path_factory.mktemp("failed")
    return run_suite(directory, sweep_suite(max_len=5), directory / "failed.sqlite", code=1)


@pytest.fixture(scope="module")
def energy_store(site, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("energy")
    with pytest.MonkeyPatch.context() as patch, use_fake_nvml(patch) as fake_gpu:
        fake_gpu({"name": "NVIDIA H100", "idle_w": 60.0, "amp_w": 40.0, "period_s": 0.7})
        return run_suite(directory, ENERGY, directory / "energy.sqlite")


def test_plot_writes_one_valid_png_per_figure_named_after_what_it_shows(sweep_report):
    result, out = sweep_report
    pngs = {path.stem for path in out.glob("*.png")}
    assert pngs == SWEEP_FIGURES
    for stem in pngs:
        assert_valid_png(out / f"{stem}.png")
        assert str(out / f"{stem}.png") in result.output
    assert not [p for p in out.iterdir() if "energy" in p.name]  # a CPU run measured none


def test_svg_option_writes_an_svg_beside_each_png(sweep_report):
    _, out = sweep_report
    for stem in SWEEP_FIGURES:
        root = ElementTree.parse(out / f"{stem}.svg").getroot()
        assert root.tag.endswith("svg")


def test_metric_figure_shows_the_stores_mean_min_and_max_over_seeds(sweep_store, sweep_figures):
    plot = by_name(sweep_figures)["mse-vs-seq_len"]
    runs = results.load(sweep_store)
    expected = runs.groupby(["model", "task.seq_len"])["primary_value"].agg(["mean", "min", "max"])
    shown = plot.data.set_index(["series", "task.seq_len"])[["mean", "min", "max"]]
    shown.index.names = expected.index.names
    pd.testing.assert_frame_equal(shown.sort_index(), expected.sort_index(), check_dtype=False)

    figure = plot.draw()
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    learner = lines["numpy:pooled-sgd"]
    np.testing.assert_allclose(learner.get_ydata(), expected.loc["numpy:pooled-sgd", "mean"])
    assert list(learner.get_xdata()) == [5, 10]
    floor = next(line for label, line in lines.items() if label.startswith("oracle (floor)"))
    assert floor.get_linestyle() == "--" and floor.get_color() == "black"
    if figure.axes[0].get_yscale() == "linear":
        np.testing.assert_allclose(floor.get_ydata(), [0.0, 0.0])
    else:  # drawn in a margin below the data, as 0 has no place on a log axis
        assert (floor.get_ydata() < min(line.get_ydata().min() for line in lines.values()
                                         if line is not floor)).all()


def test_time_figure_shows_train_and_eval_time_per_model_and_length(sweep_store, sweep_figures):
    data = by_name(sweep_figures)["time-vs-seq_len"].data
    runs = results.load(sweep_store)
    for phase in ("train", "eval"):
        expected = runs.groupby(["model", "task.seq_len"])[f"time.{phase}_s"].mean()
        shown = data[data["phase"] == phase].set_index(["series", "task.seq_len"])["mean"]
        np.testing.assert_allclose(shown.sort_index().to_numpy(), expected.sort_index().to_numpy())


def test_curves_figure_has_a_row_per_length_and_the_stores_epoch_means(sweep_store, sweep_figures):
    plot = by_name(sweep_figures)["curves-by-seq_len"]
    curves = results.load_curves(sweep_store)
    runs = results.load(sweep_store).set_index("id")
    curves["seq_len"] = curves["id"].map(runs["task.seq_len"])
    loss = curves[curves["name"] == "train_loss"]
    # A run of one epoch (numpy:ridge, trained in one pass) has no curve to draw.
    epochs = loss.groupby("id")["epoch"].nunique()
    assert (epochs == 1).any() and (epochs > 1).any()
    loss = loss[loss["id"].map(epochs) > 1]
    expected = loss.groupby(["model", "seq_len", "epoch"])["value"].mean()
    shown = plot.data[plot.data["quantity"] == "train loss"]
    assert "numpy:ridge" not in set(plot.data["series"])
    shown = shown.set_index(["series", "task.seq_len", "epoch"])["mean"]
    np.testing.assert_allclose(shown.sort_index().to_numpy(), expected.sort_index().to_numpy())
    assert set(shown.index.get_level_values("epoch")) == {1, 2, 3}

    figure = plot.draw()
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["seq_len = 5   train loss", "seq_len = 5   validation mse",
                      "seq_len = 10   train loss", "seq_len = 10   validation mse"]


def test_generalisation_figure_shows_the_metric_at_each_evaluation_length(sweep_store, sweep_figures):
    data = by_name(sweep_figures)["mse-vs-eval-seq_len"].data
    lengths = results.load_length_metrics(sweep_store)
    runs = results.load(sweep_store).set_index("id")
    mse = lengths[lengths["name"] == "mse"].assign(trained=lambda f: f["id"].map(runs["task.seq_len"]))
    expected = mse.groupby(["model", "trained", "length"])["value"].mean()
    shown = data.set_index(["series", "train_length", "eval_length"])["mean"]
    np.testing.assert_allclose(shown.sort_index().to_numpy(), expected.sort_index().to_numpy())
    # The pooled learner is tested at every length; ridge only where it was trained.
    assert set(data.loc[data["series"] == "numpy:pooled-sgd", "eval_length"]) == {5, 10, 20}
    assert set(data.loc[data["series"] == "numpy:ridge", "eval_length"]) == {5, 10}


def test_pareto_front_is_exactly_the_configurations_nothing_beats():
    cost = np.array([1.0, 2.0, 3.0, 4.0, 2.0])
    error = np.array([5.0, 3.0, 4.0, 1.0, 3.0])
    assert pareto_front(cost, error, "min").tolist() == [True, True, False, True, False]
    accuracy = np.array([0.1, 0.5, 0.4, 0.9, 0.2])
    assert pareto_front(cost, accuracy, "max").tolist() == [True, True, False, True, False]


def test_pareto_figure_marks_the_non_dominated_configurations(sweep_figures):
    data = by_name(sweep_figures)["mse-vs-train-time"].data
    learners = data[~data["oracle"]]
    for _, panel in learners.groupby("task.seq_len"):
        for row in panel.itertuples():
            beaten = ((panel["cost"] <= row.cost) & (panel["metric"] <= row.metric)
                      & ((panel["cost"] < row.cost) | (panel["metric"] < row.metric))).any()
            assert row.front == (not beaten)
    assert not data.loc[data["oracle"], "front"].any()


@pytest.mark.parametrize("values, scale", [([1e-6, 1e-3, 0.1], "log"), ([1.0, 2.0, 5.0], "linear"),
                                           ([0.0, 1e-3, 1.0], "linear")])
def test_the_y_axis_is_logarithmic_when_positive_values_span_decades(values, scale):
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    set_scales(ax, [1, 2, 3], values)
    assert ax.get_yscale() == scale
    plt.close(figure)


def test_summary_page_has_the_suite_provenance_best_model_and_every_run(sweep_store, sweep_report):
    _, out = sweep_report
    page = (out / "report.md").read_text()
    for stem in SWEEP_FIGURES:
        assert f"]({stem}.png)" in page and f"[SVG]({stem}.svg)" in page
    assert "swept seq_len: 5, 10" in page
    assert "no GPU energy was measured: point ran on cpu" in page
    assert "| seqbench | 0.1.0 |" in page
    runs = results.load(sweep_store)
    learners = runs[runs["model"] != "oracle"]
    for length, group in learners.groupby("task.seq_len"):
        best = group.groupby("model")["primary_value"].mean().idxmin()
        assert re.search(rf"^\| {length} \| {re.escape(best)} \|", page, re.MULTILINE), best
    assert section(page, "Failed points").strip() == "None: every point succeeded."
    # numpy:ridge has weights for one length only: its other lengths are listed.
    assert "| numpy:ridge | 5 | 10, 20 | 2 | ValueError" in page
    assert len(pd.read_csv(out / "runs.csv")) == len(runs)


def test_html_page_is_one_file_with_every_figure_embedded(sweep_report):
    _, out = sweep_report
    page = (out / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(SWEEP_FIGURES)
    assert not re.findall(r'src="(?!data:)', page)
    pngs = {(out / f"{stem}.png").read_bytes() for stem in SWEEP_FIGURES}
    assert {base64.b64decode(data) for data in embedded} == pngs


def test_a_store_with_gpu_energy_gets_energy_and_batch_size_figures(energy_store, tmp_path):
    out = tmp_path / "report"
    result = report(energy_store, "--plot", "--out", str(out))
    assert result.exit_code == 0, result.output
    stems = {path.stem for path in out.glob("*.png")}
    assert {"energy-vs-seq_len", "energy-vs-batch_size", "mse-vs-train-energy", "time-vs-batch_size",
            "mse-vs-batch_size"} <= stems
    for stem in stems:
        assert_valid_png(out / f"{stem}.png")

    group = figures([load_set(energy_store, "energy", "energy")])
    data = by_name(group)["energy-vs-batch_size"].data
    runs = results.load(energy_store)
    # The oracle runs on the CPU: no GPU energy is billed to it, and no line drawn.
    assert set(runs.loc[runs["model"] == "oracle", "meter.nvml.unavailable"]) == {"point ran on cpu"}
    expected = runs.groupby(["model", "run.batch_size"])["meter.nvml.train.energy_j"].mean().dropna()
    shown = data[data["phase"] == "train"].set_index(["series", "run.batch_size"])["mean"]
    np.testing.assert_allclose(shown.sort_index().to_numpy(), expected.sort_index().to_numpy())
    assert (expected > 0).all()
    assert "GPU energy method: counter" in (out / "report.md").read_text()


def test_failed_points_are_listed_with_their_errors_and_left_out_of_the_figures(failed_store, tmp_path):
    store = failed_store
    out = tmp_path / "report"
    result = report(store, "--plot", "--out", str(out))
    assert result.exit_code == 0, result.output
    failed = section((out / "report.md").read_text(), "Failed points")
    assert failed.count("| numpy:pooled-sgd | 10 |") == 2
    assert "| numpy:pooled-sgd | 10 | 0 | ValueError: sequence length 10 is over max_len 5 |" in failed
    assert "| numpy:pooled-sgd | 10 | 1 | ValueError: sequence length 10 is over max_len 5 |" in failed
    data = by_name(figures([load_set(store, "sweep", "sweep")]))["mse-vs-seq_len"].data
    shown = data[data["series"] == "numpy:pooled-sgd"]
    assert shown["task.seq_len"].tolist() == [5]
    assert_valid_png(out / "mse-vs-seq_len.png")


def test_a_store_whose_every_point_failed_still_reports(site, tmp_path):
    suite = sweep_suite(max_len=2).replace('[[model]]\nname = "numpy:ridge"\n[[model]]\nname = "oracle"\n', "")
    store = run_suite(tmp_path, suite, tmp_path / "all-failed.sqlite", code=1)
    out = tmp_path / "report"
    result = report(store, "--plot", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = (out / "report.md").read_text()
    assert "No figures: no run succeeded." in page
    failed = section(page, "Failed points")
    assert failed.count("ValueError: sequence length 5 is over max_len 2") == 2
    assert failed.count("ValueError: sequence length 10 is over max_len 2") == 2
    assert not list(out.glob("*.png"))


def test_a_store_with_one_point_reports_one_mean_per_model(tmp_path):
    store = run_suite(tmp_path, ONE_POINT, tmp_path / "one.sqlite")
    out = tmp_path / "report"
    result = report(store, "--plot", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {p.stem for p in out.glob("*.png")} == {"mse-by-model", "time-by-model"}
    for path in out.glob("*.png"):
        assert_valid_png(path)
    assert "seqbench report: suite one" in (out / "report.html").read_text()


def test_usage_errors_are_one_line_exit_2_and_write_nothing(sweep_store, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = [
        (["--svg"], "--svg changes what --plot writes; add --plot"),
        (["--out", str(tmp_path / "x")], "--out is where --plot writes; add --plot"),
        (["--plot", "--out", str(blocker / "report")], f"--out: {blocker} is a file, not a folder"),
        (["--plot", "--out", str(tmp_path / "x"), "--suite", "nope"], "--suite: no runs of suite 'nope'"),
        (["--tensorboard", str(blocker / "tb")], f"--tensorboard: {blocker} is a file, not a folder"),
    ]
    for args, message in cases:
        result = report(sweep_store, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith(f"Error: {message}"), result.output
        assert len(result.output.strip().splitlines()) == 1
        assert "Traceback" not in result.output
    # A file where a folder must be, caught by click itself: its usage format, exit 2.
    result = report(sweep_store, "--plot", "--out", str(blocker))
    assert result.exit_code == 2 and "is a file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_compare_puts_two_stores_side_by_side(sweep_store, failed_store, tmp_path):
    out = tmp_path / "report"
    result = report(sweep_store, "--plot", "--out", str(out), "--compare", str(failed_store))
    assert result.exit_code == 0, result.output
    for path in out.glob("*.png"):
        assert_valid_png(path)
    first, second = str(sweep_store), str(failed_store)  # one suite name: stores label them

    group = figures([load_set(sweep_store, "sweep", first), load_set(failed_store, "sweep", second)])
    data = by_name(group)["mse-vs-seq_len"].data
    assert list(data["source"].cat.categories) == [first, second]
    learner = data[data["series"] == "numpy:pooled-sgd"]
    assert learner.loc[learner["source"] == first, "task.seq_len"].tolist() == [5, 10]
    assert learner.loc[learner["source"] == second, "task.seq_len"].tolist() == [5]
    figure = by_name(group)["mse-vs-seq_len"].draw()
    assert [ax.get_title() for ax in figure.axes] == [first, second]

    side = section((out / "report.md").read_text(), f"{first} and {second} side by side")
    # The same seeds give the same numbers; the point that failed has no ratio.
    assert "| numpy:ridge | 5 |" in side and "| numpy:ridge | 10 |" in side
    rows = [line.split(" | ") for line in side.splitlines() if line.startswith("| numpy:")]
    ratios = {(row[0][2:], row[1]): row[4] for row in rows}
    assert ratios[("numpy:ridge", "5")] == ratios[("numpy:ridge", "10")] == "1"
    assert ratios[("numpy:pooled-sgd", "5")] == "1" and ratios[("numpy:pooled-sgd", "10")] == ""


@pytest.fixture
def two_suites(sweep_store, tmp_path):
    store = tmp_path / "two.sqlite"
    store.write_bytes(sweep_store.read_bytes())
    return run_suite(tmp_path, ONE_POINT, store)


def test_compare_takes_another_suite_of_the_same_store(two_suites, tmp_path):
    out = tmp_path / "report"
    result = report(two_suites, "--plot", "--out", str(out), "--compare", "one")
    assert result.exit_code == 0, result.output
    page = (out / "report.md").read_text()
    assert page.startswith("# seqbench report: sweep vs one")
    assert "## sweep and one side by side" in page


def test_a_store_of_several_suites_reports_each_in_its_own_folder(two_suites, tmp_path):
    out = tmp_path / "report"
    result = report(two_suites, "--plot", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {p.name for p in (out / "sweep").glob("*.png")} == {f"{s}.png" for s in SWEEP_FIGURES}
    assert {p.name for p in (out / "one").glob("*.png")} == {"mse-by-model.png", "time-by-model.png"}
    page = (out / "report.md").read_text()
    assert "## Suite sweep" in page and "## Suite one" in page
    assert "](sweep/mse-vs-seq_len.png)" in page


def test_compare_errors_name_the_problem_and_write_nothing(two_suites, tmp_path):
    other_task = run_suite(tmp_path, ONE_POINT.replace('"one"', '"sub"').replace(
        'name = "adding"\nseq_len = 5', 'name = "subsequence"'), tmp_path / "sub.sqlite")
    out = tmp_path / "report"
    cases = [
        (["--compare", "nope"], "--compare: 'nope' is neither a results store (no such file) nor a suite"),
        (["--compare", str(other_task), "--suite", "sweep"],
         "--compare: sweep ran task 'adding', sub ran task 'subsequence'; compare result sets of the same task"),
        (["--compare", "sweep", "--suite", "sweep"], "--compare: 'sweep' is the suite being reported"),
    ]
    for args, message in cases:
        result = report(two_suites, "--plot", "--out", str(out), *args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"Error: {message}"), result.output
        assert not out.exists()


def test_compare_without_plot_prints_both_tables_with_their_source(sweep_store, failed_store):
    result = report(sweep_store, "--compare", str(failed_store), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(io.StringIO(result.output))
    assert rows.columns[0] == "source"
    counts = rows["source"].value_counts().to_dict()
    assert counts == {str(sweep_store): len(results.load(sweep_store)),
                      str(failed_store): len(results.load(failed_store))}


def test_format_given_with_plot_prints_the_table_too(sweep_store, tmp_path):
    result = report(sweep_store, "--plot", "--out", str(tmp_path / "r"), "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("| suite | task |")
    assert (tmp_path / "r" / "report.html").is_file()


LONG_TRAINING = """
[suite]
name = "long"
[run]
epochs = 12
train_size = 64
eval_size = 32
batch_size = 16
[task]
name = "adding"
seq_len = 5
[[model]]
name = "numpy:pooled-sgd"
"""


def test_training_curves_read_epochs_on_a_linear_axis_however_many(site, tmp_path):
    # Twelve epochs span more than a decade, which would make any other x axis
    # logarithmic; epochs are counted, and a log axis would squeeze the late ones.
    store = run_suite(tmp_path, LONG_TRAINING, tmp_path / "long.sqlite")
    plot = by_name(figures([load_set(store, "long", "long")]))["curves"]
    assert set(plot.data["epoch"]) == set(range(1, 13))
    for ax in plot.draw().axes:
        if ax.get_title():
            assert ax.get_xscale() == "linear"
            ticks = [t for t in ax.get_xticks() if 1 <= t <= 12]
            assert ticks and all(float(t).is_integer() for t in ticks)


def test_training_curves_keep_each_swept_length_and_batch_size_apart(energy_store):
    # Runs at batch 16 and 32 learn at different rates: averaging them into one line
    # (and calling the spread a band over seeds) would show neither.
    plot = by_name(figures([load_set(energy_store, "energy", "energy")]))["curves-by-seq_len-and-batch_size"]
    curves = results.load_curves(energy_store)
    runs = results.load(energy_store).set_index("id")
    setting = runs["task.seq_len"].map("seq_len = {}".format) + runs["run.batch_size"].map("   batch_size = {}".format)
    loss = curves[curves["name"] == "train_loss"].assign(setting=lambda f: f["id"].map(setting))
    expected = loss.groupby(["model", "setting", "epoch"])["value"].mean()
    shown = plot.data[plot.data["quantity"] == "train loss"]
    shown = shown.assign(setting=shown["setting"].astype(str)).set_index(["series", "setting", "epoch"])["mean"]
    assert len(shown) == len(expected) == 4 * 2  # the learner (the oracle has no curve): 4 settings x 2 epochs
    np.testing.assert_allclose(shown.sort_index().to_numpy(), expected.sort_index().to_numpy())
    titles = [ax.get_title() for ax in plot.draw().axes if ax.get_title()]
    assert titles[::2] == [f"seq_len = {length}   batch_size = {batch}   train loss"
                           for length in (5, 10) for batch in (16, 32)]


def test_matplotlibs_font_lookup_stays_quiet_while_figures_are_drawn(caplog):
    # Log axes' math text made matplotlib print a "findfont: ... not found" line per
    # figure on stderr; nothing in it is for the report's reader.
    from seqbench.plots.canvas import theme

    fonts = logging.getLogger("matplotlib.font_manager")
    before = fonts.level
    with caplog.at_level(logging.WARNING):
        with theme():
            fonts.warning("findfont: Font family ['DejaVu Sans Display'] not found.")
        assert "findfont" not in caplog.text
        assert fonts.level == before
        fonts.warning("findfont: outside a report")
        assert "outside a report" in caplog.text  # only the report's drawing is quieted


# --- statistics: intervals and verdicts (issue 20) ---------------------------------

def test_results_carry_each_means_interval_over_seeds(sweep_store, sweep_report):
    from seqbench import stats

    _, out = sweep_report
    table = pd.read_csv(out / "summary.csv")
    runs = results.load(sweep_store)
    for (model, length), group in runs.groupby(["model", "task.seq_len"]):
        expected = stats.interval(group["primary_value"].to_numpy(dtype=float))
        row = table[(table["series"] == model) & (table["seq_len"] == length)].iloc[0]
        assert expected.method == "t" and row["seeds"] == 2
        assert (row["mse low"], row["mse high"]) == pytest.approx((expected.low, expected.high), nan_ok=True)
    shown = section((out / "report.md").read_text(), "Results")
    assert "95% interval" in shown and " ± " in shown


def test_verdict_table_pairs_models_by_seed_in_a_real_store(sweep_store, sweep_report):
    from seqbench import stats

    _, out = sweep_report
    verdicts = pd.read_csv(out / "verdicts.csv")
    # The learners against each other at each length; the oracle only against oracles.
    assert set(zip(verdicts["A"], verdicts["B"])) == {("numpy:pooled-sgd", "numpy:ridge")}
    assert set(verdicts["quantity"]) == {"mse", "train s", "eval s"}
    runs = results.load(sweep_store).set_index(["model", "task.seq_len", "seed"])["primary_value"].sort_index()
    for row in verdicts[verdicts["quantity"] == "mse"].to_dict("records"):
        a, b = runs.loc["numpy:pooled-sgd", row["seq_len"]], runs.loc["numpy:ridge", row["seq_len"]]
        expected = stats.paired(a.to_numpy(), b.to_numpy(), "min")
        assert row["seeds"] == "2 paired" and row["verdict"] == expected.verdict
        assert (row["A - B"], row["A - B low"], row["A - B high"]) == pytest.approx(
            (expected.difference.mean, expected.difference.low, expected.difference.high))
    page = section((out / "report.md").read_text(), "Verdicts")
    assert "paired by seed" in page and "| numpy:pooled-sgd | numpy:ridge | mse |" in page


def test_compare_ends_with_a_verdict_table_of_the_same_configurations(sweep_store, failed_store):
    result = report(sweep_store, "--compare", str(failed_store))
    assert result.exit_code == 0, result.output
    verdicts = result.output.split("\nVerdicts, ", 1)[1]
    lines = verdicts.splitlines()
    mse = [line for line in lines if " mse " in line]
    # Same seeds, same data, same code: every difference is exactly zero. The point
    # that failed in the second store has nothing to compare with.
    assert mse and all(line.split()[-1] == "indistinguishable" for line in mse)
    assert all(" 0 ± 0 " in line for line in mse)
    assert not [line for line in mse if "numpy:pooled-sgd" in line and line.lstrip().startswith("10 ")]
    assert [line for line in mse if "numpy:pooled-sgd" in line and line.lstrip().startswith("5 ")]
    csv = report(sweep_store, "--compare", str(failed_store), "--format", "csv")
    assert "Verdicts" not in csv.output  # CSV and JSON stay one table


@pytest.mark.parametrize("band, low, high", [("ci", "low", "high"), ("minmax", "min", "max")])
def test_bands_span_the_interval_or_the_seeds_as_asked(sweep_figures, band, low, high):
    from functools import partial

    from matplotlib.colors import to_rgb

    plot = by_name(sweep_figures)["mse-vs-seq_len"]
    figure = partial(plot.draw, band=band)()
    ax = figure.axes[0]
    line = plot.data[plot.data["series"] == "numpy:pooled-sgd"].sort_values("task.seq_len")
    colour = to_rgb(sweep_figures.palette("numpy:pooled-sgd"))
    (band_patch,) = [c for c in ax.collections if np.allclose(c.get_facecolor()[0][:3], colour)]
    ys = band_patch.get_paths()[0].vertices[:, 1]
    bottom, top = line[low].to_numpy(), line[high].to_numpy()
    if ax.get_yscale() == "log":  # an interval below zero is drawn from the lowest seed
        bottom = np.where(bottom > 0, bottom, line["min"].to_numpy())
    assert ys.max() == pytest.approx(top.max()) and ys.min() == pytest.approx(bottom.min())
    notes = " ".join(text.get_text() for text in figure.texts)
    assert ("95% interval" in notes) == (band == "ci")


def test_band_without_plot_is_a_usage_error(sweep_store):
    result = report(sweep_store, "--band", "minmax")
    assert result.exit_code == 2 and "--band changes what --plot draws" in result.output
