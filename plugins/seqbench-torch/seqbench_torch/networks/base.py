"""What every network shares."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Network"]


class Network(nn.Module):
    """``predict`` defaults to ``forward`` without targets; sequence decoders override it."""

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        return self(inputs)
