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
        # A share of a GPU has a share of its peak: none rather than the whole board's.
        ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "fp32", None),
        ("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "bf16", None),
        ("NVIDIA L40-48Q", "fp32", None),
        ("GRID A100-40C", "bf16", None),
        # V100s at other clocks than the SXM2's and PCIe's data sheets.
        ("Tesla V100-FHHL-16GB", "fp32", None),
        ("Tesla V100-SXM3-32GB", "fp16", None),
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


def test_validation_and_test_predictions_are_priced_by_their_own_batches_counts():
    """Training may draw shorter sequences (parity's min_length) than validation and
    test: each split's predictions cost what a prediction on its own batch costs."""
    timings = {"train_s": 2.0, "eval_s": 0.5, "epochs": 2, "train_examples": 1000}
    counts = {"train_per_example": 100.0, "predict_per_example": 30.0, "validation_predict_per_example": 45.0,
              "test_predict_per_example": 50.0, "method": "hand"}

    entry = phase_rates(counts, timings, validation_examples=50, test_examples=40, gpu_names=[], precision="fp32")

    assert entry["train"]["flops"] == 100 * 1000 + 45 * 50 * 2
    assert entry["eval"]["flops"] == 50 * 40
    assert (entry["predict_per_example"], entry["test_predict_per_example"]) == (30.0, 50.0)


def test_a_prediction_counting_no_products_is_unknown_not_a_measured_zero():
    """torch:oracle on adding does only elementwise work: no FLOP/s to plot at 0."""
    timings = {"train_s": 0.1, "eval_s": 0.5, "epochs": 0, "train_examples": 0}
    counts = {"train_per_example": 0.0, "predict_per_example": 0.0, "method": "hand"}

    entry = phase_rates(counts, timings, 50, 40, gpu_names=["NVIDIA H100 80GB HBM3"], precision="fp32")

    assert entry["predict_per_example"] is None
    assert entry["eval"] == {"flops": None, "flop_per_s": None, "utilisation": None}
    assert entry["train"]["flop_per_s"] is None and entry["train"]["utilisation"] is None


def test_an_fp32_count_run_in_tf32_gets_no_fp32_peak_and_says_how_it_ran():
    """The table's fp32 peaks are the CUDA-core (IEEE) figures: a count that says its
    fp32 products ran in TF32 would divide by a peak 7-8x below the one it ran at."""
    timings = {"train_s": 2.0, "eval_s": 0.5, "epochs": 1, "train_examples": 1000}
    gpu = ["NVIDIA A100-SXM4-80GB"]
    for math, peak in [("ieee", 19.5 * TERA), ("tf32 (cudnn conv, cudnn rnn)", None)]:
        counts = {"train_per_example": 100.0, "predict_per_example": 30.0, "fp32_math": math}

        entry = phase_rates(counts, timings, 50, 40, gpu_names=gpu, precision="fp32")

        assert (entry["peak_flop_per_s"], entry["fp32_math"]) == (peak, math)
    bf16 = phase_rates({**counts, "predict_per_example": 30.0}, timings, 50, 40, gpu_names=gpu, precision="bf16")
    assert bf16["peak_flop_per_s"] == 312 * TERA  # fp32's math does not decide a bf16 peak


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
        entry = count_flops(_BatchSeen(), split, batch_size, validation=None, test=None,
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
    entry = count_flops(_SlowCount(), split, 10, validation=None, test=None,
                        timings=timings, measurements={})
    assert entry["count_s"] >= 0.2


PARITY = """
[suite]
name = "flops-lengths"

[run]
epochs = 1
train_size = 8
eval_size = 8
batch_size = 4
device = "cpu"

[task]
name = "parity"
length = 32
min_length = 2

[[model]]
name = "torch:lstm"
hidden = 8
layers = 1
"""


def test_validation_and_test_predictions_are_counted_on_their_own_first_batches(write_suite):
    """parity at length 32 with min_length 2 trains on shorter rows than it validates
    and tests on (33 positions, the last the answer slot). The LSTM's prediction costs
    2 x 4H x (H + H) per position read, plus the head: the first training batch is
    trimmed to 31 positions, the validation and test batches are all 33."""
    (point,) = load_suite(write_suite(PARITY)).points

    record = run_point(point)

    assert record.ok, record.error
    flops = record.measurements["flops"]
    per_position, head = 2 * 4 * 8 * (8 + 8), 2 * 8 * 3
    assert flops["predict_per_example"] == 31 * per_position + head
    assert flops["validation_predict_per_example"] == flops["test_predict_per_example"] == 33 * per_position + head
    assert flops["eval"]["flops"] == 8 * (33 * per_position + head)
    epochs = record.timings["epochs"]
    assert flops["train"]["flops"] == (flops["train_per_example"] * record.timings["train_examples"]
                                       + 8 * epochs * (33 * per_position + head))


def test_the_utilisation_figure_names_the_peak_it_divides_by(write_suite, tmp_path):
    """A figure of utilisation says against what: the GPU, the precision (fp32 as IEEE)
    and the data sheet's dense peak; and which models' counts are lower bounds."""
    suite = load_suite(write_suite(SUITE))
    store_path = tmp_path / "mfu.sqlite"
    store = Store(store_path)
    for point in suite.points:
        record = run_point(point)
        counted = record.measurements["flops"]
        counts = {**counted, "method": counted["count_method"]}
        # As the record of a point metered on an H100 would hold it.
        record.measurements["flops"] = phase_rates(
            counts, {**record.timings}, 16, 16, gpu_names=["NVIDIA H100 80GB HBM3"], precision="fp32")
        store.write(record, {})
    store.close()

    plots = {plot.name: plot for plot in figures([load_set(store_path, "flops", "flops")]).plots}

    assert plots["mfu-vs-seq_len"].caption.startswith(
        "Utilisation divides by NVIDIA H100 80GB HBM3, fp32 (IEEE, TF32 off): 67 TFLOP/s dense (H100 SXM data sheet).")
    assert "causal attention's T x T scores are counted whole" in plots["flops-vs-seq_len"].caption
    assert "Lower bounds" not in plots["flops-vs-seq_len"].caption  # an LSTM's count leaves out no product


def test_a_figure_names_the_models_whose_counts_are_lower_bounds(tmp_path):
    import pandas as pd

    from seqbench.plots.flops import caption
    from seqbench.report.sets import ResultSet

    runs = pd.DataFrame({"model": ["torch:s4d", "torch:lstm", "torch:mamba"],
                         "meter.flops.lower_bound": [1, 0, 1]})  # JSON true/false as the store loads them
    result_set = ResultSet("a", tmp_path / "a.sqlite", "a", runs, pd.DataFrame(), pd.DataFrame(), [])

    assert "Lower bounds for torch:mamba, torch:s4d:" in caption([result_set], "flops")
