"""Measurement back-ends. A meter measures one phase at a time (data, train, eval, ...)."""

from seqbench.meters.base import Meter, MeterSet, run_meters

__all__ = ["Meter", "MeterSet", "run_meters"]
