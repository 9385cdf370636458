"""Shared fixtures: real plugins installed into a temporary site directory."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from seqbench import plugins

SUITES = Path(__file__).resolve().parent.parent / "suites"


@pytest.fixture(scope="session", autouse=True)
def short_gpu_idle(tmp_path_factory):
    """The NVML meter's idle window shortened to 0.2 s for every test and its workers
    (3 s by default), with an idle cache of the session's own."""
    from seqbench.meters.idle import CACHE_VARIABLE
    from seqbench.meters.nvml import NvmlMeter

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQBENCH_GPU_IDLE_SECONDS", "0.2")
        patch.setattr(NvmlMeter, "idle_seconds", 0.2)
        patch.setenv(CACHE_VARIABLE, str(tmp_path_factory.mktemp("gpu-idle") / "idle.json"))
        yield


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread_in_the_test_process():
    """Torch and TensorFlow work done inside a test process (not in a point's worker, which
    ``run.threads`` looks after) runs on one thread. The test processes share the
    machine's cores with each other and with their workers; torch's default of a
    thread per core then loses whole scheduler slices whenever the kernel puts both
    threads on one core (docs/measurement.md): twice the time for
    test_torch_seq2seq's training beside one busy process. Nothing is set in the
    environment, so workers and their "auto" threads see the machine as users do."""
    torch = sys.modules.get("torch")  # imported while collecting, where any test needs it
    if torch is not None:
        torch.set_num_threads(1)
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None:
        try:  # TensorFlow takes this only before its runtime starts
            tensorflow.config.threading.set_intra_op_parallelism_threads(1)
            tensorflow.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
    yield


@pytest.fixture(autouse=True)
def gpu_idle_cache(tmp_path, monkeypatch):
    """Each test its own idle cache: fake GPUs' UUIDs repeat from test to test."""
    from seqbench.meters.idle import CACHE_VARIABLE

    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "gpu-idle.json"))


@pytest.fixture(autouse=True)
def fresh_plugins():
    """Each test sees exactly the plugins installed for it."""
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "results" / "store.sqlite"


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Install a one-module plugin as a real distribution (dist-info with an entry point
    in group ``seqbench``) on sys.path and on PYTHONPATH, so worker processes see it too.

    ``install_plugin("seqbench-bad", source)`` returns the site directory.
    """
    site = tmp_path / "site-packages"
    site.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))

    def install(distribution: str, source: str, entry_point: str | None = None, version: str = "0.0.1") -> Path:
        module = distribution.replace("-", "_")
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[seqbench]\n{entry_point or distribution} = {module}\n")
        sys.modules.pop(module, None)
        importlib.invalidate_caches()
        plugins.reset()
        return site

    return install


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[..., Path]:
    """``write_suite(text, name="suite.toml")`` writes a suite file into tmp_path."""

    def write(text: str, name: str = "suite.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
