"""Building a point (its task and model, ``model.build``, where a framework's import
lands, and opening the meters) is timed as ``time.build_s``, so a point's phases,
startup and build account for its time in the worker."""

from __future__ import annotations

from seqbench.pipeline import run_point
from seqbench.suite import load_suite

SLOW_BUILD = """
import time
from dataclasses import dataclass

import numpy as np

from seqbench import Model, hookimpl, param


@dataclass
class SlowBuild(Model):
    name = "slow:build"
    serves = frozenset({("continuous", "scalar")})
    fails: bool = param(False, help="build raises once it has taken its time")

    def build(self, task, settings):
        time.sleep(0.4)  # a framework imported on first use
        if self.fails:
            raise RuntimeError("no device")

    def fit(self, train, settings, on_epoch):
        on_epoch(1, 1.0, len(train))

    def predict(self, inputs):
        return np.ones(len(inputs))


@hookimpl
def register_models(register):
    register(SlowBuild)
"""

SUITE = """\
[suite]
name = "build"
seeds = [0]

[run]
train_size = 16
eval_size = 16
device = "cpu"

[task]
name = "adding"
seq_len = 3

[[model]]
name = "slow:build"
fails = {fails}
"""


def test_a_models_build_is_timed_and_with_the_phases_makes_up_the_points_total(install_plugin, write_suite):
    install_plugin("seqbench-slow-build", SLOW_BUILD)
    (point,) = load_suite(write_suite(SUITE.format(fails="false"))).points
    record = run_point(point)
    assert record.ok, record.error
    timings = record.timings

    assert 0.4 <= timings["build_s"] < timings["total_s"]
    accounted = timings["build_s"] + sum(timings[f"{phase}_s"] for phase in ("data", "train", "eval"))
    assert timings["total_s"] - accounted < 0.2


def test_a_point_whose_build_fails_still_says_how_long_it_took(install_plugin, write_suite):
    install_plugin("seqbench-slow-build", SLOW_BUILD)
    (point,) = load_suite(write_suite(SUITE.format(fails="true"))).points
    record = run_point(point)
    assert not record.ok and "no device" in str(record.error)
    assert record.timings["build_s"] >= 0.4
