"""A third-party-plugin audit, class by class: what a plugin hands seqbench (predictions,
examples, defaults, registrations, entry points, names, import time, prints) is checked
where it enters, and a defect costs that plugin, named with its distribution, never the
user's store, another plugin's items or every point's timings."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from seqbench import registry
from seqbench.cli import main
from seqbench.params import BadDefault, param_specs
from seqbench.pipeline import run_point
from seqbench.point import Point, config_hash
from seqbench.settings import RunSettings
from test_suite_validation import assert_one_line_error, invoke_run

RUN = RunSettings(epochs=1, train_size=32, eval_size=16, batch_size=16, device="cpu")


def point(task: str, model: str, task_params: dict | None = None) -> Point:
    """A point as a suite would make it, built directly: suite validation's probe of
    the task would refuse some of the tasks below before their points could run."""
    from seqbench.params import coerce_params

    return Point("audit", task, coerce_params(registry.tasks().get(task), task_params or {}), model,
                 coerce_params(registry.models().get(model), {}), RUN, seed=0)


# 1. Predictions: one answer per example, of the promised shape and dtype kind ---------

MANGLER = '''
from dataclasses import dataclass
import numpy as np
from seqbench import Model, hookimpl

MANGLES = {
    "none": lambda answer: answer,
    "one-per-batch": lambda answer: answer[:1],
    "short": lambda answer: answer[:-1],
    "column": lambda answer: answer[:, None],
    "strings": lambda answer: answer.astype(str),
    "objects": lambda answer: np.array([None] * len(answer), dtype=object),
    "floats": lambda answer: answer.astype(np.float64),
    "trailing-axis": lambda answer: answer[..., :1],
}

def mangler(how):
    @dataclass
    class Mangled(Model):
        name = f"mangled:{how}"
        serves = frozenset({("continuous", "scalar"), ("continuous", "gaussian"), ("tokens", "tokens")})

        def build(self, task, settings):
            self._task = task

        def fit(self, train, settings, on_epoch):
            on_epoch(1, 0.0, len(train))

        def predict(self, inputs):
            return MANGLES[how](self._task.solve(inputs))
    return Mangled

@hookimpl
def register_models(register):
    for how in MANGLES:
        register(mangler(how))
'''

OWNER = "of plugin 'seqbench-mangler' (seqbench-mangler 0.0.1) is broken: predict() returned"


@pytest.mark.parametrize(
    "task, params, how, fragment",
    [
        ("adding", {"seq_len": 5}, "one-per-batch", "shape (1,) of dtype float64 for a batch of 16 examples; "
                                                    "expected (16,) floats, one per example"),
        ("adding", {"seq_len": 5}, "short", "shape (15,) of dtype float64 for a batch of 16 examples"),
        ("adding", {"seq_len": 5}, "column", "shape (16, 1) of dtype float64"),
        ("adding", {"seq_len": 5}, "strings", "shape (16,) of dtype <U"),
        ("adding", {"seq_len": 5}, "objects", "shape (16,) of dtype object"),
        ("reverse", {"length": 5}, "floats", "shape (16, 5) of dtype float64 for a batch of 16 examples; "
                                             "expected (16, 5) token ids (integers)"),
        ("gp-pairs", {"length": 12, "context": 4}, "trailing-axis",
         "shape (16, 8, 1) of dtype float64 for a batch of 16 examples; expected (16, 8, 2) floats"),
    ],
    ids=["one-per-batch", "short", "column", "strings", "objects", "float-tokens", "gaussian-trailing-axis"],
)
def test_predictions_that_are_not_one_answer_per_example_fail_the_point_naming_the_model(
        install_plugin, task, params, how, fragment):
    install_plugin("seqbench-mangler", MANGLER)
    record = run_point(point(task, f"mangled:{how}", params))
    assert record.status == "failed" and not record.metrics
    assert record.error.startswith(f"PluginOutputError: model 'mangled:{how}' {OWNER} "), record.error
    assert fragment in record.error, record.error


def test_predictions_as_promised_still_run(install_plugin):
    install_plugin("seqbench-mangler", MANGLER)
    for task, params in (("adding", {"seq_len": 5}), ("reverse", {"length": 5})):
        record = run_point(point(task, "mangled:none", params))
        assert record.status == "ok", record.error


# 7. A task's examples: exactly the count asked for, as its signature declares --------

BAD_TASKS = '''
from dataclasses import dataclass
import numpy as np
from seqbench import Examples, hookimpl
from seqbench_tasks.adding import Adding

BREAKS = {
    "count": lambda e: Examples(np.concatenate([e.inputs, e.inputs[:5]]), np.concatenate([e.targets, e.targets[:5]])),
    "width": lambda e: Examples(e.inputs[:, :-1], e.targets),
    "targets-column": lambda e: Examples(e.inputs, e.targets[:, None]),
    "integer-inputs": lambda e: Examples(e.inputs.astype(np.int64), e.targets),
    "tuple": lambda e: (e.inputs, e.targets),
    "one-buffer": lambda e: refilled(e),
}

_BUFFERS = {}

def refilled(e):
    # One buffer per shape, refilled and returned by every call: a split's chunk
    # becomes the next split's of its size when that is made.
    inputs = _BUFFERS.setdefault(("inputs", e.inputs.shape), np.empty_like(e.inputs))
    targets = _BUFFERS.setdefault(("targets", e.targets.shape), np.empty_like(e.targets))
    inputs[...], targets[...] = e.inputs, e.targets
    return Examples(inputs, targets)

def broken(how):
    @dataclass
    class Broken(Adding):
        name = f"broken-{how}"

        def generate(self, count, rng, split="train"):
            return BREAKS[how](super().generate(count, rng, split))
    return Broken

@hookimpl
def register_tasks(register):
    for how in BREAKS:
        register(broken(how))
'''


@pytest.mark.parametrize(
    "how, fragment",
    [
        ("count", "generate(32, rng, split='train') returned 37 inputs and 37 targets; expected exactly 32"),
        ("width", "returned inputs of shape (32, 4, 2) and dtype float32; expected floats of shape (32, 5, 2)"),
        ("targets-column", "returned scalar targets of shape (32, 1) and dtype float64; expected floats of "
                           "shape (32,); its signature is continuous -> scalar"),
        ("integer-inputs", "inputs of shape (32, 5, 2) and dtype int64; expected floats"),
        ("tuple", "returned tuple, not Examples(inputs, targets) of NumPy arrays"),
        # Validation (16 examples, a buffer of its own shape) first, then test refills it.
        ("one-buffer", "generate(16, rng, split='test') changed the examples it returned before, which "
                       "seqbench keeps (one buffer refilled on every call?); return new arrays from every call"),
    ],
    ids=["count", "width", "targets-column", "integer-inputs", "tuple", "one-buffer"],
)
def test_examples_other_than_the_signature_declares_fail_the_point_naming_the_task(install_plugin, how, fragment):
    install_plugin("seqbench-badtasks", BAD_TASKS)
    record = run_point(point(f"broken-{how}", "oracle", {"seq_len": 5}))
    assert record.status == "failed"
    assert record.error.startswith(f"PluginOutputError: task 'broken-{how}' of plugin 'seqbench-badtasks' "
                                   "(seqbench-badtasks 0.0.1) is broken: "), record.error
    assert fragment in record.error, record.error
    assert "train_examples" not in record.timings


# 2. Defaults: each passes its own declaration, as a user's value would ----------------

BAD_DEFAULTS = '''
from dataclasses import dataclass
from typing import Literal
from seqbench import hookimpl, param
from seqbench.default_plugins.oracle import Oracle

@dataclass
class NanRatio(Oracle):
    name = "defaults:nan"
    ratio: float = param(float("nan"))

@dataclass
class InfBig(Oracle):
    name = "defaults:inf"
    big: float = param(float("inf"), min=0)

@dataclass
class TextWidth(Oracle):
    name = "defaults:text"
    width: int = param("abc")

@dataclass
class BelowMin(Oracle):
    name = "defaults:below-min"
    low: int = param(5, min=10)

@dataclass
class OutsideLiteral(Oracle):
    name = "defaults:literal"
    mode: Literal["a", "b"] = param("c")

@dataclass
class OutsideChoices(Oracle):
    name = "defaults:choices"
    pick: str = param("z", choices=("x", "y"))

@dataclass
class Huge(Oracle):
    name = "defaults:huge"
    huge: int = param(2**70)

@dataclass
class Opaque(Oracle):
    name = "defaults:object"
    thing: object = param(object())

@dataclass
class Fine(Oracle):
    name = "defaults:fine"
    ratio: float = param(0.5, min=0)
    sizes: list[int] = param([1, 2])

@hookimpl
def register_models(register):
    for model in (NanRatio, InfBig, TextWidth, BelowMin, OutsideLiteral, OutsideChoices, Huge, Opaque, Fine):
        register(model)
'''

DEFAULTS = {
    "defaults:nan": "parameter 'ratio' has default nan, which its own declaration refuses: expected a finite float",
    "defaults:inf": "parameter 'big' has default inf, which its own declaration refuses",
    "defaults:text": "parameter 'width' has default 'abc', which its own declaration refuses: expected int",
    "defaults:below-min": "parameter 'low' has default 5, which its own declaration refuses: expected int >= 10",
    "defaults:literal": "parameter 'mode' has default 'c', which its own declaration refuses: expected one of 'a', 'b'",
    "defaults:choices": "parameter 'pick' has default 'z', which its own declaration refuses",
    "defaults:huge": "parameter 'huge' has default 1180591620717411303424: an integer past 64 bits",
    "defaults:object": "parameter 'thing' has default <object object at",
}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_a_default_its_own_declaration_refuses_breaks_its_model(install_plugin, name):
    install_plugin("seqbench-defaults", BAD_DEFAULTS)
    with pytest.raises(BadDefault, match="^" + DEFAULTS[name].replace("(", r"\(").replace(")", r"\)")):
        param_specs(registry.models().get(name))


def test_bad_defaults_are_listed_broken_and_refuse_only_their_suites(install_plugin, tmp_path, store_path):
    install_plugin("seqbench-defaults", BAD_DEFAULTS)
    listing = CliRunner().invoke(main, ["models"])
    assert listing.exit_code == 0, listing.output
    for name, fragment in DEFAULTS.items():
        assert (f"{name}  [seqbench-defaults]  BROKEN\n  model '{name}' of plugin 'seqbench-defaults' "
                "(seqbench-defaults 0.0.1) is broken: its parameters (dataclass fields) raised BadDefault: "
                + fragment) in listing.output
    assert "defaults:fine  [seqbench-defaults]\n" in listing.output
    suite = tmp_path / "suite.toml"
    run = '[run]\nepochs = 1\ntrain_size = 32\neval_size = 16\nbatch_size = 16\ndevice = "cpu"\n'
    suite.write_text(run + '[task]\nname = "adding"\nseq_len = 5\n[[model]]\nname = "defaults:nan"\n')
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path)), store_path,
        f"{suite}: [[model]] #1 name: model 'defaults:nan' of plugin 'seqbench-defaults' (seqbench-defaults 0.0.1) "
        "is broken: its parameters (dataclass fields) raised BadDefault: parameter 'ratio' has default nan")
    suite.write_text(run + '[task]\nname = "adding"\nseq_len = 5\n[[model]]\nname = "defaults:fine"\n')
    assert invoke_run(str(suite), "--store", str(store_path), "--dry-run").exit_code == 0


def test_the_kits_declaration_rule_refuses_a_bad_default(install_plugin):
    from seqbench.testing.model_rules import check_model_declaration

    install_plugin("seqbench-defaults", BAD_DEFAULTS)
    with pytest.raises(BadDefault, match="parameter 'ratio' has default nan"):
        check_model_declaration(registry.models().get("defaults:nan"))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_no_non_finite_value_is_ever_hashed(value):
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        config_hash({"model": {"params": {"ratio": value}}})


# 3. Registration: only classes of the hook's kind; a bad model marks no one else --------

WRONG_KINDS = '''
from dataclasses import dataclass
from seqbench import Model, hookimpl
from seqbench_tasks.adding import Adding

class NotATask:
    name = "not-a-task"

@dataclass
class TaskAsModel(Adding):
    name = "task-as-model"

@dataclass
class Fine(Model):
    name = "kinds:fine"
    serves = frozenset({("continuous", "scalar")})

@hookimpl
def register_tasks(register):
    register(NotATask)
    register(Adding())  # an instance, not a class

@hookimpl
def register_models(register):
    register(TaskAsModel)  # a Task registered as a model
    register(Fine)  # still registers: one refused item costs only itself
'''

RAISING_SUPPORTS = '''
from dataclasses import dataclass
from seqbench import Model, hookimpl

@dataclass
class Picky(Model):
    name = "picky:raises"

    @classmethod
    def supports(cls, signature):
        raise RuntimeError("cannot tell")

@hookimpl
def register_models(register):
    register(Picky)
'''


def test_items_that_are_not_classes_of_the_hooks_kind_are_refused_with_a_warning(install_plugin, capsys):
    install_plugin("seqbench-kinds", WRONG_KINDS)
    assert "task-as-model" not in registry.models() and "kinds:fine" in registry.models()
    assert "not-a-task" not in registry.tasks() and registry.tasks().plugin_of("adding") == "seqbench-tasks"
    owner = "warning: seqbench plugin 'seqbench-kinds' (seqbench-kinds 0.0.1) registered "
    assert sorted(capsys.readouterr().err.strip().splitlines()) == [
        owner + "an instance of Adding, not a class, as a task; register_tasks takes subclasses of "
                "seqbench.task.Task; refused",
        owner + "class NotATask as a task; register_tasks takes subclasses of seqbench.task.Task; refused",
        owner + "class TaskAsModel as a model; register_models takes subclasses of seqbench.model.Model; refused",
    ]
    tasks = CliRunner().invoke(main, ["tasks"])
    assert tasks.exit_code == 0 and "BROKEN" not in tasks.output
    plugins = CliRunner().invoke(main, ["plugins"])
    assert "seqbench-kinds  (seqbench-kinds 0.0.1)  PROBLEMS\n    PROBLEM: registered " in plugins.output
    assert "    PROBLEM: registered class NotATask as a task; register_tasks takes " in plugins.output
    assert "    models: kinds:fine\n" in plugins.output


def test_a_model_whose_supports_raises_marks_no_task_broken(install_plugin):
    install_plugin("seqbench-picky", RAISING_SUPPORTS)
    tasks = CliRunner().invoke(main, ["tasks"])
    assert tasks.exit_code == 0 and "BROKEN" not in tasks.output
    assert "adding  [seqbench-tasks]" in tasks.output and "picky:raises" not in tasks.output


# 4. Entry-point names: two distributions claiming one name load neither ----------------

GENUINE = '''
from dataclasses import dataclass
from seqbench import hookimpl
from seqbench_tasks.adding import Adding

@dataclass
class Genuine(Adding):
    name = "genuine-task"

@hookimpl
def register_tasks(register):
    register(Genuine)
'''


def test_an_entry_point_name_two_distributions_install_loads_neither(install_plugin, capsys):
    install_plugin("seqbench-genuine", GENUINE, entry_point="dupep")
    install_plugin("seqbench-impostor", GENUINE.replace("genuine-task", "impostor-task"), entry_point="dupep",
                   version="6.6.6")
    assert "genuine-task" not in registry.tasks() and "impostor-task" not in registry.tasks()
    assert "adding" in registry.tasks()
    (warning,) = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith("warning: seqbench plugins: entry point 'dupep' is installed by both ")
    assert "seqbench-genuine 0.0.1" in warning and "seqbench-impostor 6.6.6" in warning
    assert warning.endswith("none of them is loaded (any could be impersonating another): uninstall all but one")
    listing = CliRunner().invoke(main, ["plugins"]).output
    assert "dupep  (seqbench-genuine 0.0.1)  CONFLICT: entry point 'dupep' is installed by both" in listing
    assert "dupep  (seqbench-impostor 6.6.6)  CONFLICT: " in listing


def test_an_entry_point_named_as_a_built_in_plugin_is_not_loaded(install_plugin, capsys):
    install_plugin("seqbench-oracle-twin", GENUINE, entry_point="seqbench.default_plugins.oracle")
    assert "genuine-task" not in registry.tasks()
    assert registry.models().plugin_of("oracle") == "seqbench.default_plugins.oracle"
    assert "has the name of a seqbench built-in plugin; it is not loaded" in capsys.readouterr().err


# 5. Names clashing between or within plugins: both named, both ways out -----------------

SHADOW = '''
from dataclasses import dataclass
from seqbench import hookimpl
from seqbench.default_plugins.oracle import Oracle
from seqbench_tasks.adding import Adding

@dataclass
class Shadow(Adding):
    name = "adding"

@dataclass
class Twice(Oracle):
    name = "shadow:twice"

@dataclass
class One(Oracle):
    name = "shadow:same"

@dataclass
class Other(Oracle):
    name = "shadow:same"

@hookimpl
def register_tasks(register):
    register(Shadow)

@hookimpl
def register_models(register):
    register(Twice)
    register(Twice)  # the same class again: nothing new
    register(One)
    register(Other)  # another class under a name it already registered
'''


def test_a_clash_names_both_plugins_and_both_ways_out(install_plugin):
    from seqbench.errors import UserError

    install_plugin("seqbench-shadow", SHADOW, entry_point="h-shadow")
    with pytest.raises(UserError) as caught:
        registry.tasks().get("adding")
    message = str(caught.value)
    assert message.startswith("task 'adding' is registered by both plugin 'seqbench-tasks' (seqbench-tasks ")
    assert message.endswith(" and plugin 'h-shadow' (seqbench-shadow 0.0.1); uninstall one, or keep one from "
                            "loading: SEQBENCH_DISABLE_PLUGINS=seqbench-tasks or SEQBENCH_DISABLE_PLUGINS=h-shadow")
    assert registry.models().get("shadow:twice").name == "shadow:twice"
    with pytest.raises(UserError, match="^model 'shadow:same' is registered twice, as two classes, by plugin "
                                        r"'h-shadow' \(seqbench-shadow 0.0.1\); its author must register one, or "
                                        "disable it with SEQBENCH_DISABLE_PLUGINS=h-shadow$"):
        registry.models().get("shadow:same")


# 6. A slow plugin's import: startup's, named, never a point's ---------------------------

SLOW = '''
import time
time.sleep(1.1)
from seqbench import hookimpl

@hookimpl
def register_models(register):
    pass
'''


def test_a_slow_plugin_import_is_named_and_counted_in_startup_not_in_the_point(install_plugin, capsys):
    oracle = point("adding", "oracle", {"seq_len": 5})  # made before the slow plugin is installed
    install_plugin("seqbench-slow", SLOW)
    process_started = time.perf_counter()
    record = run_point(oracle, process_started=process_started)
    assert record.status == "ok", record.error
    assert record.timings["startup_s"] >= 1.1
    assert record.timings["total_s"] < 1.0
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if "seqbench-slow" in line]
    assert warning.startswith("warning: seqbench plugin 'seqbench-slow' (seqbench-slow 0.0.1) took 1.")
    assert "s to import, paid by every seqbench command and every point's worker process" in warning


# 8. Names, prints and returns: what a listing shows stays one item a line ---------------

NAMES = '''
from dataclasses import dataclass
from seqbench import hookimpl
from seqbench_tasks.adding import Adding

NAMES = ["my task", "a\\nb", "x,y", "  ", "\\x1b[31mred", "tab\\there", "zero\\u200bwidth", "", "tâsk/ünï"]

def named(text):
    return dataclass(type("Named", (Adding,), {"name": text, "__annotations__": {}}))

@hookimpl
def register_tasks(register):
    print("PRINTED IN A HOOK")
    for text in NAMES:
        register(named(text))
'''

RETURNS = '''
from seqbench import hookimpl
from seqbench.default_plugins.oracle import Oracle

@hookimpl
def register_models(register):
    return [Oracle]

@hookimpl
def register_tasks(register):
    raise KeyError("oops")
'''


def test_names_that_cannot_be_typed_or_shown_on_one_line_are_refused(install_plugin, capsys):
    install_plugin("seqbench-names", NAMES)
    refused = ["my task", "a\nb", "x,y", "  ", "\x1b[31mred", "tab\there", "zero\u200bwidth"]
    assert not [name for name in refused if name in registry.tasks()]
    assert registry.tasks().plugin_of("tâsk/ünï") == "seqbench-names"
    warnings = capsys.readouterr().err.splitlines()
    for name in refused:
        assert (f"warning: seqbench plugin 'seqbench-names' (seqbench-names 0.0.1) registered task {name!r}, a "
                "name that cannot be typed or shown on one line; names are printable, without whitespace, "
                "commas or control characters; refused") in warnings
    assert "warning: seqbench plugin 'seqbench-names' (seqbench-names 0.0.1) registered a task without a name: " \
           "<class 'seqbench_names.Named'>; refused" in warnings


def test_hook_prints_go_to_stderr_and_listings_stay_clean(install_plugin):
    from seqbench import plugins

    install_plugin("seqbench-names", NAMES)
    for command in ("plugins", "tasks"):
        plugins.reset()  # each command a process of its own, whose hooks run afresh
        result = CliRunner().invoke(main, [command])
        assert result.exit_code == 0
        assert "PRINTED IN A HOOK" not in result.stdout and "PRINTED IN A HOOK" in result.stderr
        assert all(line.isprintable() for line in result.stdout.splitlines())


def test_a_hook_that_returns_items_or_raises_is_warned_of_and_marked(install_plugin):
    install_plugin("seqbench-returns", RETURNS)
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0
    owner = "seqbench plugin 'seqbench-returns' (seqbench-returns 0.0.1)"
    assert (f"warning: {owner} returned [<class 'seqbench.default_plugins.oracle.Oracle'>] from register_models "
            "instead of calling register(item) for each item; nothing it returned is registered") in result.stderr
    assert f"warning: {owner} failed in register_tasks: KeyError: 'oops'" in result.stderr
    assert ("seqbench-returns  (seqbench-returns 0.0.1)  PROBLEMS\n"
            "    PROBLEM: failed in register_tasks: KeyError: 'oops'\n"
            "    PROBLEM: returned [<class ") in result.stdout
