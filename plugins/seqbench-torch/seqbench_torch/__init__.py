"""seqbench's PyTorch models, registered through the public ``register_models`` hook.

Importing this package does not import torch: the classes here only declare
hyper-parameters, so ``seqbench models`` and suite validation stay fast. torch is
imported when a model is built, inside the worker process that runs a point.
"""

from seqbench import hookimpl

from seqbench_torch.models import (
    TorchAttention,
    TorchGPAttention,
    TorchGRUSeq2Seq,
    TorchLSTM,
    TorchOracle,
    TorchTransformer,
)

MODELS = (TorchLSTM, TorchAttention, TorchGRUSeq2Seq, TorchTransformer, TorchGPAttention, TorchOracle)

__all__ = [cls.__name__ for cls in MODELS]


@hookimpl
def register_models(register) -> None:
    for model in MODELS:
        register(model)
