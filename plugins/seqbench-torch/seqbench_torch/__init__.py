"""seqbench's PyTorch models, registered through the public ``register_models`` hook.

Importing this package does not import torch: the classes here only declare
hyper-parameters, so ``seqbench models`` and suite validation stay fast. torch is
imported when a model is built, inside the worker process that runs a point.
"""

from seqbench import hookimpl

from seqbench_torch.base import TorchModel
from seqbench_torch.causal_models import (
    TorchCausalTransformer,
    TorchHyena,
    TorchLinearAttention,
    TorchMamba,
    TorchRetNet,
    TorchRWKV,
    TorchS4D,
)
from seqbench_torch.models import (
    TorchAttention,
    TorchBatuketaAttention,
    TorchGPAttention,
    TorchGRUSeq2Seq,
    TorchLSTM,
    TorchOracle,
    TorchTransformer,
)

MODELS = (
    TorchLSTM,
    TorchAttention,
    TorchBatuketaAttention,
    TorchGRUSeq2Seq,
    TorchTransformer,
    TorchGPAttention,
    TorchOracle,
    TorchS4D,
    TorchMamba,
    TorchLinearAttention,
    TorchHyena,
    TorchRWKV,
    TorchRetNet,
    TorchCausalTransformer,
)

# TorchModel is the public way in for networks of other packages (docs/plugins.md).
__all__ = ["TorchModel", *(cls.__name__ for cls in MODELS)]


@hookimpl
def register_models(register) -> None:
    for model in MODELS:
        register(model)
