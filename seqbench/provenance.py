"""Where a run came from: versions, interpreter, machine, suite file and git commit."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from seqbench.plugins import plugin_infos

__all__ = ["collect"]

FRAMEWORKS = ("numpy", "torch", "tensorflow", "keras", "ray")


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit(directory: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def collect(suite_path: Path, suite_hash: str) -> dict[str, Any]:
    """Provenance shared by every run of one suite invocation (collected once, in the parent)."""
    from seqbench import __version__

    return {
        "seqbench": __version__,
        "plugins": {
            info.name: f"{info.distribution} {info.version}"
            for info in plugin_infos()
            if info.error is None
        },
        "frameworks": {name: v for name in FRAMEWORKS if (v := _version(name))},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "host": socket.gethostname(),
        "suite_file": str(suite_path),
        "suite_hash": suite_hash,
        "git_commit": _git_commit(suite_path.resolve().parent),
    }
