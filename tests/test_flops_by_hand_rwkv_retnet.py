"""Model FLOPs per example of torch:rwkv and torch:retnet against a hand count of one
small configuration each, with the conventions of test_flops_by_hand.py: matmuls only,
a multiply-add is 2 FLOPs, the backward twice the forward where the input needs its
gradient; every expected figure is derived here from the shapes, never copied from the
code. Each case is one batch of 4 on reverse, L = 4, readout "end": 4 input tokens and
4 answer slots, S = 8 positions; d = 8, one block; the head reads the 4 slots.
"""

from __future__ import annotations

import pytest

from seqbench import FitSettings, registry
from seqbench.data import Split

torch = pytest.importorskip("torch")

SETTINGS = FitSettings(epochs=1, batch_size=4, device="cpu", seed=0, patience=None)
BATCH, L, V, D = 4, 4, 10, 8
S = 2 * L
STACK = {"d_model": D, "layers": 1}


def counted(model_name: str, **params) -> dict:
    task = registry.tasks().get("reverse")(length=L)
    model = registry.models().get(model_name)(**params)
    model.build(task, SETTINGS)
    split = Split(task, "train", BATCH, 0)
    split.prepare()
    batch = next(iter(split.batches(BATCH)))
    return model.flops(batch.inputs, batch.targets)


def linear(inputs: int, outputs: int, rows: int) -> int:
    """A matmul of ``rows`` vectors of ``inputs`` by an (inputs x outputs) weight."""
    return 2 * inputs * outputs * rows


HEAD = linear(D, V, L)  # 640

# --- rwkv: channel mixing 2d = 16 wide. Time mixing: key, value, receptance and output,
# (d x d) each; channel mixing: key (d -> 16), value (16 -> d), receptance (d x d). The
# WKV (decays, exponentials, weighted sums per channel) and the token shift are
# elementwise: not counted. Every projection's input descends from the trained
# embedding (through the learned shift mixes): all 3x.
HIDDEN = 2 * D
RWKV = 4 * linear(D, D, S) + linear(D, HIDDEN, S) + linear(HIDDEN, D, S) + linear(D, D, S) + HEAD
RWKV_COUNTS = (RWKV, 3 * RWKV)  # 9,856; 29,568

# --- retnet: 2 heads, queries and keys 4 wide per head, values and gate 2d = 16 (8 per
# head). Projections q, k (d x d), v, g (d x 2d), out (2d x d); per head the scores
# (S x 4)(4 x S) and their weighted sum of values (S x S)(S x 8), the whole S x S
# though causal; the MLP (2d) and the head. Rotation, decay mask, normalisations,
# GroupNorm and gate are elementwise.
HEADS, VALUE = 2, 2 * D
RETNET_LINEARS = 2 * linear(D, D, S) + 2 * linear(D, VALUE, S) + linear(VALUE, D, S)  # 8,192
RETENTION = 2 * S * S * D + 2 * S * S * VALUE  # 1,024 + 2,048 over both heads
MLP = linear(D, 2 * D, S) + linear(2 * D, D, S)  # 4,096
RETNET = RETNET_LINEARS + RETENTION + MLP + HEAD
RETNET_COUNTS = (RETNET, 3 * RETNET)  # 16,000; 48,000

CASES = {
    "rwkv": ("torch:rwkv", {**STACK, "mlp_expand": 2, "chunk": 4}, RWKV_COUNTS),
    "retnet": ("torch:retnet", {**STACK, "heads": HEADS}, RETNET_COUNTS),
}


@pytest.mark.parametrize("case", list(CASES))
def test_flops_per_example_match_the_hand_count(case):
    model, params, (predict, train) = CASES[case]

    counts = counted(model, **params)

    assert (counts["predict_per_example"], counts["train_per_example"]) == (predict, train)


def test_rwkvs_count_is_a_lower_bound_that_names_the_wkv():
    counts = counted("torch:rwkv", **STACK, mlp_expand=2, chunk=4)

    assert counts["lower_bound"] is True
    assert "RWKV's WKV recurrence" in counts["omitted"] and "elementwise work" in counts["omitted"]


def test_rwkvs_count_does_not_depend_on_its_chunk():
    """The chunked WKV's in-chunk weighted sums are elementwise products and sums, so
    the count is the model's, not the chunk size's."""
    one_at_a_time = counted("torch:rwkv", **STACK, mlp_expand=2, chunk=1)

    assert counted("torch:rwkv", **STACK, mlp_expand=2, chunk=8) == one_at_a_time


def test_retnets_count_leaves_out_only_elementwise_work():
    counts = counted("torch:retnet", **STACK, heads=HEADS)

    assert counts["lower_bound"] is False
    assert counts["omitted"].startswith("elementwise work")
