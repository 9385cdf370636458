"""Registers the built-in ``ray`` executor. Ray is imported only when a sweep uses it,
so seqbench works, and lists this executor, without Ray installed."""

from seqbench.executors.ray import RayExecutor
from seqbench.hookspecs import hookimpl


@hookimpl
def register_executors(register) -> None:
    register(RayExecutor)
