"""A model's FLOP count is plugin output like its predictions: whatever ``flops()`` or
``predict_flops()`` returns is checked where it enters (numbers of FLOPs finite and not
negative, ``lower_bound`` true or false, the words one printable line). A count that is
not one, or that raises, is dropped with its reason in ``meter.flops.error``, naming the
model and its plugin; the trained point stays ``ok`` with its other figures, and the
store it is written to reports and exports like any other."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from seqbench.cli import main
from seqbench.flops import CountError, checked_counts, phase_rates
from seqbench.results import load

HOSTILE_FLOPS = '''
from dataclasses import dataclass

from seqbench import Model, hookimpl, param

GOOD = {"train_per_example": 100.0, "predict_per_example": 30.0, "method": "by hand"}
GIVES = {
    "fine": {"lower_bound": True, "omitted": ["the scan", "elementwise work"]},
    "huge-lower-bound": {"lower_bound": 10**400},
    "huge-omitted": {"omitted": [10**400]},
    "text-count": {"train_per_example": "12"},
    "huge-count": {"train_per_example": 10**400},
    "negative-count": {"train_per_example": -100.0},
}


@dataclass
class HostileFlops(Model):
    name = "hostile:flops"
    framework = "numpy"
    serves_every_task = True
    gives: str = param("fine", choices=(*GIVES, "raises"))

    def build(self, task, settings):
        self._task = task

    def fit(self, train, settings, on_epoch):
        on_epoch(1, 0.0, len(train))

    def predict(self, inputs):
        return self._task.solve(inputs)

    def flops(self, inputs, targets):
        if self.gives == "raises":
            raise ZeroDivisionError("no count today")
        return {**GOOD, **GIVES[self.gives]}


@hookimpl
def register_models(register):
    register(HostileFlops)
'''

SUITE = """\
[suite]
name = "hostile-flops"

[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "cpu"

[task]
name = "adding"
seq_len = 3

[[model]]
name = "hostile:flops"

[sweep]
model.gives = ["fine", "huge-lower-bound", "huge-omitted", "text-count", "huge-count", "negative-count", "raises"]
"""

OWNER = "model 'hostile:flops' of plugin 'seqbench-hostile-flops' (seqbench-hostile-flops 0.0.1): no FLOP count: "


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_hostile_count_keeps_its_trained_point_ok_and_its_store_readable(install_plugin, write_suite, tmp_path):
    """lower_bound = 10**400 was stored as it came, in an ``ok`` point: then ``report
    --format csv``, ``--plot`` and a suite's JSON refused the whole store. Text or an
    integer past float range for a count failed the trained point; a negative count
    was stored with negative FLOP/s."""
    install_plugin("seqbench-hostile-flops", HOSTILE_FLOPS)
    store = tmp_path / "store.sqlite"

    cli("run", str(write_suite(SUITE)), "--store", str(store), "--jobs", "2")

    rows = {row["model.gives"]: row for row in load(store).to_dict("records")}
    assert all(row["status"] == "ok" and row["metric.mse"] == 0.0 for row in rows.values()), rows
    reasons = {
        "huge-lower-bound": "flops() gave lower_bound = an integer of about 401 digits, not true or false",
        "huge-omitted": "flops() gave omitted = an integer of about 401 digits, not text",
        "text-count": "flops() gave train_per_example = '12' (text), not a number of FLOPs",
        "huge-count": "flops() gave train_per_example = an integer of about 401 digits; a count is a finite "
                      "number of FLOPs, 0 or more",
        "negative-count": "flops() gave train_per_example = -100.0; a count is a finite number of FLOPs, 0 or more",
        "raises": "counting raised ZeroDivisionError: no count today",
    }
    for gives, reason in reasons.items():
        assert rows[gives]["meter.flops.error"] == OWNER + reason
        assert math.isnan(rows[gives]["meter.flops.train.flop_per_s"])  # nothing of the count kept
        assert rows[gives]["time.train_s"] > 0  # the point's own figures are
    fine = rows["fine"]
    assert (fine["meter.flops.lower_bound"], fine["meter.flops.omitted"]) == (True, "the scan; elementwise work")
    assert fine["meter.flops.train.flop_per_s"] > 0 and not isinstance(fine["meter.flops.error"], str)

    csv = cli("report", "--store", str(store), "--format", "csv")
    assert len(csv.strip().splitlines()) == 1 + len(rows)
    assert len(json.loads(cli("report", "--store", str(store), "--suite", "hostile-flops", "--format", "json"))) == 7
    cli("report", "--store", str(store), "--suite", "hostile-flops", "--plot", "--out", str(tmp_path / "out"))
    assert (tmp_path / "out" / "flops-by-model.png").exists()
    bundle = tmp_path / "bundle.sqlite"
    cli("export", "hostile-flops", "--store", str(store), "--out", str(bundle))
    assert cli("report", "--store", str(bundle), "--format", "csv") == csv


class Counts:
    """A built model's stand-in, counting what it is told to."""

    name = "stand-in"
    precision = "fp32"

    def __init__(self, gives, predicts=None):
        self.gives, self.predicts = gives, predicts

    def flops(self, inputs, targets):
        if isinstance(self.gives, BaseException):
            raise self.gives
        return self.gives


class PredictCounts(Counts):
    def predict_flops(self, inputs):
        return self.predicts


GOOD = {"train_per_example": 100.0, "predict_per_example": 30.0, "method": "by hand"}


def counted(model) -> dict | None:
    from seqbench import registry
    from seqbench.data import Split
    from seqbench.devices import count_flops

    task = registry.tasks().get("adding")(seq_len=3)
    train, validation, test = (Split(task, name, 8, 0) for name in ("train", "validation", "test"))
    timings = {"train_s": 1.0, "eval_s": 1.0, "epochs": 1, "train_examples": 8}
    return count_flops(model, train, 8, validation=validation, test=test, timings=timings, measurements={})


@pytest.mark.parametrize(
    "gives, reason",
    [
        ({**GOOD, "predict_per_example": float("nan")}, "predict_per_example = nan; a count is a finite number"),
        ({**GOOD, "train_per_example": float("inf")}, "train_per_example = inf; a count is a finite number"),
        ({**GOOD, "train_per_example": True}, "train_per_example = True, not a number of FLOPs"),
        ({**GOOD, "train_per_example": 10**100_000}, "train_per_example = an integer of about 100001 digits"),
        ({**GOOD, "lower_bound": "no"}, "lower_bound = 'no' (text), not true or false"),
        ({**GOOD, "omitted": {"a": {"b": float("nan")}}}, "omitted = a dict, not text"),
        ({**GOOD, "omitted": "the scan\n\x1b[2Jelementwise"}, "omitted = 'the scan\\n\\x1b[2Jelementwise' (text); "
                                                            "expected one printable line of at most 1000 characters"),
        ({**GOOD, "omitted": ["x"] * 21}, "omitted as a list of 21 items; at most 20"),
        ({**GOOD, "fp32_math": "x" * 1001}, "fp32_math = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (text)"),
        ({**GOOD, "method": 3}, "method = 3, not text"),
        ([("train_per_example", 1.0)], "flops() returned a list, not a dict of counts"),
        (SystemExit(3), "counting raised SystemExit: 3"),
    ],
    ids=["nan", "infinite", "bool", "huge", "text-bound", "nested-omitted", "control-characters",
         "long-list", "long-text", "number-method", "not-a-dict", "exits"],
)
def test_a_count_that_is_not_one_is_dropped_with_its_reason(gives, reason):
    entry = counted(Counts(gives))

    assert list(entry) == ["error"] and entry["error"].startswith("model 'stand-in': no FLOP count: ")
    assert reason in entry["error"], entry["error"]
    assert entry["error"].isprintable()


@pytest.mark.parametrize("predicts", ["12", -1.0, 10**400], ids=["text", "negative", "huge"])
def test_a_prediction_count_is_checked_as_the_training_count_is(predicts):
    """predict_flops' answer priced the validation and test predictions unchecked:
    text such as "12" was read as 12 FLOPs."""
    entry = counted(PredictCounts(GOOD, predicts))

    assert entry["error"].startswith("model 'stand-in': no FLOP count: predict_flops() on the validation batch gave "
                                     "validation_predict_per_example = ")


def test_a_well_formed_count_is_kept_with_one_type_per_figure():
    """NumPy's numbers and bools, and ``omitted`` as a list of phrases, are what a
    plugin may well return: stored as floats, true/false and one line of text, as
    seqbench-torch's counts are."""
    entry = counted(PredictCounts({"train_per_example": np.float32(100), "predict_per_example": np.int64(30),
                                   "lower_bound": np.True_, "omitted": ("the scan", "elementwise work")},
                                  predicts=np.float64(40)))

    assert (entry["train_per_example"], entry["predict_per_example"], entry["test_predict_per_example"]) == (
        100.0, 30.0, 40.0)
    assert type(entry["train_per_example"]) is float and type(entry["predict_per_example"]) is float
    assert entry["lower_bound"] is True and entry["omitted"] == "the scan; elementwise work"
    assert entry["train"]["flops"] == 100 * 8 + 40 * 8 and "error" not in entry


def test_phase_rates_refuses_what_is_not_a_count():
    """The record's entry copied lower_bound and omitted as they came."""
    timings = {"train_s": 1.0, "eval_s": 1.0, "epochs": 1, "train_examples": 8}
    with pytest.raises(CountError, match="lower_bound = an integer of about 401 digits, not true or false"):
        phase_rates({**GOOD, "lower_bound": 10**400}, timings, 8, 8, gpu_names=[], precision="fp32")
    with pytest.raises(CountError, match="train_per_example = -5.0; a count is a finite number of FLOPs, 0 or more"):
        phase_rates({**GOOD, "train_per_example": -5.0}, timings, 8, 8, gpu_names=[], precision="fp32")


def test_phase_totals_and_rates_past_float_range_are_unknown_not_infinite():
    """A count within float range times the examples seen may pass it: no figure,
    rather than an infinity (stored as nothing, but kept in the record as inf)."""
    timings = {"train_s": 1e-9, "eval_s": 1.0, "epochs": 1, "train_examples": 1000}

    entry = phase_rates({"train_per_example": 1e306, "predict_per_example": 1e300}, timings, 10, 10,
                        gpu_names=[], precision="fp32")

    assert entry["train"] == {"flops": None, "flop_per_s": None, "utilisation": None}
    assert entry["eval"]["flops"] == pytest.approx(1e301) and entry["eval"]["flop_per_s"] == pytest.approx(1e301)
    assert phase_rates({"train_per_example": 1e300}, {**timings, "train_examples": 1}, 0, 0, gpu_names=[],
                       precision="fp32")["train"]["flop_per_s"] is None  # 1e300 / 1e-9


@pytest.mark.parametrize("model, params", [
    ("torch:s4d", {"d_model": 8, "layers": 1, "state": 4}),
    ("torch:lstm", {"hidden": 4, "layers": 1}),
])
def test_the_torch_counts_pass_the_check_unchanged(model, params):
    """FlopCounterMode's counts are what the check lets through, as they are."""
    pytest.importorskip("torch")
    from test_flops_method import counted as torch_counted

    task, task_params = ("reverse", {"length": 4}) if model == "torch:s4d" else ("adding", {"seq_len": 3})
    counts = torch_counted(model, task, task_params, **params)

    assert checked_counts(counts) == counts
