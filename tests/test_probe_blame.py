"""Who the suite-validation probe blames (seqbench/task_probe.py). A task whose examples
break its own signature, or that fails at its own default parameters, is a broken
plugin: one line naming the task, its plugin and distribution, never the user's
parameters. Only a task whose defaults pass and whose user-set values fail is refused
as "these parameters"."""

from __future__ import annotations

import pytest

from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

PLUGIN = "seqbench-hostile-tasks"
OWNER = f"of plugin {PLUGIN!r} ({PLUGIN} 3.1)"

HOSTILE_TASKS = '''
import math
from dataclasses import dataclass
import numpy as np
from seqbench import Examples, Signature, Task, hookimpl, param

@dataclass
class Summing(Task):
    """Continuous inputs (N, length, 1), their sum as the target: a well-behaved task
    the hostile ones below bend one way each."""
    name = "h-sum"
    primary_metric = "mse"
    direction = "min"
    metrics = ("mse",)
    length: int = param(5, min=1)
    scale: float = param(1.0, min=0.0)

    @property
    def signature(self):
        return Signature(inputs="continuous", targets="scalar", input_length=self.length)

    def inputs(self, count, rng):
        return rng.normal(size=(count, self.length, 1))

    def generate(self, count, rng, split="train"):
        inputs = self.inputs(count, rng)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs):
        # exp(scale) overflows a float past scale 709: a value too large for the task.
        return np.asarray(inputs)[:, :, 0].sum(axis=1) * math.exp(self.scale)

    def score(self, predictions, targets):
        return {"mse": float(np.mean((predictions - targets) ** 2))}

@dataclass
class BadShape(Summing):
    """Makes 2-D inputs where its signature says (N, length, 1)."""
    name = "h-badshape"

    def generate(self, count, rng, split="train"):
        inputs = rng.normal(size=(count, self.length))
        return Examples(inputs, inputs.sum(axis=1))

@dataclass
class OneMore(Summing):
    """Makes one example more than asked for: NumPy broadcasts, so its answer scores."""
    name = "h-one-more"

    def generate(self, count, rng, split="train"):
        return super().generate(count + 1, rng, split)

@dataclass
class NanTargets(Summing):
    """Every target NaN, at any parameters."""
    name = "h-nan"

    def generate(self, count, rng, split="train"):
        inputs = self.inputs(count, rng)
        return Examples(inputs, np.full(count, np.nan))

@dataclass
class Overflows(Summing):
    """Its answer turns infinite past a moderate scale: the user's values to blame."""
    name = "h-overflows"

    def solve(self, inputs):
        return np.asarray(inputs)[:, :, 0].sum(axis=1) * np.exp(np.float64(self.scale) * 100)

@hookimpl
def register_tasks(register):
    for task in (Summing, BadShape, OneMore, NanTargets, Overflows):
        register(task)
'''


@pytest.fixture
def hostile(install_plugin):
    install_plugin(PLUGIN, HOSTILE_TASKS, version="3.1")


def refused(tmp_path, store_path, task_table: str, *fragments: str) -> str:
    suite = tmp_path / "suite.toml"
    suite.write_text(task_table + ORACLE)
    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")
    return assert_one_line_error(result, store_path, str(suite), *fragments)


@pytest.mark.parametrize("task, problem", [
    ("h-badshape", "generate(2, rng, split='train') returned inputs of shape (2, 5) and dtype float64; "
                   "expected floats of shape (2, 5, 1)"),
    ("h-one-more", "generate(2, rng, split='train') returned 3 inputs and 3 targets; expected exactly 2"),
], ids=["shape", "count"])
def test_examples_that_break_the_signature_are_the_plugins_fault(hostile, tmp_path, store_path, task, problem):
    """The contract each chunk a point makes is held to (seqbench.plugin_output), checked
    before the task's own answer reads them: at any parameters, the plugin's fault."""
    line = refused(tmp_path, store_path, f'[task]\nname = "{task}"\nlength = 5\nscale = 2.0\n',
                   f"[task] {task}: task {task!r} {OWNER} is broken: {problem}")
    assert "these parameters" not in line and "allowed" not in line


def test_a_task_failing_at_its_default_parameters_is_the_plugins_fault(hostile, tmp_path, store_path):
    line = refused(tmp_path, store_path, '[task]\nname = "h-nan"\n',
                   f"[task] h-nan: task 'h-nan' {OWNER} is broken: at its default parameters it scores its "
                   "own exact answer mse = nan")
    assert "these parameters" not in line and "allowed" not in line


def test_a_task_failing_at_the_users_values_and_its_defaults_alike_is_the_plugins_fault(
        hostile, tmp_path, store_path):
    line = refused(tmp_path, store_path, '[task]\nname = "h-nan"\nlength = 7\n',
                   f"task 'h-nan' {OWNER} is broken: at its default parameters it scores")
    assert "these parameters" not in line


@pytest.mark.parametrize("task, fragments", [
    ("h-sum", ["making and answering two examples with these parameters failed (OverflowError: math range error)",
               "its default parameters pass", "allowed: values the task can compute with"]),
    ("h-overflows", ["with these parameters the task scores its own exact answer mse = nan",
                     "its default parameters pass", "allowed: more moderate values"]),
], ids=["raises", "not-finite"])
def test_values_failing_where_the_defaults_pass_are_the_users(hostile, tmp_path, store_path, task, fragments):
    line = refused(tmp_path, store_path, f'[task]\nname = "{task}"\nscale = 1000.0\n', f"[task] {task}", *fragments)
    assert "is broken" not in line and "else its plugin" not in line


def test_a_well_behaved_task_passes_at_moderate_values(hostile, tmp_path, store_path):
    suite = tmp_path / "suite.toml"
    suite.write_text('[task]\nname = "h-sum"\nscale = 2.0\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output
