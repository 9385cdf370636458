"""What every network shares."""

from __future__ import annotations

from typing import Callable, ClassVar

import torch
from torch import nn

from seqbench.task import PAD_ID

__all__ = ["Network", "sequence_lengths", "pad_after_end", "answer_states"]


class Network(nn.Module):
    """``predict`` defaults to ``forward`` without targets; sequence decoders override it.

    For the FLOP count (seqbench_torch.flops): any module of a network may name, in
    ``uncounted``, products of the model its count does not see (an FFT convolution),
    which makes the count a lower bound; ``counted_prediction`` says what one
    prediction's model FLOPs are counted on."""

    uncounted: ClassVar[str] = ""

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        return self(inputs)

    def counted_prediction(self, inputs: torch.Tensor) -> Callable[[], object]:
        """A call doing one prediction's model products, which the count runs under
        its counter: ``predict`` itself. A network whose ``predict`` recomputes (a
        decoder re-run over every prefix) returns the same products done once; what it
        must run first to know their shapes (the decoding, for its length) it runs
        here, uncounted."""
        return lambda: self.predict(inputs)


def sequence_lengths(tokens: torch.Tensor) -> torch.Tensor:
    """Each row's length up to and including its last non-PAD token (at least 1)."""
    positions = torch.arange(1, tokens.shape[1] + 1, device=tokens.device)
    return (positions * (tokens != PAD_ID)).amax(dim=1).clamp(min=1)


def pad_after_end(ids: torch.Tensor, end_id: int | None) -> torch.Tensor:
    """``ids`` with every token after a row's first ``end_id`` replaced by PAD_ID."""
    if end_id is None:
        return ids
    ended = (ids == end_id).long().cumsum(dim=1)
    after = (ended - (ids == end_id).long()) > 0  # strictly after the first end
    return ids.masked_fill(after, PAD_ID)


def answer_states(states: torch.Tensor, tokens: torch.Tensor, answers: int) -> torch.Tensor:
    """A causal network's states (N, T, H) at each row's last ``answers`` non-PAD
    positions, (N, answers, H): where a token task's answers are due (the answer slots
    of seqbench-tasks' synthetic tasks; the "empty targets" of Delétang et al. 2023).
    A row shorter than ``answers`` repeats its first position for the missing ones."""
    last = sequence_lengths(tokens)[:, None] - answers + torch.arange(answers, device=tokens.device)
    where = last.clamp(min=0)[..., None].expand(-1, -1, states.shape[-1])
    return states.gather(1, where)
