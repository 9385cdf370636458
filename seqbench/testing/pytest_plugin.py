"""seqbench's pytest plugin (entry point ``pytest11``), loaded wherever seqbench is installed.

Fixtures: ``seqbench_task`` and ``seqbench_model`` build any registered task or model
at tiny size; ``seqbench_settings`` is a tiny CPU FitSettings.

``pytest --seqbench-conformance=PLUGIN`` checks PLUGIN's tasks and models against the
contract (every installed plugin when no name is given). Without test paths on the
command line it runs only the checks; with them, both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

ALL = "all"
OPTION = "--seqbench-conformance"
CHECKS_MODULE = "seqbench.testing.conformance.test_seqbench_contract"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seqbench", "seqbench plugin conformance")
    group.addoption(
        OPTION,
        nargs="?",
        const=ALL,
        default=None,
        metavar="PLUGIN[,PLUGIN...]",
        help="check these seqbench plugins' tasks and models against the contract "
        "(entry-point or distribution names; all installed plugins when none given). "
        "Write it as --seqbench-conformance=NAME.",
    )


def selected_plugins(config: pytest.Config) -> set[str] | None:
    """Plugin names (entry points) the option selects; None when it is not given."""
    value = config.getoption(OPTION.lstrip("-").replace("-", "_"))
    if value is None:
        return None
    from seqbench.plugins import plugin_infos

    infos = plugin_infos()
    if value == ALL:
        return {info.name for info in infos}
    chosen: set[str] = set()
    for wanted in filter(None, (part.strip() for part in value.split(","))):
        matches = {info.name for info in infos if wanted in (info.name, info.distribution)}
        if not matches:
            installed = sorted({info.distribution for info in infos} | {info.name for info in infos})
            raise pytest.UsageError(
                f"{OPTION}: no installed seqbench plugin named {wanted!r}; installed: {', '.join(installed)}"
            )
        chosen |= matches
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "seqbench_conformance: a seqbench plugin conformance check")
    if selected_plugins(config) is None:
        return
    from seqbench.testing import conformance

    # The directory, not the file: node ids then read test_seqbench_contract.py::...
    checks = str(Path(conformance.__file__).parent)
    # `pytest --seqbench-conformance` alone runs only the checks, not the testpaths too.
    given = getattr(config, "args_source", None) == pytest.Config.ArgsSource.ARGS
    config.args = [*config.args, checks] if given else [checks]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # By where the check is defined, so a test module may import the checks and run them.
    if metafunc.function.__module__ != CHECKS_MODULE:
        return
    from seqbench.testing.selection import parameters

    # None (the module named on the command line without the option): every plugin.
    selected = selected_plugins(metafunc.config)
    for argname, values in parameters(selected).items():
        if argname in metafunc.fixturenames:
            metafunc.parametrize(argname, values)


@pytest.fixture
def seqbench_task() -> Callable[..., Any]:
    """``seqbench_task("reverse", length=6)``: a registered task at tiny size (defaults,
    then its ``smoke`` overrides, then yours)."""
    from seqbench.testing.build import tiny_task

    return tiny_task


@pytest.fixture
def seqbench_model() -> Callable[..., Any]:
    """``seqbench_model("numpy:lookup")``: a registered model at tiny size; build and
    train it with ``seqbench.testing.fit(model, task)``."""
    from seqbench.testing.build import tiny_model

    return tiny_model


@pytest.fixture
def seqbench_settings() -> Any:
    """Tiny CPU training settings: 2 epochs, batches of 32, seed 0."""
    from seqbench.testing.build import tiny_settings

    return tiny_settings()


@pytest.fixture(scope="session")
def seqbench_other_process() -> Iterator[Any]:
    """A second Python process (another hash seed) to unpickle tasks and models in."""
    from seqbench.testing.child import OtherProcess

    with OtherProcess() as other:
        yield other
