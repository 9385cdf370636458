"""Every hook in seqbench/hookspecs.py is documented in docs/plugins.md with its signature,
and has a ``test_hook_<name>`` that installs a plugin implementing it (the page's own
example code) and uses what it registered: datasette's rule, so no hook goes undocumented
or untested."""

from __future__ import annotations

import ast
import functools
import inspect
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from doc_blocks import file_blocks
from seqbench import hookspecs, registry, results
from seqbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
HOOKS = sorted(
    name for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, "seqbench_spec")
)


def documented_signature(name: str) -> str:
    """``def register_tasks(register: Callable[[type], None]) -> None``, from the spec."""
    signature = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"def {name}({params}) -> {signature.return_annotation}"


def test_the_hooks_are_the_four_of_the_design():
    assert HOOKS == ["register_executors", "register_meters", "register_models", "register_tasks"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_with_its_signature_in_docs_plugins_md(hook):
    text = DOC.read_text()
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = f"### `{hook}({params})`"
    assert heading in text, f"docs/plugins.md has no section {heading!r}"
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    assert documented_signature(hook) in section


@functools.cache
def names_of_test_functions() -> set[str]:
    return {
        node.name
        for path in (ROOT / "tests").glob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
    }


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert f"test_hook_{hook}" in names_of_test_functions()


# The hooks at work, each through the example code docs/plugins.md shows. ------------


def install_from_doc(install_plugin, distribution: str, *files: str, registration: str = "") -> None:
    shown = file_blocks(DOC)
    install_plugin(distribution, "\n".join(shown[name] for name in files) + registration)


def run(suite: Path, store: Path, *options: str):
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store), *options])
    assert result.exit_code == 0, result.output
    return results.load(store)


ORACLE_ON_ADDING = """
[suite]
name = "hooks"
[run]
epochs = 1
train_size = 64
eval_size = 32
batch_size = 32
device = "cpu"
[task]
name = "adding"
seq_len = 5
[[model]]
name = "oracle"
"""


def test_hook_register_tasks(install_plugin, write_suite, store_path, monkeypatch):
    # The page's task, installed under another name, so the repository's copy steps aside.
    monkeypatch.setenv("SEQBENCH_DISABLE_PLUGINS", "seqbench-example")
    install_from_doc(
        install_plugin, "seqbench-hook-tasks", "seqbench-example/seqbench_example/reverse.py",
        registration="\nfrom seqbench import hookimpl\n\n@hookimpl\ndef register_tasks(register):\n"
        "    register(Reverse)\n",
    )
    assert registry.tasks().plugin_of("reverse") == "seqbench-hook-tasks"
    suite = write_suite(ORACLE_ON_ADDING.replace('name = "adding"\nseq_len = 5', 'name = "reverse"\nlength = 4'))
    frame = run(suite, store_path)
    assert list(frame["status"]) == ["ok"]
    assert frame["metric.exact_match"].iloc[0] == 1.0


def test_hook_register_models(install_plugin, write_suite, store_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_DISABLE_PLUGINS", "seqbench-example")
    install_from_doc(
        install_plugin, "seqbench-hook-models", "seqbench-example/seqbench_example/lookup.py",
        registration="\nfrom seqbench import hookimpl\n\n@hookimpl\ndef register_models(register):\n"
        "    register(PositionLookup)\n",
    )
    assert registry.models().plugin_of("numpy:lookup") == "seqbench-hook-models"
    suite = write_suite(
        ORACLE_ON_ADDING.replace('name = "adding"\nseq_len = 5', 'name = "subsequence"')
        .replace('name = "oracle"', 'name = "numpy:lookup"')
    )
    frame = run(suite, store_path)
    assert list(frame["status"]) == ["ok"]
    assert frame["time.epochs"].iloc[0] == 1  # its one counting pass, reported as an epoch
    assert 0.0 <= frame["metric.token_accuracy"].iloc[0] <= 1.0


def test_hook_register_meters(install_plugin, write_suite, store_path):
    install_from_doc(install_plugin, "seqbench-gc", "seqbench_gc.py")
    assert registry.meters().plugin_of("gc") == "seqbench-gc"
    frame = run(write_suite(ORACLE_ON_ADDING), store_path)
    for phase in ("data", "train", "eval"):
        collections = frame[f"meter.gc.{phase}.collections"].iloc[0]
        assert collections >= 0 and collections == int(collections)


def test_hook_register_executors(install_plugin, write_suite, store_path):
    install_from_doc(install_plugin, "seqbench-inline", "seqbench_inline.py")
    assert registry.executors().plugin_of("inline") == "seqbench-inline"
    frame = run(write_suite(ORACLE_ON_ADDING), store_path, "--executor", "inline")
    assert list(frame["status"]) == ["ok"]
    # Only a worker process records its start-up time; these points ran in this one.
    startup = frame.get("time.startup_s")
    assert startup is None or math.isnan(startup.iloc[0])
    listing = CliRunner().invoke(main, ["plugins"])
    assert "seqbench-inline  (seqbench-inline 0.0.1)\n    executors: inline" in listing.output
