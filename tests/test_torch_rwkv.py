"""torch:rwkv, RWKV-4's blocks: the chunked WKV is the recurrence of the paper, computed
stably where its exponentials overflow float32, with exact gradients; no output reads a
later input across chunk boundaries; the model learns induction heads. Tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seqbench import registry  # noqa: E402
from seqbench.testing.build import tiny_model, tiny_task  # noqa: E402
from seqbench_torch.networks.rwkv import sequential_wkv, wkv_chunked  # noqa: E402
from torch_training import settings, train  # noqa: E402


def naive_wkv(log_decay, bonus, k, v, dtype=torch.float64):
    """The paper's formula as written, every weight e^{-(t-1-s) w + k_s} and e^{u + k_t}
    exponentiated directly in ``dtype``."""
    k, v, log_decay, bonus = (tensor.to(dtype) for tensor in (k, v, log_decay, bonus))
    outputs = []
    for t in range(k.shape[1]):
        earlier = torch.arange(t, dtype=dtype)
        weights = torch.exp((t - 1 - earlier)[None, :, None] * log_decay + k[:, :t])
        current = torch.exp(bonus + k[:, t])
        outputs.append(((weights * v[:, :t]).sum(1) + current * v[:, t]) / (weights.sum(1) + current))
    return torch.stack(outputs, dim=1)


def wkv_inputs(seed: int, batch: int = 3, length: int = 37, channels: int = 5, key_scale: float = 3.0):
    gen = torch.Generator().manual_seed(seed)
    k = torch.randn(batch, length, channels, generator=gen) * key_scale
    v = torch.randn(batch, length, channels, generator=gen)
    log_decay = -torch.exp(torch.randn(channels, generator=gen))  # -w, w = exp(time_decay) > 0
    bonus = torch.randn(channels, generator=gen)
    return log_decay, bonus, k, v


@pytest.mark.parametrize("chunk", [1, 3, 16, 64])
def test_the_chunked_wkv_equals_the_papers_formula_in_float64(chunk):
    log_decay, bonus, k, v = wkv_inputs(0)
    reference = naive_wkv(log_decay, bonus, k, v)

    torch.testing.assert_close(wkv_chunked(log_decay, bonus, k, v, chunk).double(), reference, rtol=1e-5, atol=1e-5)


def test_the_kernels_sequential_loop_equals_the_papers_formula():
    log_decay, bonus, k, v = wkv_inputs(1)

    torch.testing.assert_close(sequential_wkv(log_decay, bonus, k, v).double(), naive_wkv(log_decay, bonus, k, v),
                               rtol=1e-5, atol=1e-5)


def test_the_wkv_stays_exact_where_its_exponentials_overflow_float32():
    log_decay, bonus, k, v = wkv_inputs(2)
    k = k + 100  # e^100 is past float32's largest (about e^88.7)
    assert not torch.isfinite(naive_wkv(log_decay, bonus, k, v, dtype=torch.float32)).all()

    reference = naive_wkv(log_decay, bonus, k, v)
    for chunk in (1, 8):
        torch.testing.assert_close(wkv_chunked(log_decay, bonus, k, v, chunk).double(), reference,
                                   rtol=1e-5, atol=1e-5)


def test_a_decay_past_float32_keeps_only_the_last_step_as_the_kernels_loop_does():
    # exp(time_decay) overflows once time_decay passes 88.7: w = inf, log_decay = -inf,
    # and the chunked form's 0 * -inf (a gap of 0 steps) had made every output NaN.
    _, bonus, k, v = wkv_inputs(3)
    log_decay = -torch.exp(torch.full((k.shape[2],), 89.0))
    assert torch.isinf(log_decay).all()

    expected = sequential_wkv(log_decay, bonus, k, v)
    for chunk in (1, 3, 16):
        torch.testing.assert_close(wkv_chunked(log_decay, bonus, k, v, chunk), expected)
    # w = inf keeps only what decays 0 steps: the previous position and this one.
    previous, current = torch.exp(k[:, :-1].double()), torch.exp(bonus.double() + k[:, 1:].double())
    two_terms = (previous * v[:, :-1] + current * v[:, 1:]) / (previous + current)
    torch.testing.assert_close(expected[:, 1:].double(), two_terms, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(expected[:, 0], v[:, 0])


def test_a_decay_past_float32_trains_on_with_finite_gradients():
    # The chunked WKV's floor made the forward finite, but exp(time_decay) = inf still
    # gave the decay a NaN gradient (0 * inf), and one optimiser step NaN weights.
    from seqbench_torch.networks.rwkv import TimeMixing

    torch.manual_seed(0)
    mixing = TimeMixing(d_model=4, layer=0, layers=1, chunk=3)
    for parameter in (mixing.key.weight, mixing.receptance.weight, mixing.output.weight):
        torch.nn.init.normal_(parameter)  # RWKV-4 starts these at zero: no gradient reaches the decay
    with torch.no_grad():
        mixing.time_decay.fill_(100.0)
    mixing(torch.randn(2, 7, 4)).square().sum().backward()
    assert all(torch.isfinite(parameter.grad).all() for parameter in mixing.parameters())


def test_the_wkv_gradients_are_exact_across_chunks():
    """The detached shifts (each row's largest exponent, the carried state's) change no
    gradient: checked against finite differences in float64."""
    log_decay, bonus, k, v = (t.double().requires_grad_() for t in wkv_inputs(3, batch=2, length=9, channels=2))

    assert torch.autograd.gradcheck(lambda *args: wkv_chunked(*args, chunk=4), (log_decay, bonus, k, v))


def _network(chunk: int, length: int = 9):
    task = tiny_task("reverse", length=length)  # one answer per input position with readout "last"
    model = registry.models().get("torch:rwkv")(d_model=8, layers=2, mlp_expand=2, chunk=chunk, readout="last")
    model.build(task, settings())
    network = model._trainer.network.eval()
    torch.manual_seed(0)
    for parameter in network.parameters():  # RWKV-4 starts its output projections at zero
        parameter.data.add_(0.1 * torch.randn_like(parameter))
    inputs = torch.from_numpy(task.generate(4, np.random.default_rng(0)).inputs).long()
    return network, inputs


def test_no_output_reads_a_later_input_across_chunk_boundaries():
    network, inputs = _network(chunk=2)
    changed = inputs.clone()
    changed[:, 5:] = changed[:, 5:] % 9 + 1

    with torch.no_grad():
        before, after = network(inputs), network(changed)

    torch.testing.assert_close(before[:, :5], after[:, :5])
    assert not torch.allclose(before[:, 5:], after[:, 5:])


def test_the_network_gives_the_same_outputs_at_any_chunk():
    network, inputs = _network(chunk=16)
    with torch.no_grad():
        whole = network(inputs)
        for block in network.blocks:
            block.time_mixing.chunk = 2
        chunked = network(inputs)

    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)


def test_rwkv_learns_induction_heads_through_the_shared_loop():
    task = tiny_task("induction-heads")  # length 16, 15 data tokens: chance is 1/15
    model, losses = train("torch:rwkv", task, epochs=6, train_size=512, batch_size=32, d_model=16, layers=2,
                          mlp_expand=2, chunk=4, readout="last", lr=1e-2)
    test = task.generate(256, np.random.default_rng(5), "test")

    accuracy = task.score(model.predict(test.inputs), task.solve(test.inputs))["accuracy"]

    assert all(np.isfinite(losses)) and accuracy > 0.5


@pytest.mark.parametrize("params, message", [
    ({"chunk": 0}, "chunk"),
    ({"mlp_expand": -1}, "mlp_expand"),
    ({"readout": "middle"}, "readout"),
])
def test_bad_parameters_are_refused_naming_the_parameter(params, message):
    with pytest.raises(ValueError, match=message):
        tiny_model("torch:rwkv", **params)
