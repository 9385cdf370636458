"""seqbench's built-in tasks, registered through the public ``register_tasks`` hook."""

from seqbench import hookimpl

from seqbench_tasks.adding import Adding
from seqbench_tasks.gp_pairs import GPPairs
from seqbench_tasks.polynomial import Polynomial
from seqbench_tasks.subsequence import Subsequence

__all__ = ["Adding", "GPPairs", "Polynomial", "Subsequence"]


@hookimpl
def register_tasks(register) -> None:
    register(Adding)
    register(GPPairs)
    register(Polynomial)
    register(Subsequence)
