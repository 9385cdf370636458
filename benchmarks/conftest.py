"""pytest-benchmark set-up for ``pytest benchmarks/ --benchmark-only``.

Parametrises the benchmarks over what is installed: every registered model on every
task it serves, every task, each at its tiny (smoke) size and a shorter length. Every
result in the JSON (``--benchmark-json`` or ``--benchmark-autosave``) carries
seqbench's run metadata in ``extra_info``: seqbench's version, each plugin's, and the
provenance a suite run records. Timing defaults are short so the whole set runs in a
few minutes on a laptop CPU; pass ``--benchmark-max-time`` / ``--benchmark-min-rounds``
to measure longer, and ``--seqbench-device=cuda`` to build the models on a GPU.
"""

from __future__ import annotations

import hashlib
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from cases import model_cases, task_cases

HERE = Path(__file__).resolve().parent
SHORT_DEFAULTS = {
    "benchmark_max_time": ("--benchmark-max-time", 0.1),
    "benchmark_min_rounds": ("--benchmark-min-rounds", 3),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seqbench-device", default="cpu",
        help="device the model benchmarks build models on: cpu (default), cuda or cuda:N",
    )


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--seqbench-device")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    given = config.invocation_params.args
    for attribute, (option, value) in SHORT_DEFAULTS.items():
        if not any(str(arg).startswith(option) for arg in given):
            setattr(config.option, attribute, value)


@cache
def seqbench_metadata() -> dict[str, Any]:
    from seqbench.provenance import collect

    digest = hashlib.sha256()
    for path in sorted(HERE.glob("test_bench_*.py")):
        digest.update(path.read_bytes())
    provenance = collect(HERE, digest.hexdigest())
    return {"seqbench": provenance["seqbench"], "plugins": provenance["plugins"], "provenance": provenance}


def threads() -> dict[str, int]:
    """Intra-op threads of the frameworks loaded: on a busy CPU they decide the figures."""
    found = {}
    if "torch" in sys.modules:
        found["torch"] = sys.modules["torch"].get_num_threads()
    return found


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
    for benchmark in output_json["benchmarks"]:
        benchmark["extra_info"].update(seqbench_metadata(), threads=threads())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "task_case" in metafunc.fixturenames:
        metafunc.parametrize("task_case", task_cases())
    if "model_case" in metafunc.fixturenames:
        metafunc.parametrize("model_case", model_cases())
