"""The run path's types: RunSettings as suite.py builds it (typed, validated once, and
identifying a point exactly as the plain ``[run]`` table did, since the store's hashes
depend on it), and a Record read from a hand-made or newer worker's dict."""

from __future__ import annotations

import tomllib

import pytest

from seqbench.point import Point, config_hash
from seqbench.settings import FitSettings, RunSettings, Target
from seqbench.suite import load_suite

SUITE = """
[run]
epochs = 3
batch_size = 8
device = "cpu"
target = {{ {target} }}

[task]
name = "adding"
seq_len = 5

[[model]]
name = "oracle"
"""


@pytest.mark.parametrize("target", [
    'metric = "mse", value = 1',  # an integer stays one: 1 and 1.0 hash differently
    'metric = "mae", value = 0.25, direction = "max"',
])
def test_a_point_is_identified_by_the_run_table_as_written(write_suite, target):
    (point,) = load_suite(write_suite(SUITE.format(target=target))).points
    written = _table(target)
    defaults = {"epochs": 3, "train_size": 20_000, "eval_size": 2_000, "batch_size": 8,
                "device": "cpu", "target": written, "smoke": False}

    assert isinstance(point.run.target, Target)
    assert point.config()["run"] == defaults
    assert point.hash == config_hash({
        "task": {"name": "adding", "params": {"seq_len": 5}},
        "model": {"name": "oracle", "params": {}},
        "run": defaults,
        "seed": 0,
    })
    assert Point.from_json(point.to_json()) == point


def _table(toml_inline: str) -> dict:
    return tomllib.loads(f"t = {{ {toml_inline} }}")["t"]


def test_the_training_loop_settings_come_from_the_run_settings():
    run = RunSettings(epochs=4, batch_size=16, device="cpu", patience=2)
    assert run.fit_settings(seed=7) == FitSettings(epochs=4, batch_size=16, device="cpu", seed=7, patience=2)


def test_a_run_table_with_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown run setting 'batch'"):
        RunSettings.from_dict({"batch": 8})


def test_the_target_defaults_to_the_tasks_direction():
    assert Target("mse", 0.1).reached_by(0.05, "min")
    assert not Target("mse", 0.1).reached_by(0.05, "max")
    assert Target("acc", 0.9, "max").reached_by(0.95, "min")


def test_a_record_given_as_a_dict_needs_only_its_identity():
    from seqbench.record import Record

    record = Record.from_dict({"suite": "s", "point": "p", "task": "t", "model": "m", "seed": 0,
                               "config": {}, "metrics": None, "from_a_newer_worker": 1})
    assert (record.status, record.metrics, record.curves) == ("failed", {}, [])
    assert record.primary_value is None


def test_an_unset_later_setting_leaves_the_points_json_and_hash_as_they_were():
    unset, set_ = RunSettings(device="cpu"), RunSettings(device="cpu", threads=2)
    assert "threads" not in unset.as_dict() and "threads" not in unset.config()
    assert set_.as_dict()["threads"] == 2 and set_.config()["threads"] == 2
    assert RunSettings.from_dict(unset.as_dict()) == unset
    assert RunSettings.from_dict(set_.as_dict()) == set_


def test_a_records_provenance_travels_in_its_json_only_when_there_is_some():
    from seqbench.record import Record

    identity = {"suite": "s", "point": "p", "task": "t", "model": "m", "seed": 0, "config": {}}
    plain = Record.from_dict(identity)
    assert "provenance" not in plain.to_dict()
    placed = Record.from_dict({**identity, "provenance": {"device": "cuda:1", "threads": None}})
    assert Record.from_json(placed.to_json()).provenance == {"device": "cuda:1", "threads": None}
