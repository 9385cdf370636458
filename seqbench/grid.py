"""Kept so that plugins importing ``seqbench.grid.Point`` still work: the point now
lives in ``seqbench.point``."""

from seqbench.point import Point, config_hash

__all__ = ["Point", "config_hash"]
