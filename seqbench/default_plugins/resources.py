"""Registers the built-in resources meter (CPU seconds, peak RSS)."""

from seqbench.hookspecs import hookimpl
from seqbench.meters.resources import ResourcesMeter


@hookimpl
def register_meters(register) -> None:
    register(ResourcesMeter)
