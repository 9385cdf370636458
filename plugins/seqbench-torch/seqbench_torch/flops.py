"""Model FLOPs of a seqbench-torch network, per training example and per prediction.

PyTorch's ``FlopCounterMode`` counts matmuls, convolutions and attention as they are
dispatched (a multiply-add is 2 FLOPs; a backward pass is counted as it runs). It
cannot see inside fused recurrent kernels (cuDNN's RNN on a GPU; oneDNN's on some CPU
builds), so nn.LSTM and nn.GRU are counted by hand from the shapes they are called
with — 2 x gates x hidden x (input + hidden) per step, row and layer, the forward, and
twice that for the backward — and whatever the counter itself attributed to them is
replaced by that count, so no recurrence is counted twice or not at all.

Elementwise work (activations, gate nonlinearities, norms, the optimiser step) is not
counted, as in the counter and in published model-FLOPs-utilisation figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode

if TYPE_CHECKING:
    from seqbench_torch.loop import Trainer

__all__ = ["count_flops", "recurrent_forward_flops"]

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def recurrent_forward_flops(module: nn.RNNBase, rows: int) -> int:
    """Forward matmul FLOPs of ``module`` over ``rows`` (example, step) pairs."""
    gates = GATES[module.mode]
    directions = 2 if module.bidirectional else 1
    hidden = module.hidden_size
    total = 0
    for layer in range(module.num_layers):
        inputs = module.input_size if layer == 0 else hidden * directions
        total += directions * 2 * gates * hidden * (inputs + hidden)
    return rows * total


class _RecurrentTally:
    """Forward hooks on every recurrent module: the hand count of their forward FLOPs
    and their qualified names (to take the counter's own figures for them out)."""

    def __init__(self, network: nn.Module) -> None:
        self.forward_flops = 0
        self.names: list[str] = []
        self._hooks = []
        prefix = type(network).__name__
        for name, module in network.named_modules():
            if isinstance(module, nn.RNNBase):
                self.names.append(f"{prefix}.{name}")
                self._hooks.append(module.register_forward_hook(self._hook))

    def _hook(self, module: nn.RNNBase, args: tuple[Any, ...], output: Any) -> None:
        data = args[0]
        if isinstance(data, PackedSequence):
            rows = int(data.batch_sizes.sum())
        elif data.dim() == 3:
            rows = data.shape[0] * data.shape[1]
        else:  # unbatched (T, features)
            rows = data.shape[0]
        self.forward_flops += recurrent_forward_flops(module, rows)

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()


def _counted(counter: FlopCounterMode, tally: _RecurrentTally) -> int:
    """The counter's total less what it attributed to recurrent modules."""
    per_module = counter.get_flop_counts()
    seen = sum(sum(per_module.get(name, {}).values()) for name in tally.names)
    return counter.get_total_flops() - seen


def count_flops(trainer: "Trainer", inputs: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    """Per-example FLOPs of one training step's forward and backward, and of one
    prediction, measured on this batch. Weights are not changed (no optimiser step;
    the gradients are dropped)."""
    network = trainer.network
    x, y = trainer.inputs(inputs), trainer.targets(targets)
    examples = len(x)
    was_training = network.training
    tally = _RecurrentTally(network)
    try:
        network.train()
        with FlopCounterMode(display=False) as counter:
            with trainer._autocast():
                loss = trainer.objective.loss(network(x, y), y)
            loss.backward()
        train = _counted(counter, tally) + 3 * tally.forward_flops
        network.zero_grad(set_to_none=True)

        tally.forward_flops = 0
        network.eval()
        with FlopCounterMode(display=False) as counter, torch.inference_mode(), trainer._autocast():
            network.predict(x)
        predict = _counted(counter, tally) + tally.forward_flops
    finally:
        tally.remove()
        network.train(was_training)
    method = "FlopCounterMode" + (" + recurrent hand count" if tally.names else "")
    return {
        "train_per_example": train / examples,
        "predict_per_example": predict / examples,
        "method": method,
    }
