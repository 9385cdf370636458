"""seqbench's TensorFlow/Keras models, registered through the public ``register_models`` hook.

Importing this package does not import TensorFlow: the classes here only declare
hyper-parameters, so ``seqbench models`` and suite validation stay fast, and the plugin
loads where TensorFlow is missing (its models are then listed as unavailable, with the
install command). TensorFlow is imported when a model is built, in the worker process
that runs a point.
"""

from seqbench import hookimpl

from seqbench_tensorflow.models import (
    TFLSTM,
    TFAttention,
    TFGPAttention,
    TFGRUSeq2Seq,
    TFOracle,
    TFTransformer,
)

MODELS = (TFLSTM, TFAttention, TFGRUSeq2Seq, TFTransformer, TFGPAttention, TFOracle)

__all__ = [cls.__name__ for cls in MODELS]


@hookimpl
def register_models(register) -> None:
    for model in MODELS:
        register(model)
