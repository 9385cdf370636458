"""Registers the built-in ``local`` executor."""

from seqbench.executors.local import LocalExecutor
from seqbench.hookspecs import hookimpl


@hookimpl
def register_executors(register) -> None:
    register(LocalExecutor)
