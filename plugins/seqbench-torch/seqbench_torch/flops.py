"""Model FLOPs of a seqbench-torch network, per training example and per prediction.

PyTorch's ``FlopCounterMode`` counts matmuls, convolutions and attention as they are
dispatched (a multiply-add is 2 FLOPs; a backward pass is counted as it runs, so a
matmul whose input is data, needing no gradient, costs its weight gradient only).
Some kernels do matmul work it has no formula for, and one formula is wrong; counting
here runs so that it sees, and counts rightly, all of them:

- fused recurrences (oneDNN's LSTM on the CPU, cuDNN's RNNs on a GPU): counting turns
  oneDNN and cuDNN off, so nn.LSTM, nn.GRU and nn.RNN run torch's own recurrence, whose
  matmuls (input and state projections per step, their gradients) the counter sees
  one by one. This replaced a hand count filed against the counter's per-module
  figures, which its module tracker misfiles in the backward (a decoder GRU's
  gradients landed under the embedding before it), so torch:gru-seq2seq's training
  step was counted 19-32% high;
- fused attention (scaled_dot_product_attention's flash, memory-efficient and cuDNN
  kernels; on the CPU, the flash kernel torch's counter has no formula for): its
  backward is counted as the model's products, twice the forward's (the gradients of
  the scores and of the values, then of the queries and of the keys). torch's formulas
  add the scores the flash backward recomputes (five T x T products to the forward's
  two): a kernel's recomputation, which model FLOPs leave out, so that the count is the
  model's whichever kernel runs it (3-D attention, and attention with dropout on the
  CPU, run plain matmuls: 4 to 2 as counted);
- nn.MultiheadAttention's and nn.TransformerEncoderLayer's fused inference "fast path":
  it does the same products as the ordinary path, so counting runs with it off;
- matrix-vector and vector-vector products (``matrix @ vector``, ``dot``) and
  ``addbmm``, which torch's counter has no formula for;
- a grouped convolution's weight gradient, which torch's formula counts ``groups``
  times over (see ``_conv_backward``).

Elementwise work (activations, gate nonlinearities, norms, the optimiser step) and FFTs
are not counted, as in the counter and in published model-FLOPs-utilisation figures.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch
from torch.utils.flop_counter import (
    FlopCounterMode,
    conv_flop_count,
    sdpa_flop_count,
)

if TYPE_CHECKING:
    from seqbench_torch.loop import Trainer

__all__ = ["count_flops", "count_prediction", "counting_kernels", "flop_counter", "uncounted", "ELEMENTWISE"]


def _flash_forward(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return int(sdpa_flop_count(query, key, value))


def _attention_backward(
    grad_out: Any, query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any
) -> int:
    """The model's backward products: 2x the forward's (torch's formula would add the
    flash kernel's recomputation of the scores)."""
    return 2 * int(sdpa_flop_count(query, key, value))


def _conv_backward(
    grad_out: Any, x: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
    transposed: bool, output_padding: Any, groups: int, output_mask: list[bool], out_shape: Any = None,
    **kwargs: Any,
) -> int:
    """Each gradient asked for (input, weight) takes as many products as the forward.
    torch's own formula counts the weight gradient as an ungrouped convolution, ``groups``
    times too many: 24x for Hyena's depthwise short convolution at d_model 8, which
    doubled torch:hyena's training count."""
    forward = conv_flop_count(x, weight, grad_out, transposed)
    return int(forward * (int(output_mask[0]) + int(output_mask[1])))


def _matrix_vector(matrix: Any, vector: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """``mv``: ``matrix @ vector`` (what ``@`` dispatches for a vector on the right)."""
    rows, columns = matrix
    return 2 * rows * columns


def _added_matrix_vector(
    bias: Any, matrix: Any, vector: Any, *args: Any, out_shape: Any = None, **kwargs: Any
) -> int:
    return _matrix_vector(matrix, vector)


def _dot(first: Any, second: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return 2 * int(first[0])


def _added_batch_sum(
    bias: Any, first: Any, second: Any, *args: Any, out_shape: Any = None, **kwargs: Any
) -> int:
    """``addbmm``: the sum over the batch of (m x k) @ (k x n) products."""
    batch, rows, inner = first
    return 2 * batch * rows * inner * int(second[-1])


_aten = torch.ops.aten
# Formulas for kernels torch's counter does not know (the CPU flash attention;
# matrix-vector and vector-vector products, and addbmm's summed batch), and for those
# whose count is not the model's (fused attention's backward adds a recomputation; a
# grouped convolution's weight gradient is counted groups times). The counter hands
# formulas shapes, not tensors.
EXTRA_FORMULAS = {
    _aten._scaled_dot_product_flash_attention_for_cpu: _flash_forward,
    _aten._scaled_dot_product_flash_attention_for_cpu_backward: _attention_backward,
    _aten._scaled_dot_product_flash_attention_backward: _attention_backward,
    _aten._scaled_dot_product_efficient_attention_backward: _attention_backward,
    _aten._scaled_dot_product_cudnn_attention_backward: _attention_backward,
    _aten.mv: _matrix_vector,
    _aten.addmv: _added_matrix_vector,
    _aten.dot: _dot,
    _aten.vdot: _dot,
    _aten.addbmm: _added_batch_sum,
    _aten.convolution_backward: _conv_backward,
}


def flop_counter() -> FlopCounterMode:
    """torch's counter with EXTRA_FORMULAS: the products it misses or miscounts."""
    return FlopCounterMode(display=False, custom_mapping=EXTRA_FORMULAS)


@contextlib.contextmanager
def counting_kernels() -> Iterator[None]:
    """Within: the kernels whose products the counter can see. oneDNN and cuDNN off
    (their fused recurrences are opaque to it; torch's own recurrence does the same
    products one by one), and the attention modules' fused inference fast path off
    (the ordinary path does the same products)."""
    backends = (torch.backends.mkldnn, torch.backends.cudnn)
    enabled = [backend.enabled for backend in backends]
    fast_path = torch.backends.mha.get_fastpath_enabled()
    for backend in backends:
        setattr(backend, "enabled", False)  # not torch's flags(): it warns about TF32 each time
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        for backend, was in zip(backends, enabled):
            setattr(backend, "enabled", was)
        torch.backends.mha.set_fastpath_enabled(fast_path)


# Left out of every count by model FLOPs' definition (PaLM's): not a gap in the count.
ELEMENTWISE = "elementwise work (activations, gates, softmax, norms) and the optimiser step"


def uncounted(network: torch.nn.Module) -> list[str]:
    """The model's products its count omits: each module's ``uncounted`` (S4D's and
    Hyena's FFT convolutions, Mamba's scan updates, linear attention's outer products),
    once each."""
    found = (getattr(module, "uncounted", "") for module in network.modules())
    return list(dict.fromkeys(text for text in found if text))


def count_flops(trainer: "Trainer", inputs: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    """Per-example FLOPs of one training step's forward and backward, and of one
    prediction, measured on this batch. Weights are not changed (no optimiser step;
    the gradients are dropped). A network with nothing to train takes no training
    step (the loop skips it), so its training FLOPs are 0.

    Beside the figures: ``fp32_math`` (how fp32 products ran: what an fp32 peak refers
    to), ``lower_bound`` (whether products of the model are left out) and ``omitted``
    (what is left out, elementwise work always)."""
    network = trainer.network
    x, y = trainer.inputs(inputs), trainer.targets(targets)
    was_training = network.training
    train = 0
    try:
        with counting_kernels():
            if trainer.trainable:
                network.train()
                with flop_counter() as counter:
                    with trainer._autocast():
                        loss = trainer.objective.loss(network(x, y), y)
                    loss.backward()
                train = counter.get_total_flops()
                network.zero_grad(set_to_none=True)
    finally:
        network.train(was_training)
    gaps = uncounted(network)
    return {
        "train_per_example": train / len(x),
        "predict_per_example": count_prediction(trainer, inputs),
        "method": "FlopCounterMode (fused kernels off)",
        "fp32_math": trainer.fp32_math,
        "lower_bound": bool(gaps),
        "omitted": "; ".join([*gaps, ELEMENTWISE]),
    }


def count_prediction(trainer: "Trainer", inputs: np.ndarray) -> float | None:
    """Per-example FLOPs of one prediction on this batch: the products of the network's
    ``counted_prediction`` (``predict`` itself, except where predict recomputes: a
    decoder re-run over every prefix counts one teacher-forced pass over what it
    decoded). None where the counter sees no product (elementwise work only, which
    model FLOPs leave out): unknown, not free."""
    network = trainer.network
    x = trainer.inputs(inputs)
    was_training = network.training
    try:
        network.eval()
        with counting_kernels(), torch.inference_mode(), trainer._autocast():
            prepare = getattr(network, "counted_prediction", None)  # a plain nn.Module's: predict
            run = prepare(x) if prepare is not None else (lambda: network.predict(x))  # type: ignore[operator]
            with flop_counter() as counter:
                run()
    finally:
        network.train(was_training)
    predict = counter.get_total_flops()
    return predict / len(x) if predict else None
