"""The plugin host: entry points, broken plugins, disabling, duplicates, listings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from seqbench import registry
from seqbench.cli import main
from seqbench.errors import UserError

TOKEN_TASK = '''
from dataclasses import dataclass
import numpy as np
from seqbench import Examples, Signature, Task, hookimpl

@dataclass
class Adding(Task):
    name = "adding"
    primary_metric = "accuracy"
    direction = "max"

@hookimpl
def register_tasks(register):
    register(Adding)
'''


def seqbench_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real console entry in a fresh interpreter, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-c", "from seqbench.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_builtin_items_register_through_the_public_hooks():
    assert "oracle" in registry.models()
    assert "numpy:ridge" in registry.models()
    assert "adding" in registry.tasks()
    assert registry.tasks().plugin_of("adding") == "seqbench-tasks"
    assert registry.models().plugin_of("oracle") == "seqbench.default_plugins.oracle"
    assert "local" in registry.executors()
    assert "resources" in registry.meters()


def test_a_plugin_that_fails_to_import_warns_once_and_the_rest_load(install_plugin):
    install_plugin("seqbench-broken", "raise ImportError('no module named torchy')")
    result = seqbench_cli("tasks")
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1
    assert "seqbench-broken" in warnings[0] and "no module named torchy" in warnings[0]
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("adding")


def test_seqbench_plugins_marks_the_broken_plugin_and_lists_the_others(install_plugin):
    install_plugin("seqbench-broken", "raise RuntimeError('bad build')")
    result = seqbench_cli("plugins")
    assert result.returncode == 0
    assert "seqbench-broken  (seqbench-broken 0.0.1)  FAILED TO LOAD: RuntimeError: bad build" in result.stdout
    assert "seqbench-tasks  (seqbench-tasks 0.1.0)" in result.stdout
    assert "tasks: adding" in result.stdout


def test_a_plugin_implementing_an_unknown_hook_is_refused_and_the_rest_load(install_plugin, capsys):
    install_plugin(
        "seqbench-typo",
        "from seqbench import hookimpl\n@hookimpl\ndef register_taskz(register):\n    pass\n",
    )
    assert "adding" in registry.tasks()
    assert "seqbench-typo" in capsys.readouterr().err


def test_a_plugin_whose_hook_raises_is_reported_and_the_rest_load(install_plugin, capsys):
    install_plugin(
        "seqbench-raises",
        "from seqbench import hookimpl\n@hookimpl\ndef register_models(register):\n"
        "    raise KeyError('oops')\n",
    )
    assert "oracle" in registry.models()
    err = capsys.readouterr().err
    assert "seqbench-raises" in err and "register_models" in err


def test_disabled_plugins_do_not_load(monkeypatch):
    monkeypatch.setenv("SEQBENCH_DISABLE_PLUGINS", "seqbench-tasks, seqbench.default_plugins.ridge")
    assert "adding" not in registry.tasks()
    assert "numpy:ridge" not in registry.models()
    assert "oracle" in registry.models()


def test_disabling_a_task_plugin_makes_its_suites_fail_validation(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQBENCH_DISABLE_PLUGINS", "seqbench-tasks")
    store = tmp_path / "store.sqlite"
    result = CliRunner().invoke(main, ["run", "suites/quick.toml", "--store", str(store)])
    assert result.exit_code == 2
    assert "unknown task 'adding'" in result.output
    assert not store.exists()


def test_duplicate_names_are_refused_naming_both_plugins(install_plugin):
    install_plugin("seqbench-copycat", TOKEN_TASK)
    with pytest.raises(UserError) as caught:
        registry.tasks().get("adding")
    message = str(caught.value)
    assert "'seqbench-tasks'" in message and "'seqbench-copycat'" in message
    assert "SEQBENCH_DISABLE_PLUGINS=" in message


def test_duplicate_names_are_listed_as_a_conflict_beside_the_other_tasks(install_plugin):
    install_plugin("seqbench-copycat", TOKEN_TASK)
    result = CliRunner().invoke(main, ["tasks"])
    assert result.exit_code == 0
    assert result.output.startswith("adding  CONFLICT\n  task 'adding' is registered by both")
    assert "copy-memory  [seqbench-tasks]" in result.output


def test_unknown_names_suggest_the_closest_and_list_what_is_installed():
    with pytest.raises(UserError) as caught:
        registry.models().get("orcale")
    assert "did you mean 'oracle'?" in str(caught.value)
    assert "available: " in str(caught.value) and "numpy:ridge, oracle" in str(caught.value)


def test_seqbench_tasks_lists_parameters_defaults_and_metrics():
    result = CliRunner().invoke(main, ["tasks"])
    assert result.exit_code == 0
    assert "adding  [seqbench-tasks]" in result.output
    assert "seq_len: int >= 2 = 100" in result.output
    assert "primary metric: mse (lower is better); metrics: mse, mae" in result.output


def test_seqbench_models_lists_parameters_and_what_each_serves():
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0
    assert "numpy:ridge  [seqbench.default_plugins.ridge]" in result.output
    assert "serves: continuous -> scalar" in result.output
    assert "features: one of 'linear', 'quadratic' = 'quadratic'" in result.output
    assert "oracle  [seqbench.default_plugins.oracle]" in result.output
    assert "serves: every task" in result.output
