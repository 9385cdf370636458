"""Issue 18, class 5: a broken plugin is contained wherever seqbench calls its code. An
import that exits (``sys.exit``, argparse reading seqbench's command line), a model whose
``unavailable()`` raises or is a plain method, a task whose ``signature`` raises: one
line naming the plugin's distribution, the other plugins keep working, the listings
mark the broken item, and only a suite that uses it is refused. A name two plugins
register is refused only where it is used."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from seqbench.cli import main
from test_plugins import seqbench_cli
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

QUICK = '[run]\nepochs = 1\ntrain_size = 64\neval_size = 32\nbatch_size = 32\ndevice = "cpu"\n'

BROKEN_MODELS = '''
from dataclasses import dataclass
from seqbench import Model, hookimpl

@dataclass
class Raises(Model):
    name = "bad:raises"
    serves_every_task = True

    @classmethod
    def unavailable(cls):
        raise SystemExit("checked for a GPU driver\\nand gave up")  # one line all the same

@dataclass
class Plain(Model):
    name = "bad:plain"
    serves_every_task = True

    def unavailable(self):
        return None

@hookimpl
def register_models(register):
    register(Raises)
    register(Plain)
'''

BROKEN_TASK = '''
from dataclasses import dataclass
from seqbench import Task, hookimpl

@dataclass
class NoSignature(Task):
    name = "no-signature"
    primary_metric = "mse"

    @property
    def signature(self):
        raise KeyError("input_length")

@dataclass
class NoneSignature(NoSignature):
    name = "none-signature"

    @property
    def signature(self):
        return None  # what the models are asked about next must be a Signature

from seqbench_tasks.adding import Adding

@dataclass
class TextVersion(Adding):
    name = "text-version"

    def data_version(self):
        return "2"  # would end up in every point's identity

@hookimpl
def register_tasks(register):
    register(NoSignature)
    register(NoneSignature)
    register(TextVersion)
'''

# Registers a second "copy-memory": a clash no suite below uses but one.
COPYCAT = '''
from dataclasses import dataclass
from seqbench import Task, hookimpl

@dataclass
class CopyMemory(Task):
    name = "copy-memory"
    primary_metric = "accuracy"

@hookimpl
def register_tasks(register):
    register(CopyMemory)
'''


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--gpus')\n"
         "parser.parse_args()\n", "SystemExit: 2 (it printed: -c: error: unrecognized arguments: tasks)"),
    ],
    ids=["sys-exit", "argparse"],
)
def test_a_plugin_that_exits_at_import_is_one_warning_and_the_rest_load(install_plugin, source, fragment):
    install_plugin("seqbench-exits", source, version="2.1")
    result = seqbench_cli("tasks")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("adding  [seqbench-tasks]")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"warning: seqbench plugin 'seqbench-exits' (seqbench-exits 2.1) failed to load: "
                     f"{fragment}"], result.stderr


def test_a_model_whose_unavailable_is_broken_is_listed_as_broken(install_plugin):
    install_plugin("seqbench-badmodels", BROKEN_MODELS)
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    assert ("bad:raises  [seqbench-badmodels]  BROKEN\n  model 'bad:raises' of plugin 'seqbench-badmodels' "
            "(seqbench-badmodels 0.0.1) is broken: unavailable() raised SystemExit: checked for a GPU "
            "driver and gave up\n") in result.output
    assert "bad:plain  [seqbench-badmodels]  BROKEN\n" in result.output
    assert "unavailable() raised TypeError: unavailable is a plain method" in result.output
    assert "oracle  [seqbench.default_plugins.oracle]\n" in result.output
    plugins = CliRunner().invoke(main, ["plugins"])
    assert plugins.exit_code == 0, plugins.output
    assert "    BROKEN bad:raises: model 'bad:raises' of plugin" in plugins.output


@pytest.mark.parametrize(
    "name, fragment",
    [("bad:raises", "unavailable() raised SystemExit: checked for a GPU driver and gave up"),
     ("bad:plain", "write it as @classmethod def unavailable(cls)")],
)
def test_a_suite_using_a_broken_model_is_one_line(install_plugin, tmp_path, store_path, name, fragment):
    install_plugin("seqbench-badmodels", BROKEN_MODELS)
    suite = tmp_path / "suite.toml"
    suite.write_text(QUICK + '[task]\nname = "adding"\n' + f'[[model]]\nname = "{name}"\n')
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path)), store_path,
        f"{suite}: [[model]] #1 name: model '{name}' of plugin 'seqbench-badmodels' "
        f"(seqbench-badmodels 0.0.1) is broken: ", fragment)


def test_broken_models_do_not_stop_suites_that_do_not_use_them(install_plugin, tmp_path, store_path):
    install_plugin("seqbench-badmodels", BROKEN_MODELS)
    suite = tmp_path / "suite.toml"
    suite.write_text(QUICK + '[task]\nname = "adding"\nseq_len = 10\n' + ORACLE)
    result = invoke_run(str(suite), "--store", str(store_path))
    assert result.exit_code == 0, result.output
    # Asking which models could serve a task reads every model: the broken ones are skipped.
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(QUICK + '[task]\nname = "parity"\n[[model]]\nname = "numpy:ridge"\n')
    refused = invoke_run(str(tokens), "--store", str(store_path))
    assert refused.exit_code == 2 and "models that can: " in refused.output
    assert "bad:" not in refused.output and "Traceback" not in refused.output


@pytest.mark.parametrize(
    "task, fragment",
    [("no-signature", "signature raised KeyError: 'input_length'"),
     ("none-signature", "signature raised TypeError: returned NoneType, not a seqbench.task.Signature"),
     ("text-version", "data_version() raised TypeError: returned '2'; expected None or a positive integer")],
)
def test_a_task_whose_signature_or_data_version_is_broken_refuses_only_its_suites(install_plugin, tmp_path, store_path,
                                                                   task, fragment):
    install_plugin("seqbench-badtask", BROKEN_TASK)
    suite = tmp_path / "suite.toml"
    suite.write_text(QUICK + f'[task]\nname = "{task}"\n' + ORACLE)
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path)), store_path,
        f"{suite}: [task] name: task '{task}' of plugin 'seqbench-badtask' (seqbench-badtask 0.0.1) "
        f"is broken: {fragment}")
    assert CliRunner().invoke(main, ["tasks"]).exit_code == 0
    fine = tmp_path / "fine.toml"
    fine.write_text(QUICK + '[task]\nname = "adding"\nseq_len = 10\n' + ORACLE)
    assert invoke_run(str(fine), "--store", str(store_path), "--dry-run").exit_code == 0


def test_a_clash_is_refused_only_where_the_name_is_used(install_plugin, tmp_path, store_path):
    install_plugin("seqbench-copycat", COPYCAT)
    unrelated = tmp_path / "unrelated.toml"
    unrelated.write_text(QUICK + '[task]\nname = "adding"\nseq_len = 10\n' + ORACLE)
    assert invoke_run(str(unrelated), "--store", str(store_path), "--dry-run").exit_code == 0
    clashing = tmp_path / "clashing.toml"
    clashing.write_text(QUICK + '[task]\nname = "copy-memory"\n' + ORACLE)
    assert_one_line_error(
        invoke_run(str(clashing), "--store", str(store_path)), store_path,
        "[task] name: task 'copy-memory' is registered by both plugin 'seqbench-tasks' (seqbench-tasks ",
        "and plugin 'seqbench-copycat' (seqbench-copycat 0.0.1); uninstall one, or keep one from loading: "
        "SEQBENCH_DISABLE_PLUGINS=seqbench-tasks or SEQBENCH_DISABLE_PLUGINS=seqbench-copycat")


BROKEN_EXECUTOR = '''
from seqbench import hookimpl
from seqbench.executors.base import Executor

class Remote(Executor):
    name = "remote"

    def check(self, points):
        raise ConnectionError("cluster unreachable")

@hookimpl
def register_executors(register):
    register(Remote)
'''


def test_an_executor_that_fails_its_check_is_one_line(install_plugin, tmp_path, store_path):
    install_plugin("seqbench-remote", BROKEN_EXECUTOR)
    suite = tmp_path / "suite.toml"
    suite.write_text(QUICK + '[task]\nname = "adding"\nseq_len = 10\n' + ORACLE)
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path), "--executor", "remote"), store_path,
        "Error: executor 'remote' of plugin 'seqbench-remote' (seqbench-remote 0.0.1) is broken: "
        "check() raised ConnectionError: cluster unreachable")


FAILS_MID_SWEEP = '''
from seqbench import hookimpl
from seqbench.executors.local import LocalExecutor

class Flaky(LocalExecutor):
    name = "flaky"

    def run(self, points, on_progress=None):
        records = super().run(points, on_progress=on_progress)
        yield next(iter(records))
        raise ConnectionError("lost the cluster")

@hookimpl
def register_executors(register):
    register(Flaky)
'''


def test_an_executor_that_fails_mid_sweep_is_one_line_and_keeps_what_finished(install_plugin, tmp_path,
                                                                              store_path):
    from seqbench.results import load

    install_plugin("seqbench-flaky", FAILS_MID_SWEEP)
    suite = tmp_path / "suite.toml"
    suite.write_text(QUICK + '[suite]\nseeds = [0, 1, 2]\n[task]\nname = "adding"\nseq_len = 10\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--executor", "flaky")

    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [
        "Error: executor 'flaky' of plugin 'seqbench-flaky' (seqbench-flaky 0.0.1) is broken: "
        "run() raised ConnectionError: lost the cluster; the points finished before it are stored, "
        "run again to resume"]
    assert list(load(store_path)["status"]) == ["ok"]


NOT_A_DATACLASS = '''
from seqbench import Task, hookimpl

class Loose(Task):  # no @dataclass: seqbench cannot read its parameters
    name = "loose"
    primary_metric = "mse"

@hookimpl
def register_tasks(register):
    register(Loose)
'''


def test_a_task_that_is_not_a_dataclass_is_one_line(install_plugin, tmp_path, store_path):
    install_plugin("seqbench-loose", NOT_A_DATACLASS)
    suite = tmp_path / "suite.toml"
    suite.write_text(QUICK + '[task]\nname = "loose"\n' + ORACLE)
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path)), store_path,
        f"{suite}: [task] name: task 'loose' of plugin 'seqbench-loose' (seqbench-loose 0.0.1) is broken: "
        "its parameters (dataclass fields) raised TypeError: must be called with a dataclass type or instance")
    listing = CliRunner().invoke(main, ["tasks"])
    assert listing.exit_code == 0 and "loose  [seqbench-loose]  BROKEN\n" in listing.output


def test_a_meter_name_two_plugins_register_refuses_runs_up_front(install_plugin, tmp_path, store_path):
    install_plugin("seqbench-meter-copy", '''
from seqbench import hookimpl
from seqbench.meters import Meter

class Resources(Meter):
    name = "resources"

@hookimpl
def register_meters(register):
    register(Resources)
''')
    suite = tmp_path / "suite.toml"
    suite.write_text(QUICK + '[task]\nname = "adding"\nseq_len = 10\n' + ORACLE)
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path)), store_path,
        "Error: meter 'resources' is registered by both ", "'seqbench.default_plugins.resources'",
        "'seqbench-meter-copy'", "every point would use both")
