"""Other people's work on a shared machine, for the threads benchmarks: processes that
spin on the CPU, and the environment a `seqbench run` gets so that it sees the
frameworks' own thread defaults rather than this shell's settings."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from seqbench.threads import THREAD_VARIABLES

__all__ = ["busy_processes", "framework_environment"]


def framework_environment() -> dict[str, str]:
    """This process's environment without any thread count or OpenMP wait policy."""
    return {name: value for name, value in os.environ.items()
            if name not in THREAD_VARIABLES and name != "OMP_WAIT_POLICY"}


@contextmanager
def busy_processes(count: int) -> Iterator[list[int]]:
    """``count`` processes spinning on the CPU (their ids), given a second to take their
    cores, and killed on the way out."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(1.0 if count else 0.0)
        yield [spinner.pid for spinner in spinners]
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
