"""``seqbench.results``: asking for only some result columns, or curves without the
run's identity, gives the same values as the full read."""

from __future__ import annotations

import pandas as pd
import pytest

from seqbench import results
from seqbench.store import Store

PROVENANCE = {"seqbench": "0.1.0", "host": "a"}


def record(point: str, model: str, seq_len: int, seed: int, mse: float | None) -> dict:
    failed = mse is None
    return {
        "suite": "s", "point": point, "task": "adding", "model": model, "seed": seed,
        "status": "failed" if failed else "ok", "error": "ValueError: no" if failed else None,
        "primary_metric": None if failed else "mse", "direction": None if failed else "min",
        "config": {"task": {"name": "adding", "params": {"seq_len": seq_len}},
                   "model": {"name": model, "params": {"alpha": 0.1} if model == "numpy:ridge" else {}},
                   "run": {"epochs": 2, "eval_lengths": [5, 10], "target": {"metric": "mse", "value": 0.1}},
                   "seed": seed},
        "metrics": {} if failed else {"mse": mse, "mae": mse ** 0.5},
        "timings": {"train_s": 0.5 * seed + 0.1, "epochs": 2, "target_reached": True},
        "measurements": {"nvml": {"train": {"energy_j": 12.5 + seed, "energy_method": "counter"}}},
        "curves": [{"epoch": e, "train_loss": 1.0 / e, "val_mse": 2.0 / e} for e in (1, 2)],
    }


@pytest.fixture
def store(store_path):
    with Store(store_path) as written:
        written.write(record("a", "numpy:ridge", 5, 0, 0.25), PROVENANCE)
        written.write(record("b", "numpy:ridge", 10, 1, 0.5), PROVENANCE)
        written.write(record("c", "oracle", 5, 0, 0.0), {**PROVENANCE, "host": "b"})
        written.write(record("d", "oracle", 10, 1, None), PROVENANCE)
    return store_path


def test_chosen_result_columns_equal_the_full_reads(store):
    chosen = ["time.train_s", "time.epochs", "meter.nvml.train.energy_j",
              "meter.nvml.train.energy_method", "metric.mae"]
    full = results.load(store)
    some = results.load(store, results=chosen)
    parameters = [c for c in full.columns if c.split(".")[0] in ("task", "model", "run")]
    pd.testing.assert_frame_equal(some[parameters], full[parameters])
    pd.testing.assert_frame_equal(some[chosen], full[chosen], check_dtype=False)
    assert "provenance" not in some.columns
    assert some["run.eval_lengths"].tolist() == [[5, 10]] * 4
    assert some["run.target.value"].tolist() == [0.1] * 4
    assert some["model.alpha"].isna().tolist() == [False, False, True, True]


def test_a_result_column_no_run_has_is_all_empty(store):
    assert results.load(store, results=["time.nothing"])["time.nothing"].isna().all()


def test_a_result_column_must_name_its_section(store):
    with pytest.raises(ValueError, match="results are metric"):
        results.load(store, results=["train_s"])


def test_curves_without_identity_are_the_same_rows(store):
    full = results.load_curves(store)
    bare = results.load_curves(store, identity=False, names=["train_loss"])
    expected = full[full["name"] == "train_loss"][["id", "epoch", "name", "value"]]
    pd.testing.assert_frame_equal(bare.reset_index(drop=True), expected.reset_index(drop=True))


def test_provenance_is_each_distinct_one_with_its_run_count(store):
    assert results.load_provenance(store) == [(PROVENANCE, 3), ({**PROVENANCE, "host": "b"}, 1)]
    assert results.suites(store) == ["s"]
