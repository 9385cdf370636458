"""CPU seconds and peak resident memory of the process running a point."""

from __future__ import annotations

import resource
import sys
from typing import Any

from seqbench.meters.base import Meter

__all__ = ["ResourcesMeter"]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_bytes() -> int:
    # On Linux, ru_maxrss survives fork and exec: a worker would report its parent's
    # peak when that is higher. VmHWM is this process image's own high-water mark.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return int(peak if sys.platform == "darwin" else peak * 1024)


class ResourcesMeter(Meter):
    name = "resources"
    description = "CPU seconds per phase and the process's peak resident memory (RSS)"

    def start(self, phase: str) -> None:
        self._cpu_start = _cpu_seconds()

    def read(self, phase: str) -> dict[str, Any]:
        return self.stop(phase)

    def stop(self, phase: str) -> dict[str, Any]:
        return {"cpu_s": _cpu_seconds() - self._cpu_start, "peak_rss_bytes": _peak_rss_bytes()}
