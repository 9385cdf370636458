"""Model FLOPs per example of every torch architecture, checked against a hand count
of one small configuration. Every expected figure is derived here from the
architecture's shapes (the comments show the arithmetic), never copied from the code.

Conventions (docs/measurement.md, "FLOPs and utilisation"): matmuls, convolutions
and attention only, a multiply-add is 2 FLOPs; predict is one ``network.predict``
without recomputation (a greedy decoder's count is one pass over what it decoded);
train is one step's forward and backward. The backward repeats each product twice
(the weight's gradient and the input's), but not the input gradient where the input
needs none: data, and a recurrence's constant zero initial state. Attention's T x T
products are counted whole even when causal, and their backward is twice the forward
(4 products to 2) whichever kernel runs them: the flash kernel's recomputation of the
scores in its backward is not the model's work.
Elementwise work, cumulative sums and FFTs are not counted.

Each case is one batch of 4 (``counted``), so a product computed once per batch (a
filter, a convolution kernel) costs a quarter of itself per example.
"""

from __future__ import annotations

import pytest

from seqbench import FitSettings, registry
from seqbench.data import Split

torch = pytest.importorskip("torch")

from seqbench_torch.flops import counting_kernels, flop_counter  # noqa: E402

SETTINGS = FitSettings(epochs=1, batch_size=4, device="cpu", seed=0, patience=None)
BATCH = 4


def counted(model_name: str, task_name: str, task_params: dict, **params) -> dict | None:
    task = registry.tasks().get(task_name)(**task_params)
    model = registry.models().get(model_name)(**params)
    model.build(task, SETTINGS)
    split = Split(task, "train", BATCH, 0)
    split.prepare()
    batch = next(iter(split.batches(BATCH)))
    return model.flops(batch.inputs, batch.targets)


def linear(inputs: int, outputs: int, rows: int) -> int:
    """A matmul of ``rows`` vectors of ``inputs`` by an (inputs x outputs) weight."""
    return 2 * inputs * outputs * rows


def attention(queries: int, keys: int, width: int) -> int:
    """Scores q k^T and the weighted sum of values: two (queries x keys x width) products."""
    return 2 * 2 * queries * keys * width


# --- torch:lstm: the 4 gates multiply [x_t; h_{t-1}] by a (4H x (F + H)) weight per step.
# adding, T = 5, 2 features, H = 8: the input is data (no gradient), and h_0 = 0 is a
# constant (no gradient at the first step).
T, F, H = 5, 2, 8
LSTM_STEPS = linear(F + H, 4 * H, T)  # 3,200
LSTM_HEAD = linear(H, 1, 1)  # the last step's output, 16
LSTM_ADDING = (
    LSTM_STEPS + LSTM_HEAD,  # 3,216
    LSTM_STEPS + LSTM_HEAD
    + LSTM_STEPS  # the weights' gradients
    + linear(H, 4 * H, T - 1)  # the state's gradient, every step but the first
    + 2 * LSTM_HEAD,  # 8,496; the data's gradient, linear(F, 4H, T), is not needed
)
# reverse, L = 4 (tokens, vocabulary 10): an embedding (H wide, trained) feeds the LSTM,
# so its input needs a gradient; the head reads all 4 answer positions.
L, V = 4, 10
LSTM_TOKENS = linear(H + H, 4 * H, L)  # 4,096
LSTM_REVERSE = (
    LSTM_TOKENS + linear(H, V, L),  # 4,736
    LSTM_TOKENS + linear(H, V, L)
    + LSTM_TOKENS + linear(H, 4 * H, L) + linear(H, 4 * H, L - 1)  # weights, input, state
    + 2 * linear(H, V, L),  # 13,696
)

# --- torch:attention: adding T = 5, 2 features, d = 8, head hidden 6. Single-head
# 3-D attention runs plain matmuls: its backward is 2x. The embedding's input is data.
D, HEAD = 8, 6
ATT_EMBED = linear(F, D, T)  # 160
ATT_FORWARD = ATT_EMBED + 3 * linear(D, D, T) + attention(T, T, D) + linear(D, HEAD, 1) + linear(HEAD, 1, 1)
ATTENTION = (ATT_FORWARD, 3 * ATT_FORWARD - ATT_EMBED)  # 2,988; 8,804

# --- torch:batuketa-attention: adding T = 5, no embedding: Q, K and V at the input's
# width F = 2 (their input is data), the T x F outputs flattened into one unit, whose
# input (the attention's output) needs its gradient.
BATUKETA_QKV = 3 * linear(F, F, T)  # 120
BATUKETA_FORWARD = BATUKETA_QKV + attention(T, T, F) + linear(T * F, 1, 1)  # 340
BATUKETA = (BATUKETA_FORWARD, 3 * BATUKETA_FORWARD - BATUKETA_QKV)  # 340; 900

# --- torch:gru-seq2seq: reverse L = 4, embeddings 4, hidden 6, 1 layer; 3 gates. The
# encoder reads 4 tokens (no padding: reverse's digits are 1-9) from h_0 = 0; the decoder
# runs one step per target (4, teacher-forced or not: the coin changes no shape),
# starting from the encoder's state, which needs its gradient.
E, G = 4, 6
GRU = linear(E + G, 3 * G, L)  # 1,440 per GRU
GRU_HEAD = linear(G, V, L)  # 480
GRU_SEQ2SEQ = (
    GRU + GRU + GRU_HEAD,  # 3,360
    GRU + GRU + GRU_HEAD
    + GRU + linear(E, 3 * G, L) + linear(G, 3 * G, L - 1)  # encoder: weights, input, state after h_0
    + GRU + linear(E, 3 * G, L) + linear(G, 3 * G, L)  # decoder: weights, input, every state
    + 2 * GRU_HEAD,  # 9,864
)


# --- torch:transformer: reverse L = 4, d = 8, 2 heads, feed-forward 12, one encoder and
# one decoder layer. Training is teacher-forced over the 4 targets; predict decodes
# greedily 4 steps (reverse has no end token, so it never stops early). Its code re-runs
# the decoder over the prefix of 1, 2, 3, 4 tokens, projecting the memory every time:
# recomputation, which model FLOPs leave out. Counted is what a cached decode computes,
# one pass over the 4 decoded positions with the memory projected once: the
# teacher-forced forward.
FF = 12


def encoder_layer(length: int) -> tuple[int, int]:
    """(linear FLOPs, attention FLOPs) of one self-attention encoder layer."""
    linears = linear(D, 3 * D, length) + linear(D, D, length) + linear(D, FF, length) + linear(FF, D, length)
    return linears, attention(length, length, D)


def decoder_layer_and_head(prefix: int, memory: int) -> tuple[int, int]:
    self_attention = linear(D, 3 * D, prefix) + linear(D, D, prefix)
    cross = linear(D, D, prefix) + linear(D, 2 * D, memory) + linear(D, D, prefix)
    feed_forward = linear(D, FF, prefix) + linear(FF, D, prefix)
    linears = self_attention + cross + feed_forward + linear(D, V, prefix)  # the head reads every position
    return linears, attention(prefix, prefix, D) + attention(prefix, memory, D)


ENC_LIN, ENC_ATT = encoder_layer(L)  # 3,584 + 512
DEC_LIN, DEC_ATT = decoder_layer_and_head(L, L)  # 6,272 + 1,024
TRANSFORMER = (
    ENC_LIN + ENC_ATT + DEC_LIN + DEC_ATT,  # 11,392 (re-running every prefix: 23,552)
    # Teacher-forced forward; backward 2x the linears and the attention.
    3 * (ENC_LIN + DEC_LIN + ENC_ATT + DEC_ATT),  # 34,176
)

# --- torch:gp-attention: gp-pairs length 6, context 2, d = 8, 2 heads, feed-forward 12,
# 1 layer. The coordinate's 4 learned frequencies give 8 sin/cos features, mixed by a
# (8 x 8) linear (its input depends on the frequencies: it needs a gradient); the values
# (A, B, mask: data) by a (3 x 8) linear; the head reads the 4 positions after the context.
GP_LEN, GP_CONTEXT = 6, 2
GP_VALUES = linear(3, D, GP_LEN)  # 288
GP_LIN, GP_ATT = encoder_layer(GP_LEN)
GP_LINEARS = linear(D, D, GP_LEN) + GP_VALUES + GP_LIN + linear(D, 2, GP_LEN - GP_CONTEXT)
GP_ATTENTION = (GP_LINEARS + GP_ATT, 3 * GP_LINEARS - GP_VALUES + 3 * GP_ATT)  # 7,712; 22,848

# --- The causal stack (torch:causal-transformer, linear-attention, s4d, hyena, mamba) on
# reverse L = 4 with readout "end": 4 input tokens and 4 answer slots, S = 8 positions;
# d = 8, 1 block; an MLP of 2d (default expansion 2; none for Mamba); the head reads
# the 4 slots. Every matmul's input descends from the trained embedding: all 3x,
# except where noted.
S = 2 * L
MLP = linear(D, 2 * D, S) + linear(2 * D, D, S)  # 4,096
STACK_HEAD = linear(D, V, L)  # 640
QKV_OUT = linear(D, 3 * D, S) + linear(D, D, S)  # 4,096

# causal-transformer: 2 heads; the whole 8 x 8 score matrix, though causal.
CAUSAL_LIN, CAUSAL_ATT = QKV_OUT + MLP + STACK_HEAD, attention(S, S, D)
CAUSAL_TRANSFORMER = (CAUSAL_LIN + CAUSAL_ATT, 3 * (CAUSAL_LIN + CAUSAL_ATT))  # 10,880; 32,640

# linear-attention: 2 heads of 4. The read-out phi(q)^T S_t contracts a (4 x 4) state per
# head, the normaliser phi(q)^T z_t a 4-vector; the state's outer products phi(k) v^T
# have nothing to sum (elementwise, as dispatched): not counted.
HEADS, HEAD_DIM = 2, D // 2
LINEAR_ATT = QKV_OUT + MLP + STACK_HEAD + 2 * S * HEADS * HEAD_DIM * HEAD_DIM + 2 * S * HEADS * HEAD_DIM
LINEAR_ATTENTION = (LINEAR_ATT, 3 * LINEAR_ATT)  # 9,472; 28,416

# s4d: state 4 = 2 complex modes. The kernel (d x S) sums C over the modes once per
# batch (complex, counted like real); the FFT convolution is not counted; a GLU output
# linear (d -> 2d).
S4D_KERNEL = 2 * D * 2 * S // BATCH  # 64 per example
S4D = S4D_KERNEL + linear(D, 2 * D, S) + MLP + STACK_HEAD
S4D_COUNTS = (S4D, 3 * S4D)  # 6,848; 20,544

# hyena: in-projection to 3d; a depthwise causal convolution of width 3 over 3d channels,
# counted over its padded output, S + 2 = 10 positions; the implicit filter's MLP
# (position code of 1 + 2 x 1 band -> 4 -> 4 -> d) once per batch over S positions, its
# first layer's input (the code) data; FFT long convolution not counted.
FILTER_FIRST = linear(3, 4, S) / BATCH
FILTER = FILTER_FIRST + (linear(4, 4, S) + linear(4, D, S)) / BATCH  # 240
HYENA = linear(D, 3 * D, S) + 2 * 3 * D * 3 * (S + 2) + FILTER + linear(D, D, S) + MLP + STACK_HEAD
HYENA_COUNTS = (HYENA, 3 * HYENA - FILTER_FIRST)  # 10,512; 31,488

# mamba: inner 2d = 16, state 4, dt rank ceil(8 / 16) = 1, convolution width 4 (over
# S + 3 = 11 padded positions). In the scan, only the read-out C_t h_t contracts (16 x 4
# per position); the state update dt x B (outer products) and decays are elementwise.
INNER, N = 2 * D, 4
MAMBA = (
    linear(D, 2 * INNER, S) + 2 * INNER * 4 * (S + 3) + linear(INNER, 1 + 2 * N, S) + linear(1, INNER, S)
    + 2 * INNER * N * S + linear(INNER, D, S) + STACK_HEAD
)
MAMBA_COUNTS = (MAMBA, 3 * MAMBA)  # 11,776; 35,328

STACK = {"d_model": D, "layers": 1}
CASES = {
    "lstm-adding": ("torch:lstm", "adding", {"seq_len": T}, {"hidden": H, "layers": 1}, LSTM_ADDING),
    "lstm-tokens": ("torch:lstm", "reverse", {"length": L}, {"hidden": H, "layers": 1}, LSTM_REVERSE),
    "attention": ("torch:attention", "adding", {"seq_len": T}, {"d_model": D, "hidden": HEAD}, ATTENTION),
    "batuketa-attention": ("torch:batuketa-attention", "adding", {"seq_len": T}, {}, BATUKETA),
    "gru-seq2seq": (
        "torch:gru-seq2seq", "reverse", {"length": L},
        {"emb_dim": E, "hidden": G, "layers": 1, "dropout": 0.0}, GRU_SEQ2SEQ,
    ),
    "transformer": (
        "torch:transformer", "reverse", {"length": L},
        {"hidden": D, "enc_layers": 1, "dec_layers": 1, "heads": 2, "ff_dim": FF, "dropout": 0.0}, TRANSFORMER,
    ),
    "gp-attention": (
        "torch:gp-attention", "gp-pairs", {"length": GP_LEN, "context": GP_CONTEXT},
        {"d_model": D, "heads": 2, "layers": 1, "ff_dim": FF}, GP_ATTENTION,
    ),
    "causal-transformer": (
        "torch:causal-transformer", "reverse", {"length": L}, {**STACK, "heads": 2}, CAUSAL_TRANSFORMER,
    ),
    "linear-attention": (
        "torch:linear-attention", "reverse", {"length": L}, {**STACK, "heads": HEADS}, LINEAR_ATTENTION,
    ),
    "s4d": ("torch:s4d", "reverse", {"length": L}, {**STACK, "state": 4}, S4D_COUNTS),
    "hyena": ("torch:hyena", "reverse", {"length": L}, {**STACK, "filter_width": 4, "bands": 1}, HYENA_COUNTS),
    "mamba": ("torch:mamba", "reverse", {"length": L}, {**STACK, "state": N, "chunk": 4}, MAMBA_COUNTS),
    # The oracle trains nothing (0) and predicts with a fixed graph: adding's is
    # elementwise, which model FLOPs leave out (None: no count, not a free prediction);
    # gp-pairs' conditional mean is the (L + context) observed values times an
    # ((L + context) x (L - context)) weight.
    "oracle-adding": ("torch:oracle", "adding", {"seq_len": T}, {}, (None, 0)),
    "oracle-gp": (
        "torch:oracle", "gp-pairs", {"length": GP_LEN, "context": GP_CONTEXT}, {},
        (linear(GP_LEN + GP_CONTEXT, GP_LEN - GP_CONTEXT, 1), 0),
    ),
}


def test_every_torch_architecture_has_a_hand_count():
    from test_flops_by_hand_rwkv_retnet import CASES as RWKV_RETNET

    torch_models = {name for name in registry.models().names() if name.startswith("torch:")}
    assert torch_models == {case[0] for case in [*CASES.values(), *RWKV_RETNET.values()]}


@pytest.mark.parametrize("case", list(CASES))
def test_flops_per_example_match_the_hand_count(case):
    model, task, task_params, params, (predict, train) = CASES[case]

    counts = counted(model, task, task_params, **params)

    assert (counts["predict_per_example"], counts["train_per_example"]) == (predict, train)


def test_oracle_without_a_torch_graph_reports_unknown_not_zero():
    # reverse's oracle is the task's NumPy solve: work no torch counter sees.
    assert counted("torch:oracle", "reverse", {"length": L}) is None


def test_counting_turns_fused_kernels_off_and_back_on_even_after_an_error():
    before = (torch.backends.mkldnn.enabled, torch.backends.cudnn.enabled, torch.backends.mha.get_fastpath_enabled())
    with pytest.raises(RuntimeError), counting_kernels():
        assert not torch.backends.mkldnn.enabled and not torch.backends.mha.get_fastpath_enabled()
        raise RuntimeError("a network that fails while counted")
    after = (torch.backends.mkldnn.enabled, torch.backends.cudnn.enabled, torch.backends.mha.get_fastpath_enabled())
    assert after == before


@pytest.mark.parametrize(
    "product, hand",
    [
        # matrix @ vector dispatches mv: (4 x 5) @ (5), 2*4*5; in the backward the
        # vector's gradient (5 x 4) @ (4) as much again (the matrix's is an outer product).
        (lambda: torch.randn(4, 5, requires_grad=True) @ torch.randn(5, requires_grad=True), 2 * (2 * 4 * 5)),
        # dot: 2*5 forward; each gradient is a vector times a scalar (elementwise).
        (lambda: torch.dot(torch.randn(5, requires_grad=True), torch.randn(5)), 2 * 5),
        # addbmm: 3 (4 x 5) @ (5 x 6) products summed: 2*3*4*5*6, and as much per gradient.
        (lambda: torch.addbmm(torch.zeros(4, 6), torch.randn(3, 4, 5, requires_grad=True),
                              torch.randn(3, 5, 6, requires_grad=True)), 3 * 2 * 3 * 4 * 5 * 6),
    ],
    ids=["matrix-vector", "dot", "addbmm"],
)
def test_products_torch_has_no_formula_for_are_counted(product, hand):
    with flop_counter() as counter:
        product().sum().backward()

    assert counter.get_total_flops() == hand


def test_fused_attention_counts_as_the_same_products_written_out():
    """Model FLOPs do not depend on the kernel: the fused (flash) kernel's backward
    recomputes the scores, which is the kernel's work, not the model's."""
    def inputs():
        torch.manual_seed(0)
        return [torch.randn(2, 2, 8, 4, requires_grad=True) for _ in range(3)]

    with flop_counter() as fused:
        torch.nn.functional.scaled_dot_product_attention(*inputs()).sum().backward()
    query, key, value = inputs()
    with flop_counter() as written_out:
        (torch.softmax(query @ key.transpose(-1, -2) / 2, dim=-1) @ value).sum().backward()

    # scores (8x4 @ 4x8) and weighted sum (8x8 @ 8x4) for batch 2 x heads 2, 2 FLOPs a multiply-add
    forward = 2 * (2 * 2 * 2 * 8 * 8 * 4)
    assert written_out.get_total_flops() == 3 * forward
    assert fused.get_total_flops() == written_out.get_total_flops()
