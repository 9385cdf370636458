"""torch:retnet, multi-scale retention: the parallel form of training equals the
recurrent form of inference, the decays and rotations are the paper's, the score
normalisations change nothing the GroupNorm passes on, and the model learns induction
heads. Tiny sizes on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seqbench.testing.build import tiny_model, tiny_task  # noqa: E402
from seqbench_torch.networks import retnet  # noqa: E402
from seqbench_torch.networks.retnet import (  # noqa: E402
    MultiScaleRetention,
    decay_mask,
    head_log_decays,
    parallel_retention,
    recurrent_retention,
    rotate_pairs,
)
from torch_training import train  # noqa: E402


def test_parallel_retention_equals_the_recurrent_form():
    gen = torch.Generator().manual_seed(0)
    batch, heads, length, key_width, value_width = 2, 3, 13, 4, 6
    q, k = (torch.randn(batch, heads, length, key_width, generator=gen) for _ in range(2))
    v = torch.randn(batch, heads, length, value_width, generator=gen)
    log_decay = head_log_decays(heads)

    torch.testing.assert_close(parallel_retention(q, k, v, log_decay), recurrent_retention(q, k, v, log_decay),
                               rtol=1e-5, atol=1e-5)


def test_the_whole_layer_gives_the_same_output_in_either_form():
    torch.manual_seed(1)
    layer = MultiScaleRetention(d_model=8, heads=2)
    x = torch.randn(2, 11, 8)

    torch.testing.assert_close(layer(x), layer(x, recurrent=True), rtol=1e-5, atol=1e-5)


def test_each_head_decays_by_the_papers_gamma():
    gammas = torch.exp(head_log_decays(4).double())
    torch.testing.assert_close(gammas, torch.tensor([1 - 1 / 32, 1 - 1 / 64, 1 - 1 / 128, 1 - 1 / 256],
                                                    dtype=torch.float64), rtol=1e-6, atol=0)

    mask = decay_mask(5, head_log_decays(2))
    raw = torch.tensor([[[gamma ** (n - m) if n >= m else 0.0 for m in range(5)] for n in range(5)]
                        for gamma in gammas[:2].tolist()], dtype=torch.float64)
    torch.testing.assert_close(mask.double(), raw / raw.sum(-1, keepdim=True).sqrt(), rtol=1e-5, atol=1e-6)


def test_rotated_scores_depend_on_relative_position_only():
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(8, generator=gen), torch.randn(8, generator=gen)
    frequencies = MultiScaleRetention(d_model=16, heads=2).frequencies

    def score(n: int, m: int) -> torch.Tensor:
        angles = torch.arange(20, dtype=torch.float32)[:, None] * frequencies
        return rotate_pairs(q.expand(20, 8), angles)[n] @ rotate_pairs(k.expand(20, 8), angles)[m]

    torch.testing.assert_close(score(7, 3), score(15, 11), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(score(7, 3), score(7, 4))


def test_the_score_normalisations_change_nothing_the_group_norm_passes_on(monkeypatch):
    """The paper's normalisations rescale each head's output at each position, which a
    GroupNorm without eps undoes: the layer equals one without them."""
    torch.manual_seed(3)
    layer = MultiScaleRetention(d_model=8, heads=2).double()
    layer.group_norm.eps = 1e-14
    x = torch.randn(2, 11, 8, dtype=torch.float64)
    normalised = layer(x)

    def unnormalised(q, k, v, log_decay):
        index = torch.arange(q.shape[2])
        distance = index[:, None] - index[None, :]
        mask = torch.exp(distance.clamp(min=0) * log_decay[:, None, None]) * (distance >= 0)
        return ((q @ k.transpose(-1, -2)) * mask) @ v

    monkeypatch.setattr(retnet, "parallel_retention", unnormalised)
    torch.testing.assert_close(layer(x), normalised, rtol=1e-6, atol=1e-6)


def test_no_output_reads_a_later_input():
    torch.manual_seed(4)
    layer = MultiScaleRetention(d_model=8, heads=2)
    x = torch.randn(2, 9, 8)
    changed = x.clone()
    changed[:, 5:] += 1

    torch.testing.assert_close(layer(changed)[:, :5], layer(x)[:, :5])
    assert not torch.allclose(layer(changed)[:, 5:], layer(x)[:, 5:])


def test_retnet_learns_induction_heads_through_the_shared_loop():
    task = tiny_task("induction-heads")  # length 16, 15 data tokens: chance is 1/15
    model, losses = train("torch:retnet", task, epochs=8, train_size=1024, batch_size=32, d_model=32, layers=2,
                          heads=4, readout="last", lr=3e-3)
    test = task.generate(256, np.random.default_rng(5), "test")

    accuracy = task.score(model.predict(test.inputs), task.solve(test.inputs))["accuracy"]

    assert all(np.isfinite(losses)) and accuracy > 0.5


@pytest.mark.parametrize("params", [{"d_model": 10, "heads": 4}, {"d_model": 6, "heads": 2}])
def test_heads_that_leave_an_odd_or_uneven_width_are_refused(params):
    with pytest.raises(ValueError, match=r"heads \(\d+\) must divide d_model \(\d+\) into an even width"):
        tiny_model("torch:retnet", **params)
    with pytest.raises(ValueError, match="into an even width per head"):
        MultiScaleRetention(**params)
