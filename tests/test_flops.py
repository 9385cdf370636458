"""Model FLOPs: per-example counts for every torch architecture (hand counts for the
LSTM and the attention model), FLOP/s per phase, utilisation against the peak table,
and the report's figure."""

from __future__ import annotations

import pytest

from seqbench import FitSettings, registry
from seqbench.data import Split
from seqbench.flops import TERA, peak_for, phase_rates
from seqbench.pipeline import run_point
from seqbench.plots import figures
from seqbench.report.sets import load_set
from seqbench.store import Store
from seqbench.suite import load_suite

torch = pytest.importorskip("torch")

from seqbench_torch.flops import recurrent_forward_flops  # noqa: E402

SETTINGS = FitSettings(epochs=1, batch_size=4, device="cpu", seed=0, patience=None)


def counted(model_name: str, task_name: str, task_params: dict, **params) -> dict:
    task = registry.tasks().get(task_name)(**task_params)
    model = registry.models().get(model_name)(**params)
    model.build(task, SETTINGS)
    split = Split(task, "train", 4, 0)
    split.prepare()
    batch = next(iter(split.batches(4)))
    return model.flops(batch.inputs, batch.targets)


def test_lstm_flops_are_its_four_gates_by_hand():
    # adding: 2 input features, T = 5; hidden 8. Each step, the 4 gates multiply
    # [x; h] (2 + 8) by (4 x 8) weights: 2 x 4 x 8 x 10 = 640 FLOPs, x 5 steps; the head
    # is 2 x 8. Training is the forward and a backward twice its size.
    forward = 5 * 2 * 4 * 8 * (2 + 8) + 2 * 8

    counts = counted("torch:lstm", "adding", {"seq_len": 5}, hidden=8, layers=1)

    assert counts["predict_per_example"] == forward == 3216
    assert counts["train_per_example"] == 3 * forward
    assert counts["method"] == "FlopCounterMode + recurrent hand count"


def test_attention_flops_by_hand():
    # T = 5, 2 features, d_model 8, head hidden 6: embed 2*2*8 per position, q, k, v
    # 3 x 2*8*8 per position, scores and weighted sum 2 x 2*T*T*8, the head on the last
    # position 2*8*6 + 2*6.
    t, f, d, h = 5, 2, 8, 6
    embed, qkv = 2 * f * d * t, 3 * 2 * d * d * t
    forward = embed + qkv + 4 * t * t * d + 2 * d * h + 2 * h

    counts = counted("torch:attention", "adding", {"seq_len": 5}, d_model=d, hidden=h)

    assert counts["predict_per_example"] == forward == 2988
    # The backward pass needs no gradient for the data itself: the embedding's input
    # gradient is the one matmul it skips.
    assert counts["train_per_example"] == 3 * forward - embed


def test_gru_hand_count_per_step_row_and_layer():
    gru = torch.nn.GRU(4, 8, num_layers=2)
    # Layer 1: 3 gates x 8 x (4 + 8); layer 2: 3 gates x 8 x (8 + 8); 2 FLOPs a multiply-add.
    assert recurrent_forward_flops(gru, rows=10) == 10 * 2 * 3 * 8 * ((4 + 8) + (8 + 8))


@pytest.mark.parametrize(
    "model, task, task_params",
    [
        ("torch:gru-seq2seq", "subsequence", {"length": 6, "max_start": 1}),
        ("torch:transformer", "subsequence", {"length": 6, "max_start": 1}),
        ("torch:gp-attention", "gp-pairs", {"length": 6, "context": 2}),
    ],
)
def test_every_other_torch_architecture_counts_its_flops(model, task, task_params):
    smoke = registry.models().get(model).smoke
    counts = counted(model, task, task_params, **smoke)

    assert 0 < counts["predict_per_example"] < counts["train_per_example"]
    if model == "torch:gru-seq2seq":  # its GRUs are counted by hand, the rest by the counter
        assert counts["method"] == "FlopCounterMode + recurrent hand count"


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
    plots = {plot.name: plot for plot in figures([load_set(store_path, "flops", "flops")]).plots}
    assert "flops-vs-seq_len" in plots and "mfu-vs-seq_len" not in plots
    shown = plots["flops-vs-seq_len"].data
    train = shown[shown["phase"] == "train"].set_index("task.seq_len")["mean"]
    assert train.to_dict() == pytest.approx(
        {r.config["task"]["params"]["seq_len"]: r.measurements["flops"]["train"]["flop_per_s"] for r in records}
    )
