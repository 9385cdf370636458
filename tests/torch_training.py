"""Building and fitting registered models directly, for the torch tests."""

from __future__ import annotations

from seqbench import registry
from seqbench.data import Split
from seqbench.model import EpochOutcome, FitSettings


def settings(epochs: int = 1, batch_size: int = 32, seed: int = 0) -> FitSettings:
    return FitSettings(epochs=epochs, batch_size=batch_size, device="cpu", seed=seed, patience=None)


def train(model_name: str, task, epochs: int, train_size: int, batch_size: int = 32, **params):
    """Build and fit a registered model; returns (model, per-epoch training losses)."""
    model = registry.models().get(model_name)(**params)
    run = settings(epochs, batch_size)
    model.build(task, run)
    losses: list[float] = []

    def on_epoch(epoch: int, loss: float, examples: int) -> EpochOutcome:
        losses.append(loss)
        return EpochOutcome(stop=False, improved=True)

    model.fit(Split(task, "train", train_size, seed=0), run, on_epoch)
    return model, losses
