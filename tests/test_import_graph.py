"""No import cycles among seqbench's modules. Every import counts: at module level, inside
functions (a deferred import is still a dependency; deferring one only hides a cycle
until the day the function runs first) and under ``if TYPE_CHECKING`` (mypy follows
those). A package's ``__init__`` importing its own modules is how packages work, so a
module does not depend on its package merely by living in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "seqbench"


def module_files(package: Path) -> dict[str, Path]:
    """``seqbench.report.sets`` -> its file, for every module and package."""
    found = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_names(path: Path, module: str) -> list[tuple[str, int]]:
    """Every name ``path`` imports, absolute, with its line: ``from . import x`` in
    ``seqbench.plots`` gives ``seqbench.plots.x``."""
    names = []
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # `from seqbench import registry` imports a module; `from seqbench.x import y`
            # a name of module seqbench.x: both resolve below to the longest module.
            names += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return names


def import_graph(package: Path) -> dict[str, dict[str, int]]:
    """Module -> {module it imports: line of the first such import}."""
    files = module_files(package)

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {module: {} for module in files}
    for module, path in files.items():
        for name, line in imported_names(path, module):
            target = resolve(name) if name.split(".")[0] == package.name else None
            if target and target != module:
                graph[module].setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (a closed path of modules) per strongly connected component that has
    one, found by depth-first search."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str], on_path: set[str]) -> None:
        for target in sorted(graph[module]):
            if target in on_path:
                cycle = path[path.index(target):] + [target]
                if not any(set(cycle) == set(seen) for seen in found):
                    found.append(cycle)
            elif target not in done:
                path.append(target)
                on_path.add(target)
                visit(target, path, on_path)
                on_path.discard(path.pop())
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module], {module})
    return found


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " -> ".join(
        f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])
    ) + f" -> {cycle[-1]}"


def test_seqbench_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 50 and "seqbench.plugins" in graph["seqbench.registry"]
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(c, graph) for c in found)


@pytest.mark.parametrize("imports, expected", [
    ({"a": "from pkg import b", "b": "def f():\n    from pkg.a import thing"}, ["pkg.a", "pkg.b", "pkg.a"]),
    ({"a": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B", "b": "import pkg.a"},
     ["pkg.a", "pkg.b", "pkg.a"]),
    ({"a": "from pkg.b import x", "b": "from pkg.c import y", "c": "import os"}, None),
])
def test_the_check_finds_deferred_and_type_checking_cycles(tmp_path, imports, expected):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg import a, b\n")  # a package importing its own: fine
    for name, source in imports.items():
        (package / f"{name}.py").write_text(source + "\n")
    found = cycles(import_graph(package))
    assert found == ([expected] if expected else [])
