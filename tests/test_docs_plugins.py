"""docs/plugins.md, followed literally: its files are the example plugin in the repository,
and in a fresh virtual environment its commands install that plugin, list it, run its
suite and pass its tests and the conformance checks, printing what the page shows."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from doc_blocks import console_steps, file_blocks, first_missing_line

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "plugins" / "seqbench-example"
FOLDER = "seqbench-example/"
BUILD_LEFTOVERS = ("__pycache__", ".egg-info", ".pytest_cache", "results")


def example_files() -> set[str]:
    found = set()
    for path in EXAMPLE.rglob("*"):
        relative = path.relative_to(EXAMPLE)
        if path.is_file() and not any(part.endswith(BUILD_LEFTOVERS) for part in relative.parts):
            found.add(str(relative))
    return found


def test_the_page_shows_every_file_of_the_example_plugin_as_it_is():
    shown = file_blocks(DOC, under=FOLDER)
    assert set(shown) == example_files()
    for name, text in shown.items():
        assert text == (EXAMPLE / name).read_text(), f"docs/plugins.md shows {name} differently"


def test_the_page_runs_commands_in_order_install_list_run_test():
    commands = [command for command, _ in console_steps(DOC)]
    assert commands[0] == "python -m pip install -e ."
    assert "seqbench plugins" in commands
    assert "seqbench run reverse.toml" in commands
    assert commands[-1] == "python -m pytest tests --seqbench-conformance=seqbench-example"


def fresh_environment(directory: Path) -> dict[str, str]:
    """A new virtual environment that sees this one's packages, as
    ``--system-site-packages`` would (the dependencies the README's set-up installs),
    with seqbench pip-installed into it. Returns the environment variables of a shell
    in which it is activated. pip works offline here: no index, no build isolation."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    python = directory / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # Named to sort last, so what is installed into the new environment comes first.
    link = f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    (Path(own_site) / "zz_test_environment.pth").write_text(link)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{directory / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        VIRTUAL_ENV=str(directory),
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip reads this "no" option inverted: 0 turns isolation off
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        SEQBENCH_STORE="",
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(ROOT)],
        check=True, env=env, capture_output=True, timeout=300,
    )
    return env


def test_following_the_page_in_a_fresh_environment(tmp_path):
    folder = tmp_path / FOLDER
    for name, text in file_blocks(DOC, under=FOLDER).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    env = fresh_environment(tmp_path / "venv")

    for command, expected in console_steps(DOC):
        result = subprocess.run(
            ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=300
        )
        shown = f"$ {command}\n{result.stdout}\n{result.stderr}"
        assert result.returncode == 0, shown
        assert first_missing_line(expected, result.stdout) is None, shown

    # What ran is the plugin just installed from the page, not one installed elsewhere.
    where = subprocess.run(
        ["python", "-c", "import seqbench_example; print(seqbench_example.__file__)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(folder)
