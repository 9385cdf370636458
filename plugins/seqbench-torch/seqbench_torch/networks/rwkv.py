"""``torch:rwkv``: RWKV-4 blocks, time mixing by the WKV recurrence and channel mixing.

Peng et al., "RWKV: Reinventing RNNs for the Transformer Era" (Findings of EMNLP 2023),
the RWKV-4 block of BlinkDL/RWKV-LM (``RWKV-v4``; zoology's ``mixers/rwkv.py`` is a copy):

- *token shift*: each projection reads a per-channel mix of this position's input and
  the previous one's, ``mu * x_t + (1 - mu) * x_{t-1}`` (``x_{-1} = 0``);
- *time mixing*: ``r, k, v`` from three such mixes, ``W_o (sigmoid(r) * wkv)``, where per
  channel, with decay ``w = exp(time_decay) > 0`` and bonus ``u = time_first``::

      wkv_t = (sum_{s<t} e^{-(t-1-s) w + k_s} v_s + e^{u + k_t} v_t)
            / (sum_{s<t} e^{-(t-1-s) w + k_s}     + e^{u + k_t})

- *channel mixing*: ``sigmoid(W_r x_r) * W_v relu(W_k x_k)^2`` (squared ReLU).

A block is ``x + TimeMixing(LN(x))`` then ``x + ChannelMixing(LN(x))``; the first block
also normalises the embeddings (RWKV-4's ``ln0``). Initialisation is RWKV-4's: decays
spread over channels from fast to slow (``-5 + 8 (c / (C-1))^(0.7 + 1.3 depth)``), a
zig-zag bonus around log 0.3, token-shift mixes that fall with depth, and the
projections that write to the residual (and the keys and receptances) at zero, so each
block starts as the identity. The paper's sizes: width 768-4096, channel mixing 4x.

The WKV's exponentials overflow float32 once ``k`` passes 88. The official CUDA kernel
carries the numerator and denominator divided by ``e^p``, ``p`` the largest exponent so
far; ``sequential_wkv`` is that loop. The network runs ``wkv_chunked``: ``chunk``
positions at once, every (t, s) weight inside a chunk in log space, shifted by each
row's own largest exponent, and the kernel's (numerator, denominator, p) carried from
chunk to chunk. It is exact at every chunk size (no floor on decays, unlike Mamba's
chunked scan), with ``length / chunk`` Python steps and memory O(batch x length x chunk
x width). Both run in float32 whatever the autocast precision, as the kernel does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.causal import CausalSequenceModel

__all__ = ["ChannelMixing", "RWKVBlock", "TimeMixing", "rwkv_network", "sequential_wkv", "wkv_chunked"]

# The kernel's "minus infinity" for the empty state's exponent: finite, so that the
# first comparison never computes inf - inf (NaN).
NO_EXPONENT = -1e38
# The most negative log-decay the chunked WKV multiplies by step counts: e^(-1e30) is 0
# in any float, and 1e30 times a chunk's steps (up to 65,536) stays well inside float32.
DECAY_FLOOR = 1e30


def sequential_wkv(log_decay: torch.Tensor, bonus: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The official RWKV-4 kernel's loop, one position at a time: ``k, v (B, T, C)``,
    ``log_decay = -w (C,)``, ``bonus = u (C,)``; returns wkv ``(B, T, C)``."""
    numerator, denominator = torch.zeros_like(k[:, 0]), torch.zeros_like(k[:, 0])
    exponent = torch.full_like(k[:, 0], NO_EXPONENT)
    outputs = []
    for t in range(k.shape[1]):
        k_t, v_t = k[:, t], v[:, t]
        top = torch.maximum(exponent, bonus + k_t)
        carried, current = torch.exp(exponent - top), torch.exp(bonus + k_t - top)
        outputs.append((carried * numerator + current * v_t) / (carried * denominator + current))
        top = torch.maximum(exponent + log_decay, k_t)
        carried, current = torch.exp(exponent + log_decay - top), torch.exp(k_t - top)
        numerator, denominator, exponent = carried * numerator + current * v_t, carried * denominator + current, top
    return torch.stack(outputs, dim=1)


def wkv_chunked(
    log_decay: torch.Tensor, bonus: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int
) -> torch.Tensor:
    """The same wkv, ``chunk`` positions at a time (see the module's docstring).

    The shifts (each row's largest exponent, the state's ``p``) are detached: the
    result does not depend on them, so their gradient is exactly zero. A decay past
    float32 (``exp(time_decay)`` overflows once time_decay passes 88.7: w = inf) is
    floored at -DECAY_FLOOR: ``0 * -inf`` at a gap of 0 steps would be NaN, where
    the kernel's loop (no such product) keeps the previous position, which decays 0
    steps, and forgets the rest, as the floor does."""
    log_decay = log_decay.clamp(min=-DECAY_FLOOR)
    batch, length, channels = k.shape
    numerator, denominator = k.new_zeros(batch, channels), k.new_zeros(batch, channels)
    exponent = k.new_full((batch, channels), NO_EXPONENT)
    outputs = []
    for start in range(0, length, chunk):
        k_part, v_part = k[:, start : start + chunk], v[:, start : start + chunk]
        size = k_part.shape[1]
        steps = torch.arange(size, device=k.device, dtype=k.dtype)
        gap = steps[:, None] - 1 - steps[None, :]  # t - 1 - s
        past = gap[..., None] * log_decay  # (t, s, C): s < t decays t - 1 - s steps
        earlier = (gap >= 0)[..., None]
        diagonal = torch.eye(size, dtype=torch.bool, device=k.device)[..., None]
        offset = torch.where(earlier, past, torch.where(diagonal, bonus, -math.inf))
        logits = offset + k_part[:, None]  # (B, t, s, C), log weight of v_s in wkv_t
        state_log = steps[:, None] * log_decay + exponent[:, None]  # (B, t, C): the carried sums' weight
        shift = torch.maximum(logits.amax(dim=2), state_log).detach()
        weights, carried = torch.exp(logits - shift[:, :, None]), torch.exp(state_log - shift)
        # An elementwise product and a sum, not a matmul: the count does not depend on
        # the chunk (a chunk's c x c weights would count c times the recurrence's work).
        total = (weights * v_part[:, None]).sum(dim=2) + carried * numerator[:, None]
        mass = weights.sum(dim=2) + carried * denominator[:, None]
        outputs.append(total / mass)

        end_log = (size - 1 - steps)[:, None] * log_decay + k_part  # (B, s, C): weight at the chunk's end
        carried_log = size * log_decay + exponent
        top = torch.maximum(end_log.amax(dim=1), carried_log).detach()
        kept, added = torch.exp(carried_log - top), torch.exp(end_log - top[:, None])
        numerator = kept * numerator + (added * v_part).sum(dim=1)
        denominator = kept * denominator + added.sum(dim=1)
        exponent = top
    return torch.cat(outputs, dim=1)


def token_shift(x: torch.Tensor) -> torch.Tensor:
    """x_{t-1} at each position t, zeros at the first."""
    return F.pad(x, (0, 0, 1, 0))[:, :-1]


def shift_mix(x: torch.Tensor, shifted: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    return x * mix + shifted * (1 - mix)


def _depth_ratios(layer: int, layers: int) -> tuple[float, float]:
    """RWKV-4's (0 -> 1, 1 -> almost 0) over the stack's depth; one layer counts as the first."""
    return layer / max(layers - 1, 1), 1.0 - layer / layers


def _channel_fraction(width: int) -> torch.Tensor:
    return torch.arange(width, dtype=torch.float32) / width


class TimeMixing(nn.Module):
    """RWKV-4's time mixing (the attention's place) on ``(B, T, d_model)``."""

    uncounted = "RWKV's WKV recurrence (per-channel decayed sums of exp(k) v, elementwise)"

    def __init__(self, d_model: int, layer: int, layers: int, chunk: int) -> None:
        super().__init__()
        self.chunk = chunk
        rising, falling = _depth_ratios(layer, layers)
        channel = torch.arange(d_model, dtype=torch.float32) / max(d_model - 1, 1)
        self.time_decay = nn.Parameter(-5 + 8 * channel ** (0.7 + 1.3 * rising))
        zigzag = ((torch.arange(d_model) + 1) % 3 - 1) * 0.5
        self.time_first = nn.Parameter(torch.full((d_model,), math.log(0.3)) + zigzag)
        fraction = _channel_fraction(d_model)
        self.mix_k = nn.Parameter(fraction**falling)
        self.mix_v = nn.Parameter(fraction**falling + 0.3 * rising)
        self.mix_r = nn.Parameter(fraction ** (0.5 * falling))
        self.key, self.value, self.receptance, self.output = (nn.Linear(d_model, d_model, bias=False) for _ in range(4))
        for zeroed in (self.key, self.receptance, self.output):
            nn.init.zeros_(zeroed.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = token_shift(x)
        k = self.key(shift_mix(x, shifted, self.mix_k))
        v = self.value(shift_mix(x, shifted, self.mix_v))
        r = self.receptance(shift_mix(x, shifted, self.mix_r))
        # Clamped before the exponential, not after: exp(time_decay) past float32 is inf,
        # and its backward (0 times inf) made the decay's gradient NaN, then every weight.
        log_decay = -torch.exp(self.time_decay.float().clamp(max=math.log(DECAY_FLOOR)))
        wkv = wkv_chunked(log_decay, self.time_first.float(), k.float(), v.float(), self.chunk)
        return self.output(torch.sigmoid(r) * wkv)


class ChannelMixing(nn.Module):
    """RWKV-4's channel mixing (the MLP's place): squared ReLU, gated by a receptance."""

    def __init__(self, d_model: int, hidden: int, layer: int, layers: int) -> None:
        super().__init__()
        _, falling = _depth_ratios(layer, layers)
        fraction = _channel_fraction(d_model)
        self.mix_k = nn.Parameter(fraction**falling)
        self.mix_r = nn.Parameter(fraction**falling)
        self.key = nn.Linear(d_model, hidden, bias=False)
        self.receptance = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(hidden, d_model, bias=False)
        for zeroed in (self.value, self.receptance):
            nn.init.zeros_(zeroed.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = token_shift(x)
        k = torch.square(torch.relu(self.key(shift_mix(x, shifted, self.mix_k))))
        return torch.sigmoid(self.receptance(shift_mix(x, shifted, self.mix_r))) * self.value(k)


class RWKVBlock(nn.Module):
    """Time mixing then channel mixing (none when ``hidden`` is 0), each pre-normed and residual."""

    def __init__(self, d_model: int, hidden: int, layer: int, layers: int, chunk: int) -> None:
        super().__init__()
        self.embedding_norm = nn.LayerNorm(d_model) if layer == 0 else None
        self.time_norm, self.time_mixing = nn.LayerNorm(d_model), TimeMixing(d_model, layer, layers, chunk)
        self.channel_norm = nn.LayerNorm(d_model) if hidden else None
        self.channel_mixing = ChannelMixing(d_model, hidden, layer, layers) if hidden else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding_norm is not None:
            x = self.embedding_norm(x)
        x = x + self.time_mixing(self.time_norm(x))
        if self.channel_mixing is not None and self.channel_norm is not None:
            x = x + self.channel_mixing(self.channel_norm(x))
        return x


def rwkv_network(
    signature: Signature, task: Task, d_model: int, layers: int, mlp_expand: int, chunk: int, readout: str
) -> CausalSequenceModel:
    """The shared causal stack (embedding, readout, final norm, head) with RWKV's blocks.

    RWKV's block replaces the shared one: its channel mixing takes the MLP's place, and
    each block's initialisation depends on its depth, which the shared stack's mixer
    factory does not pass; so the stack is built without blocks and given these."""
    network = CausalSequenceModel(signature, task, nn.Identity, d_model, 0, 0, readout)
    network.blocks = nn.ModuleList(
        RWKVBlock(d_model, mlp_expand * d_model, layer, layers, chunk) for layer in range(layers)
    )
    return network
