"""Where a run came from: versions, interpreter, machine, GPUs and driver, suite file and
git commit.

Two parts, collected where each is true: ``machine()`` in every point's worker (the
machine and software the point ran with: under Ray, a node the driver never sees), and
``collect()`` once per sweep in the parent (the suite file, its hash, the working folder,
the git commit, and the parent's machine, which stands for a record that carries none:
one an executor made for a worker that died, or one from an earlier worker).
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from seqbench.paths import working_folder
from seqbench.plugins import plugin_infos

__all__ = ["collect", "machine", "gpu_provenance", "MACHINE_KEYS"]

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


# Widest first: the vector extension a CPU's kernels use changes floating-point
# rounding, so results at one seed differ between CPUs (docs/measurement.md).
SIMD_FLAGS = ("avx512f", "avx2", "avx", "sse4_2", "asimd")


def _cpu_simd(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The widest vector extension ``cpuinfo`` lists (None where it cannot be read)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
            break
    return next((flag for flag in SIMD_FLAGS if flag in flags), None)


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


def _cuda_version(number: int) -> str:
    # NVML encodes CUDA 12.4 as 12040.
    return f"{number // 1000}.{number % 1000 // 10}"


def gpu_provenance() -> dict[str, Any]:
    """GPU names and driver and CUDA driver versions from NVML, or None and the reason.

    Without an NVIDIA driver this costs the import of pynvml and one failed library
    load (milliseconds).
    """
    from seqbench.meters.nvml import start_nvml, text
    from seqbench.meters.nvml_lib import cuda_gpus, handle_by_uuid

    found: dict[str, Any] = {
        "gpus": None, "gpu_driver": None, "cuda_driver": None, "gpu_unavailable": None
    }
    nvml, reason = start_nvml()
    if nvml is None:
        found["gpu_unavailable"] = reason
        return found
    try:
        count = nvml.nvmlDeviceGetCount()
        # In CUDA's numbering (PCI bus order, as workers set CUDA_DEVICE_ORDER), not
        # NVML's index order: gpus[N] is the GPU a point on cuda:N ran on when
        # CUDA_VISIBLE_DEVICES is unset.
        found["gpus"] = [
            text(nvml.nvmlDeviceGetName(handle_by_uuid(nvml, uuid))) for uuid in cuda_gpus(nvml, None)
        ]
        found["gpu_driver"] = text(nvml.nvmlSystemGetDriverVersion())
        found["cuda_driver"] = _cuda_version(nvml.nvmlSystemGetCudaDriverVersion())
        if not count:
            found["gpu_unavailable"] = "NVML finds no GPU"
    except nvml.NVMLError as error:
        found["gpu_unavailable"] = f"NVML: {error}"
    except Exception as error:  # a broken NVML library or binding: provenance says so, the point runs
        found["gpus"] = None
        found["gpu_unavailable"] = f"reading the GPUs failed: {type(error).__name__}: {error}"[:300]
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass
    return found


MACHINE_KEYS = (
    "seqbench", "plugins", "frameworks", "python", "platform", "cpu", "cpu_simd", "cpu_count", "host",
    "gpus", "gpu_driver", "cuda_driver", "gpu_unavailable",
)
"""The keys ``machine()`` gives: a point's worker records them, and they override the sweep's."""


@functools.cache
def _process_facts() -> dict[str, Any]:
    # What cannot change while a process lives; about 4 ms of package metadata and
    # /proc reads, paid once per process.
    from seqbench import __version__

    return {
        "seqbench": __version__,
        "frameworks": {name: v for name in FRAMEWORKS if (v := _version(name))},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_simd": _cpu_simd(),
        "cpu_count": os.cpu_count(),
        "host": socket.gethostname(),
    }


def machine() -> dict[str, Any]:
    """The machine this process runs on and the software it runs (``MACHINE_KEYS``):
    seqbench, plugin and framework versions, Python, platform, CPU, core count, host,
    and the GPUs and driver NVML sees. About 12 ms in a fresh process without an NVIDIA
    driver, most of it importing pynvml, which the GPU meter imports anyway wherever a
    point may use a GPU."""
    facts = _process_facts()
    return {
        "seqbench": facts["seqbench"],
        "plugins": {
            info.name: f"{info.distribution} {info.version}"
            for info in plugin_infos()
            if info.error is None
        },
        **{key: dict(value) if isinstance(value, dict) else value
           for key, value in facts.items() if key != "seqbench"},
        **gpu_provenance(),
    }


def collect(suite_path: Path, suite_hash: str) -> dict[str, Any]:
    """Provenance shared by every run of one suite invocation (collected once, in the
    parent): the suite's, and this machine's (``machine()``), which each point's worker
    replaces with its own."""
    return {
        **machine(),
        "suite_file": str(suite_path),
        # The same file wherever a report is later run from (suite_file is as typed,
        # often relative to the folder the run started in).
        "suite_path": str(suite_path.resolve()),
        "suite_hash": suite_hash,
        # Where a relative path in the suite (polynomial's data_file) was read from:
        # report and prune read the file again from here to tell its points (null: the
        # folder was deleted under the run).
        "cwd": str(here) if (here := working_folder()) is not None else None,
        "git_commit": _git_commit(suite_path.resolve().parent),
    }
