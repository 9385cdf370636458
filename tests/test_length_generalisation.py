"""``run.eval_lengths``: train at the task's length, test at each listed length."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.suite import load_suite

SUITE = """
[suite]
name = "generalise"
[run]
epochs = 1
train_size = 300
eval_size = 100
batch_size = 100
eval_lengths = {lengths}
[task]
name = "adding"
seq_len = 10
[[model]]
name = "oracle"
[[model]]
name = "numpy:ridge"
"""

NO_LENGTH_TASK = """
from dataclasses import dataclass
import numpy as np
from seqbench import Examples, Signature, Task, hookimpl

@dataclass
class Fixed(Task):
    name = "fixed"
    primary_metric = "mse"

    @property
    def signature(self):
        return Signature(inputs="continuous", targets="scalar", input_length=3)

@hookimpl
def register_tasks(register):
    register(Fixed)
"""


def run(write_suite, store_path, lengths: str):
    suite = write_suite(SUITE.format(lengths=lengths))
    return CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])


def test_metrics_are_stored_for_every_evaluation_length(write_suite, store_path):
    result = run(write_suite, store_path, "[10, 20, 40]")
    assert result.exit_code == 0, result.output
    by_length = results.load_length_metrics(store_path)
    oracle = by_length[(by_length["model"] == "oracle") & (by_length["name"] == "mse")]
    assert list(oracle["length"]) == [10, 20, 40]
    assert (oracle["value"] < 1e-10).all()


def test_a_length_the_model_cannot_handle_is_recorded_and_the_point_succeeds(write_suite, store_path):
    # numpy:ridge's weights are sized for the training length; longer inputs do not fit.
    result = run(write_suite, store_path, "[10, 20]")
    assert result.exit_code == 0, result.output
    by_length = results.load_length_metrics(store_path)
    ridge = by_length[by_length["model"] == "numpy:ridge"].set_index(["length", "name"])
    assert ridge.loc[(10, "mse"), "value"] < 0.2
    assert "ValueError" in ridge.loc[(20, "error"), "error"]
    runs = results.load(store_path)
    assert set(runs["status"]) == {"ok"}


def test_without_eval_lengths_nothing_is_stored_per_length_and_the_hash_ignores_it(write_suite, store_path):
    suite = write_suite(SUITE.replace("eval_lengths = {lengths}\n", ""))
    point = load_suite(suite).points[0]
    assert "eval_lengths" not in point.config()["run"]
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 0
    assert results.load_length_metrics(store_path).empty


@pytest.mark.parametrize(
    "lengths, message",
    [
        ("[1]", "[run] eval_lengths: length 1 is not valid for 'adding': seq_len: expected int >= 2, got 1"),
        ("[]", "[run] eval_lengths: expected a non-empty list of lengths"),
        ('"long"', "[run] eval_lengths: expected list of int, got 'long'"),
        ("[10.5]", "[run] eval_lengths: expected list of int, got [10.5]"),
    ],
    ids=["below-the-task-minimum", "empty", "not-a-list", "not-integers"],
)
def test_bad_eval_lengths_are_a_usage_error(write_suite, store_path, lengths, message):
    result = run(write_suite, store_path, lengths)
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1
    assert not store_path.exists()


def test_eval_lengths_need_a_task_with_a_length_parameter(install_plugin, write_suite, store_path):
    install_plugin("seqbench-fixed", NO_LENGTH_TASK)
    suite = write_suite(
        "[run]\neval_lengths = [4]\n[task]\nname = 'fixed'\n[[model]]\nname = 'oracle'\n"
    )
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 2
    assert "[run] eval_lengths: task 'fixed' has no length parameter to vary" in result.output


@pytest.mark.parametrize(
    "task, length_key, train_length, lengths",
    [
        ("adding", "seq_len", 10, [20, 40]),
        ("subsequence", "length", 10, [12, 16]),
        ("polynomial", "factors", 2, [3, 4]),
        ("gp-pairs", "length", 30, [40, 60]),
    ],
)
def test_every_task_with_a_length_parameter_is_tested_at_each_length(
    write_suite, store_path, task, length_key, train_length, lengths
):
    suite = write_suite(
        f"""
        [run]
        epochs = 1
        train_size = 64
        eval_size = 64
        batch_size = 32
        eval_lengths = {lengths}
        [task]
        name = "{task}"
        {length_key} = {train_length}
        {"context = 10" if task == "gp-pairs" else ""}
        [[model]]
        name = "oracle"
        """
    )
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    by_length = results.load_length_metrics(store_path)
    assert "error" not in set(by_length["name"])
    primary = results.load(store_path)["primary_metric"].iloc[0]
    scored = by_length[by_length["name"] == primary]
    assert list(scored["length"]) == lengths
    floor = {"mse": 1e-10}.get(primary)
    if primary == "exact_match":
        assert (scored["value"] == 1.0).all()
    elif floor is not None:
        assert (scored["value"] < floor).all()
    else:  # gp-pairs: the oracle's NLL is the Bayes floor, finite at every length
        assert scored["value"].notna().all()


DIVERGING = """
from dataclasses import dataclass
import numpy as np
from seqbench import Model, hookimpl


@dataclass
class Diverging(Model):
    name = "diverging"
    description = "exact at its training length, infinite elsewhere"
    serves = frozenset({("continuous", "scalar")})

    def build(self, task, settings):
        self._task, self._length = task, task.signature.input_length

    def fit(self, train, settings, on_epoch):
        on_epoch(1, 0.0, len(train))

    def predict(self, inputs):
        if inputs.shape[1] == self._length:
            return self._task.solve(inputs)
        return np.full(len(inputs), np.inf)


@hookimpl
def register_models(register):
    register(Diverging)
"""


def test_a_length_where_the_metric_is_not_finite_is_its_error_and_the_figure_counts_it(
    install_plugin, write_suite, store_path, tmp_path
):
    """A model diverging at a longer length: its infinite metric was stored as NULL and
    that length's mean taken over the other runs without a word."""
    install_plugin("seqbench-diverging", DIVERGING)
    suite = write_suite(SUITE.format(lengths="[10, 20]").replace('name = "numpy:ridge"', 'name = "diverging"'))
    assert CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)]).exit_code == 0

    by_length = results.load_length_metrics(store_path)
    diverging = by_length[by_length["model"] == "diverging"].set_index(["length", "name"])
    assert diverging.loc[(10, "mse"), "value"] < 1e-10
    assert (20, "mse") not in diverging.index
    assert "NonFiniteResult: test metric mse = inf, mae = inf" in diverging.loc[(20, "error"), "error"]

    out = tmp_path / "figures"
    shown = CliRunner().invoke(main, ["report", "--store", str(store_path), "--plot", "--out", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "1 run at some evaluation length had no finite test mse" in (out / "report.md").read_text()
