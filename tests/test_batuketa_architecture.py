"""torch:batuketa-attention is Batuketa's network (gbordyugov/batuketa, batuketa/models.py,
``attention_model``), and torch:attention is unchanged beside it.

The original: d_model = 2 (the number and its marker), no embedding, one head whose Q, K
and V are each Dense(2), scores q k^T / sqrt(2) minus 1e9 above the diagonal (the
history mask), softmax, then ``tf.reshape(att_output, (-1, d_model * seq_len))`` into
Dense(1): 3 x 6 + 201 = 219 weights at T = 100. The expected figures here are derived
from that description, not from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seqbench import registry  # noqa: E402
from seqbench.params import param_specs  # noqa: E402
from seqbench.suite import load_suite  # noqa: E402
from seqbench_tasks import Adding  # noqa: E402
from torch_training import settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def network(model_name: str, seq_len: int, **params):
    model = registry.models().get(model_name)(**params)
    model.build(Adding(seq_len=seq_len), settings())
    return model, model._trainer.network


def weights(net) -> int:
    return sum(p.numel() for p in net.parameters())


def test_the_original_network_has_the_originals_219_weights_at_t_100():
    _, net = network("torch:batuketa-attention", 100)
    qkv = 3 * (2 * 2 + 2)  # Dense(2) on 2 features, three times
    read_out = 2 * 100 + 1  # Dense(1) on the 2T flattened outputs
    assert weights(net) == qkv + read_out == 219
    # The read-out is sized by T: 2T + 19.
    assert weights(network("torch:batuketa-attention", 400)[1]) == 2 * 400 + 19


def test_the_original_network_starts_as_keras_dense_layers_do():
    _, net = network("torch:batuketa-attention", 100)
    for layer, fan_in, fan_out in ((net.query, 2, 2), (net.key, 2, 2), (net.value, 2, 2), (net.sum, 200, 1)):
        assert torch.count_nonzero(layer.bias) == 0  # Keras: zero biases
        limit = (6 / (fan_in + fan_out)) ** 0.5  # Keras: Glorot uniform
        assert layer.weight.abs().max() <= limit


def test_the_original_network_computes_the_originals_formula():
    # The original's graph, written out with the network's own weights.
    _, net = network("torch:batuketa-attention", 7)
    x = torch.from_numpy(Adding(seq_len=7).generate(5, np.random.default_rng(3)).inputs)
    q, k, v = net.query(x), net.key(x), net.value(x)
    history = 1.0 - torch.tril(torch.ones(7, 7))  # 1 where j > i
    scores = q @ k.transpose(1, 2) / 2**0.5 - 1.0e9 * history
    outputs = torch.softmax(scores, dim=-1) @ v  # (N, T, 2)
    expected = outputs.reshape(-1, 2 * 7) @ net.sum.weight.T + net.sum.bias

    with torch.no_grad():
        assert torch.allclose(net(x), expected.squeeze(-1).detach(), atol=1e-6)


def perturbing_the_first_output(monkeypatch):
    """Every attention output at position 0 (the earliest, which sees only itself) moved."""
    import torch.nn.functional as F

    attend = F.scaled_dot_product_attention

    def moved(*args, **kwargs):
        out = attend(*args, **kwargs).clone()
        out[:, 0] += 1.0
        return out

    monkeypatch.setattr(F, "scaled_dot_product_attention", moved)


@pytest.mark.parametrize(
    "model_name, seen", [("torch:batuketa-attention", True), ("torch:attention", False)]
)
def test_only_the_original_reads_out_every_position(monkeypatch, model_name, seen):
    # The original's Dense(1) reads all 2T outputs; torch:attention's head reads the
    # last position's alone, so moving position 0's output leaves its answer alone.
    _, net = network(model_name, 20)
    x = torch.from_numpy(Adding(seq_len=20).generate(4, np.random.default_rng(0)).inputs)
    with torch.no_grad():
        before = net(x)
        perturbing_the_first_output(monkeypatch)
        after = net(x)
    assert bool((before != after).all()) is seen


def test_the_original_network_refuses_another_length_clearly():
    model, _ = network("torch:batuketa-attention", 10)
    inputs = Adding(seq_len=12).generate(2, np.random.default_rng(0)).inputs
    with pytest.raises(ValueError, match="sized for T = 10; it cannot read sequences of length 12"):
        model.predict(inputs)


def test_a_suite_testing_the_original_network_at_other_lengths_is_refused_up_front(write_suite, store_path):
    from click.testing import CliRunner

    from seqbench.cli import main

    suite = write_suite(
        "[task]\nname = 'adding'\nseq_len = 10\n[run]\neval_lengths = [10, 20]\n"
        "[[model]]\nname = 'torch:batuketa-attention'\n"
    )
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path), "--dry-run"])
    assert result.exit_code == 2
    assert "sized for the training length 10; it cannot be tested at [20]" in result.output


def test_the_original_network_trains_on_adding():
    from torch_training import train

    _, losses = train("torch:batuketa-attention", Adding(seq_len=10), epochs=6, train_size=1024, lr=0.01)
    assert losses[-1] < 0.6 * losses[0]


def test_torch_attention_keeps_its_defaults_size_and_stored_points():
    # Unchanged by the original's network arriving beside it: the same parameters, the
    # same 16,897 weights at T = 100, and the CPU reproduction's T = 100 point keeps
    # the hash it has in docs/examples/reproductions/adding_attention_cpu.sqlite.
    declared = {s.name: s.default for s in param_specs(registry.models().get("torch:attention"))}
    assert declared == {
        "lr": 1e-3, "optimizer": "adam", "weight_decay": 0.0, "clip": 1.0, "precision": "fp32",
        "compile": False, "d_model": 64, "hidden": 64,
    }
    assert weights(network("torch:attention", 100)[1]) == 16_897
    points = {
        (p.model, p.task_params["seq_len"]): p
        for p in load_suite(REPO / "suites/reproductions/cpu/adding_attention.toml").points
    }
    assert points["torch:attention", 100].hash == "dac701af781a190b"
    assert points["torch:oracle", 100].hash == "492a6877bfbb6e31"


@pytest.mark.parametrize("suite", ["adding_attention.toml", "cpu/adding_attention.toml"])
def test_the_reproductions_train_the_original_network_as_the_original_did(suite):
    points = load_suite(REPO / "suites/reproductions" / suite).points
    models = {p.model: p.model_params for p in points}
    assert list(models) == ["torch:batuketa-attention", "torch:attention", "torch:oracle"]
    # Adam at 0.01 with no clipping (Keras's Adam clips nothing unless told to).
    original = models["torch:batuketa-attention"]
    assert (original["lr"], original["clip"], original["optimizer"]) == (0.01, 0.0, "adam")
    assert {(p.run.batch_size, p.run.epochs) for p in points} == {(100, 10)}
