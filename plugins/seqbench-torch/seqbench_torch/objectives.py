"""Loss and output conventions per target kind (see seqbench.task.Signature)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from seqbench.task import PAD_ID, Signature

__all__ = ["Objective", "objective_for"]


class Objective:
    """How a network's outputs are scored during training and handed back as NumPy."""

    target_dtype = torch.float32

    def __init__(self, signature: Signature) -> None:
        self.signature = signature

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def to_numpy(self, outputs: torch.Tensor) -> np.ndarray:
        # Straight to float64: a float32 detour would cost an exact graph its exactness.
        return outputs.detach().double().cpu().numpy()


class ScalarObjective(Objective):
    """Outputs (N,): squared error."""

    def loss(self, outputs, targets):
        return F.mse_loss(outputs.float(), targets)


class TokenObjective(Objective):
    """Training outputs are logits (N, T, V); predictions are ids (N, T).

    When the task marks an end token, padding after it is not part of the answer and is
    left out of the loss; otherwise (the subsequence task's zero padding) every position
    is an answer the model must give.
    """

    target_dtype = torch.long

    def loss(self, outputs, targets):
        ignore = PAD_ID if self.signature.end_id is not None else -100
        steps = min(outputs.shape[1], targets.shape[1])
        return F.cross_entropy(
            outputs[:, :steps].float().transpose(1, 2), targets[:, :steps], ignore_index=ignore
        )

    def to_numpy(self, outputs):
        ids = outputs.detach().cpu().numpy().astype(np.int64)
        full = np.full((len(ids), self.signature.target_length), PAD_ID, dtype=np.int64)
        steps = min(ids.shape[1], full.shape[1])
        full[:, :steps] = ids[:, :steps]
        return full


class GaussianObjective(Objective):
    """Outputs (N, T, 2): a mean and a variance per position; Gaussian negative log-likelihood."""

    def loss(self, outputs, targets):
        outputs = outputs.float()
        return F.gaussian_nll_loss(outputs[..., 0], targets, outputs[..., 1], full=True)


def objective_for(signature: Signature) -> Objective:
    kinds = {"scalar": ScalarObjective, "tokens": TokenObjective, "gaussian": GaussianObjective}
    return kinds[signature.targets](signature)
