"""Model FLOPs: FLOP/s per phase, utilisation against the peak table, and the report's
figure. The per-example counts of every torch architecture are checked against hand
counts in test_flops_by_hand.py."""

from __future__ import annotations

import time

import pytest

from seqbench.flops import TERA, peak_for, phase_rates
from seqbench.pipeline import run_point
from seqbench.plots import figures
from seqbench.report.sets import load_set
from seqbench.store import Store
from seqbench.suite import load_suite

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "name, precision, peak",
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989 * TERA),
        ("NVIDIA H100 PCIe", "bf16", 756 * TERA),
        ("NVIDIA H200", "fp32", 67 * TERA),
        ("NVIDIA A100-SXM4-80GB", "fp32", 19.5 * TERA),
        ("NVIDIA L4", "fp16", 121 * TERA),
        ("NVIDIA L40S", "bf16", 362 * TERA),
        ("Tesla T4", "bf16", None),  # no bf16 on Turing
        ("NVIDIA GeForce RTX 4090", "fp32", None),  # not in the table
        # Names that start like another entry's model number get their own peak or none.
        ("NVIDIA L40", "fp32", 90.5 * TERA),
        ("NVIDIA H200 NVL", "bf16", 835 * TERA),
        ("Tesla V100-PCIE-32GB", "fp32", 14 * TERA),
        ("Tesla V100-SXM2-16GB", "fp16", 125 * TERA),
        ("NVIDIA A10G", "fp32", None),
        ("Tesla V100S-PCIE-32GB", "fp32", None),
        ("NVIDIA H100 NVL", "bf16", 835 * TERA),
        ("NVIDIA A100 80GB PCIe", "bf16", 312 * TERA),
    ],
)
def test_peaks_by_nvml_name_and_precision(name, precision, peak):
    found = peak_for(name, precision)
    assert (found.flop_per_s if found else None) == peak


def test_phase_rates_count_validation_in_training_and_divide_by_the_peak():
    timings = {"train_s": 2.0, "eval_s": 0.5, "epochs": 2, "train_examples": 1000}
    counts = {"train_per_example": 100.0, "predict_per_example": 30.0, "method": "hand"}

    entry = phase_rates(counts, timings, validation_examples=50, test_examples=40,
                        gpu_names=["NVIDIA H100 80GB HBM3"], precision="bf16")

    assert entry["train"]["flops"] == 100 * 1000 + 30 * 50 * 2
    assert entry["train"]["flop_per_s"] == entry["train"]["flops"] / 2.0
    assert entry["eval"]["flop_per_s"] == 30 * 40 / 0.5
    assert entry["train"]["utilisation"] == entry["train"]["flop_per_s"] / (989 * TERA)
    on_cpu = phase_rates(counts, timings, 50, 40, gpu_names=[], precision="fp32")
    assert on_cpu["train"]["utilisation"] is None and on_cpu["peak_flop_per_s"] is None


SUITE = """
[suite]
name = "flops"

[run]
epochs = 1
train_size = 32
eval_size = 16
batch_size = 16
device = "cpu"

[task]
name = "adding"

[sweep]
task.seq_len = [3, 6]

[[model]]
name = "torch:lstm"
hidden = 8
layers = 1
"""


def test_points_record_flop_rates_and_the_report_draws_them(write_suite, tmp_path):
    suite = load_suite(write_suite(SUITE))
    store_path = tmp_path / "flops.sqlite"
    store = Store(store_path)
    records = [run_point(point) for point in suite.points]
    for record in records:
        store.write(record, {})
    store.close()

    for record in records:
        assert record.ok, record.error
        flops = record.measurements["flops"]
        length = record.config["task"]["params"]["seq_len"]
        assert flops["predict_per_example"] == length * 2 * 4 * 8 * (2 + 8) + 2 * 8
        assert flops["train"]["flop_per_s"] > 0 and flops["eval"]["flop_per_s"] > 0
        assert flops["train"]["utilisation"] is None  # no GPU, no peak
        assert 0 < flops["count_s"] < record.timings["total_s"]
    plots = {plot.name: plot for plot in figures([load_set(store_path, "flops", "flops")]).plots}
    assert "flops-vs-seq_len" in plots and "mfu-vs-seq_len" not in plots
    shown = plots["flops-vs-seq_len"].data
    train = shown[shown["phase"] == "train"].set_index("task.seq_len")["mean"]
    assert train.to_dict() == pytest.approx(
        {r.config["task"]["params"]["seq_len"]: r.measurements["flops"]["train"]["flop_per_s"] for r in records}
    )


class _BatchSeen:
    """A model stand-in whose count is the batch it was handed."""

    precision = "fp32"

    def flops(self, inputs, targets):
        return {"train_per_example": float(len(inputs)), "predict_per_example": 1.0, "method": "test"}


def test_flops_are_counted_on_a_batch_of_the_runs_batch_size_up_to_64():
    """Per-batch products (S4D's kernel, Hyena's filter) and a token batch's padding are
    shared as in training only when the counting batch is a training batch (up to 64:
    a whole large batch's count costs seconds)."""
    from seqbench import registry
    from seqbench.data import Split
    from seqbench.devices import count_flops

    split = Split(registry.tasks().get("adding")(seq_len=3), "train", 100, 0)
    timings = {"train_s": 1.0, "eval_s": 1.0, "epochs": 1, "train_examples": 100}
    for batch_size, expected in [(16, 16), (40, 40), (64, 64), (500, 64)]:
        entry = count_flops(_BatchSeen(), split, batch_size, validation_examples=0, test_examples=0,
                            timings=timings, measurements={})
        assert entry["train_per_example"] == expected


class _SlowCount(_BatchSeen):
    def flops(self, inputs, targets):
        time.sleep(0.2)
        return super().flops(inputs, targets)


def test_the_seconds_a_count_took_are_kept_beside_it():
    """A count outside every phase still costs the point its time (total_s): an LSTM's
    at T = 1500 took longer than its smoke run's training."""
    from seqbench import registry
    from seqbench.data import Split
    from seqbench.devices import count_flops

    split = Split(registry.tasks().get("adding")(seq_len=3), "train", 10, 0)
    timings = {"train_s": 1.0, "eval_s": 1.0, "epochs": 1, "train_examples": 10}
    entry = count_flops(_SlowCount(), split, 10, validation_examples=0, test_examples=0,
                        timings=timings, measurements={})
    assert entry["count_s"] >= 0.2
