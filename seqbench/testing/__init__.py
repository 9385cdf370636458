"""seqbench's test kit for plugin authors: tiny tasks and models, and the conformance rules.

The pytest plugin (entry point ``pytest11``: ``seqbench``) gives the fixtures
``seqbench_task``, ``seqbench_model`` and ``seqbench_settings``, and
``pytest --seqbench-conformance=PLUGIN`` checks a plugin against the contract.
Everything here is usable without pytest too.
"""

from seqbench.testing.build import EpochLog, fit, tiny_model, tiny_settings, tiny_task
from seqbench.testing.contract import ContractViolation
from seqbench.testing.model_rules import MODEL_RULES
from seqbench.testing.task_rules import TASK_RULES

__all__ = [
    "tiny_task",
    "tiny_model",
    "tiny_settings",
    "fit",
    "EpochLog",
    "ContractViolation",
    "TASK_RULES",
    "MODEL_RULES",
]
