"""The README's two set-up commands are the ones CI runs and the suite that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^(python3 -m venv .+)$", text, flags=re.MULTILINE)


def test_readme_has_exactly_two_setup_commands():
    assert len(readme_commands()) == 2


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci_lines


def test_the_test_command_installs_the_extras_the_tests_need():
    # The Ray executor's tests run a real local Ray instance.
    assert "-e '.[test,ray]'" in readme_commands()[1]


def test_the_test_command_installs_the_tutorial_plugin_from_its_folder():
    # So the test run exercises docs/plugins.md's example exactly as a user installs it.
    assert "-e plugins/seqbench-example" in readme_commands()[1]
    assert (ROOT / "plugins" / "seqbench-example" / "pyproject.toml").is_file()


def test_every_install_goes_through_the_constraints_file():
    for command in readme_commands():
        assert "pip install -q -c constraints.txt" in command
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().split()


def test_the_test_command_installs_every_plugin_in_the_repository():
    plugins = sorted(path.parent.name for path in (ROOT / "plugins").glob("*/pyproject.toml"))
    assert "seqbench-tensorflow" in plugins
    tests = readme_commands()[1]
    for plugin in plugins:
        assert f" -e plugins/{plugin} " in tests + " "


def test_the_quick_command_installs_what_the_quick_suite_needs_and_not_tensorflow():
    from seqbench import registry
    from seqbench.suite import load_suite

    quick = readme_commands()[0] + " "
    points = load_suite(ROOT / "suites" / "quick.toml").points
    needed = {registry.tasks().plugin_of(p.task) for p in points}
    needed |= {registry.models().plugin_of(p.model) for p in points}
    for plugin in needed:
        if plugin.startswith("seqbench."):  # the built-in plugins come with `-e .`
            assert " -e . " in quick
        else:
            assert f" -e plugins/{plugin} " in quick
    # TensorFlow (about 1.9 GB) is a documented extra step, not the first run's business.
    assert "seqbench-tensorflow" not in quick
    readme = (ROOT / "README.md").read_text()
    assert "pip install -q -c constraints.txt -e plugins/seqbench-tensorflow" in readme


def test_the_quick_command_runs_the_shipped_quick_suite_then_reports():
    command = readme_commands()[0]
    assert "seqbench run suites/quick.toml && seqbench report" in command
    assert (ROOT / "suites" / "quick.toml").is_file()


def test_the_quick_suite_runs_every_model_it_lists(tmp_path):
    from click.testing import CliRunner

    from seqbench import results
    from seqbench.cli import main
    from seqbench.suite import load_suite

    store = tmp_path / "store.sqlite"
    suite = ROOT / "suites" / "quick.toml"
    result = CliRunner().invoke(main, ["run", str(suite), "--smoke", "--store", str(store)])
    assert result.exit_code == 0, result.output
    frame = results.load(store)
    assert set(frame["status"]) == {"ok"}
    assert set(frame["model"]) == {point.model for point in load_suite(suite).points}
