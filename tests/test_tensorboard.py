"""``seqbench report --tensorboard DIR``: event files that TensorBoard itself reads back,
holding exactly the store's per-epoch curves."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from report_stores import pooled_sgd_installed, run_suite
from seqbench import results
from seqbench.cli import main
from seqbench.report.tensorboard import crc32c, event, read_records, record

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

SUITE = """
[suite]
name = "tb"
seeds = [0, 1]
[run]
epochs = 2
train_size = 64
eval_size = 32
batch_size = 16
device = "cpu"
eval_lengths = [5, 8]
[task]
name = "adding"
seq_len = 5
[[model]]
name = "numpy:pooled-sgd"
[[model]]
name = "oracle"
"""


@pytest.fixture
def store(tmp_path):
    with pooled_sgd_installed(tmp_path / "site"):
        yield run_suite(tmp_path, SUITE, tmp_path / "tb.sqlite")


def test_crc32c_is_castagnolis_and_a_damaged_record_is_refused():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    data = bytearray(record(event(1.0, 3, {"loss": 0.5})))
    assert list(read_records(bytes(data))) == [event(1.0, 3, {"loss": 0.5})]
    data[20] ^= 1
    with pytest.raises(ValueError, match="corrupt"):
        list(read_records(bytes(data)))


def test_tensorboard_reads_back_every_runs_curves(store, tmp_path):
    directory = tmp_path / "tb"
    result = CliRunner().invoke(main, ["report", "--store", str(store), "--tensorboard", str(directory)])
    assert result.exit_code == 0, result.output
    assert f"tensorboard: 4 runs' curves in {directory}" in result.output

    runs = results.load(store)
    curves = results.load_curves(store)
    lengths = results.load_length_metrics(store)
    for run in runs.itertuples():
        folder = directory / "tb" / run.model.replace(":", "_") / f"seed={run.seed}"
        accumulator = event_accumulator.EventAccumulator(str(folder))
        accumulator.Reload()
        tags = set(accumulator.Tags()["scalars"])
        own = curves[curves["id"] == run.id]
        for name, tag in (("train_loss", "loss/train"), ("val_mse", "mse/validation")):
            expected = own[own["name"] == name].sort_values("epoch")
            if expected.empty:
                assert tag not in tags  # the oracle does not train
                continue
            scalars = accumulator.Scalars(tag)
            assert [s.step for s in scalars] == expected["epoch"].tolist()
            assert [s.value for s in scalars] == pytest.approx(expected["value"].tolist(), rel=1e-6)
        (test,) = accumulator.Scalars("mse/test")
        assert test.value == pytest.approx(run.primary_value, rel=1e-6, abs=1e-30)
        at_length = accumulator.Scalars("mse/test_by_eval_length")
        expected = lengths[(lengths["id"] == run.id) & (lengths["name"] == "mse")]
        assert [s.step for s in at_length] == expected["length"].tolist() == [5, 8]


def test_exporting_again_replaces_the_files_instead_of_doubling_the_curves(store, tmp_path):
    directory = tmp_path / "tb"
    for _ in range(2):
        result = CliRunner().invoke(main, ["report", "--store", str(store), "--tensorboard", str(directory)])
        assert result.exit_code == 0, result.output
    files = list(directory.rglob("events.out.tfevents.*"))
    assert len(files) == 4
    folder = files[0].parent
    accumulator = event_accumulator.EventAccumulator(str(folder))
    accumulator.Reload()
    assert len(accumulator.Scalars("mse/test")) == 1
