"""What a FLOP count says about itself: the fp32 math an fp32 point runs (IEEE on CUDA,
so the table's CUDA-core peak is the one it ran against), and whether a count is a
lower bound of the model's products and what it leaves out."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from seqbench import FitSettings, registry  # noqa: E402
from seqbench.data import Split  # noqa: E402
from seqbench_torch.loop import fp32_math, use_ieee_fp32  # noqa: E402

CUDA = torch.device("cuda:0")  # a device object only: nothing here touches a GPU


def counted(model_name: str, task_name: str, task_params: dict, **params) -> dict:
    """The model's count on its training split's first batch of 4."""
    task = registry.tasks().get(task_name)(**task_params)
    model = registry.models().get(model_name)(**params)
    model.build(task, FitSettings(epochs=1, batch_size=4, device="cpu", seed=0, patience=None))
    batch = next(iter(Split(task, "train", 4, 0).batches(4)))
    return model.flops(batch.inputs, batch.targets)


@pytest.fixture
def torch_defaults():
    """torch's own defaults for fp32 math on CUDA (cuDNN convolutions and RNNs in
    TF32, matmuls IEEE), put back afterwards as they were."""
    backends = torch.backends
    flags = (backends.cudnn.conv, backends.cudnn.rnn, backends.cuda.matmul)
    saved = (backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32, [f.fp32_precision for f in flags])
    backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32 = True, False
    backends.cudnn.conv.fp32_precision = backends.cudnn.rnn.fp32_precision = "tf32"
    yield
    backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32 = saved[0], saved[1]
    for flag, value in zip(flags, saved[2]):
        flag.fp32_precision = value


def test_torch_runs_cudnn_in_tf32_at_fp32_by_default(torch_defaults):
    assert fp32_math(CUDA) == "tf32 (cudnn conv, cudnn rnn)"


def test_an_fp32_point_on_cuda_runs_cudnn_and_matmuls_in_ieee(torch_defaults):
    use_ieee_fp32(CUDA, "fp32")

    backends = torch.backends
    assert (backends.cudnn.conv.fp32_precision, backends.cudnn.rnn.fp32_precision,
            backends.cuda.matmul.fp32_precision) == ("ieee", "ieee", "ieee")
    assert fp32_math(CUDA) == "ieee"
    # torch's readers of the legacy switches (cudnn.flags(), inductor's convolution
    # templates) still work: they raise when the two APIs disagree.
    assert backends.cudnn.allow_tf32 is False and backends.cuda.matmul.allow_tf32 is False
    with torch.backends.cudnn.flags(enabled=False):
        pass


@pytest.mark.parametrize("device, precision", [(CUDA, "bf16"), (CUDA, "fp16"), (torch.device("cpu"), "fp32")])
def test_other_precisions_and_the_cpu_leave_torchs_flags_alone(torch_defaults, device, precision):
    use_ieee_fp32(device, precision)

    assert fp32_math(CUDA) == "tf32 (cudnn conv, cudnn rnn)"


def test_a_count_records_the_fp32_math_it_ran():
    counts = counted("torch:lstm", "adding", {"seq_len": 3}, hidden=4, layers=1)

    assert counts["fp32_math"] == "ieee"  # oneDNN's fp32 on the CPU


STACK = {"d_model": 8, "layers": 1}


@pytest.mark.parametrize(
    "model, params, omitted",
    [
        ("torch:s4d", {**STACK, "state": 4}, "S4D's FFT convolution"),
        ("torch:hyena", {**STACK, "filter_width": 4, "bands": 1}, "Hyena's FFT long convolution"),
        ("torch:mamba", {**STACK, "state": 4, "chunk": 4}, "the selective scan's state updates"),
        ("torch:linear-attention", {**STACK, "heads": 2}, "linear attention's state outer products"),
    ],
)
def test_a_count_leaving_out_model_products_is_marked_a_lower_bound(model, params, omitted):
    counts = counted(model, "reverse", {"length": 4}, **params)

    assert counts["lower_bound"] is True
    assert omitted in counts["omitted"] and "elementwise work" in counts["omitted"]


@pytest.mark.parametrize("model, task, task_params, params", [
    ("torch:causal-transformer", "reverse", {"length": 4}, {**STACK, "heads": 2}),
    ("torch:lstm", "adding", {"seq_len": 3}, {"hidden": 4, "layers": 1}),
])
def test_a_count_leaving_out_only_elementwise_work_is_not_a_lower_bound(model, task, task_params, params):
    """Elementwise work is outside model FLOPs by definition (PaLM's): said, not a gap."""
    counts = counted(model, task, task_params, **params)

    assert counts["lower_bound"] is False
    assert counts["omitted"].startswith("elementwise work")
