"""The causal token architectures (S4D, selective SSM, linear attention, Hyena, causal
softmax attention): their fast forms equal the textbook forms, no output sees a later
input, and each learns a small task through the shared loop. Tiny sizes on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seqbench import registry  # noqa: E402
from seqbench.testing.build import tiny_task  # noqa: E402
from torch_training import settings, train  # noqa: E402

CAUSAL = [
    "torch:s4d", "torch:mamba", "torch:linear-attention", "torch:hyena", "torch:causal-transformer", "torch:rwkv",
    "torch:retnet",
]


def test_the_chunked_selective_scan_equals_the_one_step_recurrence():
    from seqbench_torch.networks.selective import selective_scan, sequential_scan

    gen = torch.Generator().manual_seed(0)
    batch, length, channels, state = 3, 11, 5, 4
    x = torch.randn(batch, length, channels, generator=gen)
    dt = torch.rand(batch, length, channels, generator=gen) * 0.5
    A = -torch.rand(channels, state, generator=gen) * 4
    B, C = torch.randn(batch, length, state, generator=gen), torch.randn(batch, length, state, generator=gen)
    reference = sequential_scan(x, dt, A, B, C)
    for chunk in (1, 4, 16):
        torch.testing.assert_close(selective_scan(x, dt, A, B, C, chunk), reference, rtol=1e-4, atol=1e-5)


def test_the_fft_convolution_is_the_causal_convolution():
    from seqbench_torch.networks.s4d import fft_causal_conv

    gen = torch.Generator().manual_seed(1)
    u, kernel = torch.randn(2, 3, 9, generator=gen), torch.randn(3, 9, generator=gen)
    direct = torch.stack(
        [(kernel[:, : t + 1].flip(-1) * u[..., : t + 1]).sum(-1) for t in range(9)], dim=-1
    )
    torch.testing.assert_close(fft_causal_conv(u, kernel), direct, rtol=1e-4, atol=1e-5)


def test_linear_attention_equals_its_masked_quadratic_form():
    from seqbench_torch.networks.linear_attention import CausalLinearAttention

    torch.manual_seed(2)
    layer = CausalLinearAttention(d_model=8, heads=2)
    x = torch.randn(2, 7, 8)
    q, k, v = layer.qkv(x).view(2, 7, 3, 2, 4).unbind(dim=2)
    q, k = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
    scores = torch.einsum("bthd,bshd->bhts", q, k).tril()  # phi(q_t) . phi(k_s), s <= t
    weights = scores / (scores.sum(-1, keepdim=True) + layer.eps)
    quadratic = torch.einsum("bhts,bshe->bthe", weights, v).reshape(2, 7, 8)
    torch.testing.assert_close(layer(x), layer.out(quadratic), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model_name", CAUSAL)
def test_no_output_depends_on_a_later_input(model_name):
    task = tiny_task("reverse", length=6)
    model = registry.models().get(model_name)(d_model=8, layers=2, readout="last")
    model.build(task, settings())
    network = model._trainer.network.eval()
    inputs = torch.from_numpy(task.generate(4, np.random.default_rng(0)).inputs).long()
    changed = inputs.clone()
    changed[:, 3:] = changed[:, 3:] % 9 + 1  # every position from 3 on differs
    with torch.no_grad():
        before, after = network(inputs), network(changed)
    torch.testing.assert_close(before[:, :3], after[:, :3])
    assert not torch.allclose(before[:, 3:], after[:, 3:])


@pytest.mark.parametrize("model_name", CAUSAL)
def test_each_architecture_learns_to_copy_through_the_shared_loop(model_name):
    # "subsequence"-like copying at the end slots: the answer is the input, after it.
    task = tiny_task("reverse", length=4)
    model, losses = train(model_name, task, epochs=4, train_size=256, batch_size=32, d_model=16, layers=1, lr=1e-2)
    assert all(np.isfinite(losses)) and losses[-1] < 0.85 * losses[0]
    longer = tiny_task("reverse", length=7)
    predictions = model.predict(longer.generate(8, np.random.default_rng(1)).inputs)
    assert predictions.shape == (8, 4)  # its own answer width; the task's score fits it
    assert np.isfinite(longer.score(predictions, longer.solve(longer.generate(8, np.random.default_rng(1)).inputs))["token_accuracy"])


def test_the_last_readout_answers_at_each_rows_own_last_positions():
    from seqbench.task import Signature
    from seqbench_torch.networks.causal import causal_transformer_network

    signature = Signature("tokens", "tokens", input_length=6, input_vocab=10, target_length=2, target_vocab=10)
    torch.manual_seed(0)
    network = causal_transformer_network(signature, None, d_model=8, layers=1, heads=2, mlp_expand=2, readout="last").eval()
    row = torch.tensor([[3, 1, 4, 1, 5, 9]])
    shorter = torch.tensor([[1, 4, 1, 5, 0, 0]])  # its answers are due at positions 2 and 3
    with torch.no_grad():
        full = network.head(network.norm(_hidden(network, row)))  # every position
        torch.testing.assert_close(network(row), full[:, 4:6])
        short = network.head(network.norm(_hidden(network, shorter)))
        torch.testing.assert_close(network(shorter), short[:, 2:4])


def _hidden(network, tokens):
    x = network.embedding(tokens)
    from seqbench_torch.networks.causal import sinusoidal_positions

    x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)
    for block in network.blocks:
        x = block(x)
    return x


def test_the_last_readout_refuses_answers_longer_than_the_input():
    from seqbench.task import Signature
    from seqbench_torch.networks.s4d import s4d_network

    signature = Signature("tokens", "tokens", input_length=3, input_vocab=10, target_length=5, target_vocab=10)
    with pytest.raises(ValueError, match="readout 'last' reads the answer at the input's last positions"):
        s4d_network(signature, None, d_model=8, layers=1, state=4, mlp_expand=2, readout="last")


def test_models_without_a_tensorflow_twin_say_so():
    from seqbench.listing import describe_model

    models = registry.models()
    assert "no tensorflow twin" in describe_model(models.get("torch:mamba"), "seqbench-torch")
    if "tf:lstm" in models:
        assert "twins: tf:lstm" in describe_model(models.get("torch:lstm"), "seqbench-torch")
