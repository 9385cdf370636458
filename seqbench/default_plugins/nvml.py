"""Registers the built-in NVML meter (GPU energy, power, utilisation, memory)."""

from seqbench.hookspecs import hookimpl
from seqbench.meters.nvml import NvmlMeter


@hookimpl
def register_meters(register) -> None:
    register(NvmlMeter)
