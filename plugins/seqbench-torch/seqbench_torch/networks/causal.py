"""The causal sequence model every new architecture shares; only its mixer differs.

A token task's input is read left to right by a stack of residual blocks, each a
sequence mixer (S4D, a selective SSM, linear attention, a long convolution or softmax
attention) then a position-wise MLP, both behind a LayerNorm (the "pre-norm" block of
zoology, Arora et al. 2023, and of the Mamba paper's language models). No block sees a
later position than its own.

Where the answer is read (``readout``):

- ``"end"``: ``target_length`` answer slots (one extra embedding, never an input
  token) follow the input; the logits at the slots are the answer, all predicted at
  once, not fed back. Any (tokens -> tokens) task fits it, reversal included.
- ``"last"``: the answer is read at the input's own last ``target_length`` non-PAD
  positions, each row's own: the layout of seqbench's synthetic tasks, whose inputs end
  in answer slots (selective copying's markers, Gu & Dao 2023; MQAR's queries, Arora
  et al. 2023; Delétang et al. 2023's empty targets). With ``target_length ==
  input_length`` that is one answer per input position.

At another length than it was built for, the model answers with its own
``target_length`` positions.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from seqbench.task import Signature, Task
from seqbench_torch.networks.base import Network, answer_states

__all__ = ["CausalSequenceModel", "causal_transformer_network", "MLP", "SoftmaxAttention", "causal_depthwise_conv"]

READOUTS = ("end", "last")

Mixer = Callable[[], nn.Module]


class MLP(nn.Module):
    """Position-wise feed-forward: Linear, GELU, Linear."""

    def __init__(self, d_model: int, expand: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, expand * d_model), nn.GELU(), nn.Linear(expand * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    def __init__(self, d_model: int, mixer: nn.Module, mlp_expand: int) -> None:
        super().__init__()
        self.mix_norm, self.mixer = nn.LayerNorm(d_model), mixer
        self.mlp = MLP(d_model, mlp_expand) if mlp_expand > 0 else None
        self.mlp_norm = nn.LayerNorm(d_model) if self.mlp is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.mix_norm(x))
        if self.mlp is not None:
            x = x + self.mlp(self.mlp_norm(x))
        return x


def sinusoidal_positions(length: int, d_model: int, device: torch.device) -> torch.Tensor:
    """Vaswani et al. (2017)'s fixed position code, (length, d_model): defined at any length."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2, device=device) * (-math.log(10000.0) / d_model))
    code = torch.zeros(length, d_model, device=device)
    code[:, 0::2] = torch.sin(position * frequency)
    code[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
    return code


def causal_depthwise_conv(channels: int, width: int) -> nn.Conv1d:
    """A per-channel convolution over the last ``width`` positions (pad left, cut right):
    the short convolution of H3, Hyena and Mamba."""
    return nn.Conv1d(channels, channels, width, groups=channels, padding=width - 1)


class SoftmaxAttention(nn.Module):
    """Causal multi-head softmax attention (Vaswani et al. 2017), the baseline the
    sub-quadratic mixers are compared with (zoology's "attention")."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"heads ({heads}) must divide d_model ({d_model})")
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(batch, length, width))


class CausalSequenceModel(Network):
    """Embedding, ``layers`` blocks of ``make_mixer()`` + MLP, a final LayerNorm and a
    linear head to ``target_vocab`` logits. ``positions`` adds the fixed sinusoidal code
    to the embeddings (for mixers with no sense of order of their own: attention)."""

    def __init__(
        self,
        signature: Signature,
        task: Task,
        make_mixer: Mixer,
        d_model: int,
        layers: int,
        mlp_expand: int,
        readout: str,
        positions: bool = False,
    ) -> None:
        super().__init__()
        if signature.kind != ("tokens", "tokens") or None in (signature.input_vocab, signature.target_vocab):
            raise ValueError(f"a causal sequence model reads tokens and writes tokens, not {signature.describe()}")
        if readout not in READOUTS:
            raise ValueError(f"readout is {readout!r}; expected one of {READOUTS}")
        if readout == "last" and (signature.target_length or 0) > signature.input_length:
            raise ValueError(
                f"readout 'last' reads the answer at the input's last positions, but this task's "
                f"targets ({signature.target_length}) are longer than its inputs "
                f"({signature.input_length}); use readout = 'end'"
            )
        self.readout = readout
        self.target_length = int(signature.target_length or 0)
        self.slot_id = signature.input_vocab  # one past the input ids: the answer slot
        self.embedding = nn.Embedding(signature.input_vocab + 1, d_model)
        self.positions = positions
        self.blocks = nn.ModuleList(Block(d_model, make_mixer(), mlp_expand) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, signature.target_vocab)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(N, answer positions, target_vocab)``; ``targets`` is not used (no
        teacher forcing: every answer is predicted from the input alone)."""
        tokens = inputs
        if self.readout == "end":
            slots = torch.full((len(inputs), self.target_length), self.slot_id, dtype=inputs.dtype, device=inputs.device)
            tokens = torch.cat([inputs, slots], dim=1)
        x = self.embedding(tokens)
        if self.positions:
            x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device)
        for block in self.blocks:
            x = block(x)
        # Only the answer positions reach the head (a large vocabulary's logits at every
        # position would cost more than the model).
        if self.readout == "end":
            x = x[:, -self.target_length :]
        else:  # each row's last target_length non-PAD positions
            x = answer_states(x, inputs, self.target_length)
        return self.head(self.norm(x))

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        return self(inputs).argmax(dim=-1)


def causal_transformer_network(
    signature: Signature, task: Task, d_model: int, layers: int, heads: int, mlp_expand: int, readout: str
) -> CausalSequenceModel:
    """``torch:causal-transformer``: softmax attention in the same causal stack."""
    return CausalSequenceModel(
        signature, task, lambda: SoftmaxAttention(d_model, heads), d_model, layers, mlp_expand, readout,
        positions=True,
    )
