"""Executors run a suite's points and yield their records as each finishes."""

from seqbench.executors.base import Executor, ProgressCallback

__all__ = ["Executor", "ProgressCallback"]
