"""seqbench's built-in tasks, registered through the public ``register_tasks`` hook."""

from seqbench import hookimpl

from seqbench_tasks.adding import Adding

__all__ = ["Adding"]


@hookimpl
def register_tasks(register) -> None:
    register(Adding)
