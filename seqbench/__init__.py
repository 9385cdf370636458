"""seqbench: a plugin-based benchmark harness for sequence-learning models.

The public names load on first use (PEP 562): ``python -m seqbench.worker`` imports
this package before its own code runs, and the worker must set each point's thread
budget before NumPy (and the BLAS under it) is loaded — see seqbench.threads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "hookimpl": "seqbench.hookspecs",
    "param": "seqbench.params",
    "Task": "seqbench.task",
    "Signature": "seqbench.task",
    "Examples": "seqbench.task",
    "Model": "seqbench.model",
    "FitSettings": "seqbench.model",
    "EpochOutcome": "seqbench.model",
    "resolve_device": "seqbench.model",
}

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

if TYPE_CHECKING:
    from seqbench.hookspecs import hookimpl
    from seqbench.model import EpochOutcome, FitSettings, Model, resolve_device
    from seqbench.params import param
    from seqbench.task import Examples, Signature, Task


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqbench' has no attribute {name!r}")
