"""seqbench: a plugin-based benchmark harness for sequence-learning models."""

from seqbench.hookspecs import hookimpl
from seqbench.model import EpochOutcome, FitSettings, Model, resolve_device
from seqbench.params import param
from seqbench.task import Examples, Signature, Task

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "hookimpl",
    "param",
    "Task",
    "Signature",
    "Examples",
    "Model",
    "FitSettings",
    "EpochOutcome",
    "resolve_device",
]
