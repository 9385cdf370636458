"""seqbench-example: registers the ``reverse`` task and the ``numpy:lookup`` model."""

from seqbench import hookimpl

from seqbench_example.lookup import PositionLookup
from seqbench_example.reverse import Reverse

__all__ = ["PositionLookup", "Reverse"]


@hookimpl
def register_tasks(register) -> None:
    register(Reverse)


@hookimpl
def register_models(register) -> None:
    register(PositionLookup)
