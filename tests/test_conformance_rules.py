"""Each conformance rule fails on a plugin broken in just that way, saying what to fix.

Every broken plugin is a real installed distribution (``install_plugin``) built on
the same correct task or model, with one method or attribute spoilt.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from seqbench import registry
from seqbench.testing import ContractViolation, model_rules, task_rules
from seqbench.testing.build import tiny_task
from seqbench.testing.child import OtherProcess

# A correct continuous -> scalar task and a correct model for it.
GOOD = '''
import threading
from dataclasses import dataclass, field
import numpy as np
from seqbench import Examples, Model, Signature, Task, hookimpl, param

@dataclass
class Sum(Task):
    name = "sum"
    primary_metric = "mse"
    direction = "min"
    metrics = ("mse", "mae")
    length_param = "length"
    length: int = param(6, min=1)

    @property
    def signature(self):
        return Signature(inputs="continuous", targets="scalar", input_length=self.length)

    def generate(self, count, rng, split="train"):
        inputs = rng.random((count, self.length, 1), dtype=np.float32)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs):
        return inputs.sum(axis=(1, 2), dtype=np.float64)

    def score(self, predictions, targets):
        errors = np.asarray(predictions, dtype=np.float64) - targets
        return {"mse": float(np.mean(errors**2)), "mae": float(np.mean(np.abs(errors)))}

@dataclass
class Mean(Model):
    name = "numpy:mean"
    serves = frozenset({("continuous", "scalar")})
    shrink: float = param(0.0, min=0.0, max=1.0)

    def fit(self, train, settings, on_epoch):
        for epoch in range(1, settings.epochs + 1):
            total = sum(float(b.targets.sum()) for b in train.batches(settings.batch_size))
            self._mean = (1 - self.shrink) * total / len(train)
            if on_epoch(epoch, 0.5, len(train)).stop:
                return

    def predict(self, inputs):
        return np.full(len(inputs), self._mean)
'''

# A correct token task: copy three digits. Only 729 inputs exist, so its splits
# must be kept apart by hand (here: by the first digit).
TOKENS = '''
from dataclasses import dataclass
import numpy as np
from seqbench import Examples, Signature, Task, hookimpl

FIRST_DIGITS = {"train": (1, 8), "validation": (8, 9), "test": (9, 10)}

@dataclass
class Copy(Task):
    name = "copy"
    primary_metric = "exact_match"
    direction = "max"
    metrics = ("exact_match",)

    @property
    def signature(self):
        return Signature(inputs="tokens", targets="tokens", input_length=3, input_vocab=10,
                         target_length=3, target_vocab=10)

    def generate(self, count, rng, split="train"):
        low, high = FIRST_DIGITS[split]
        inputs = rng.integers(1, 10, size=(count, 3), dtype=np.int32)
        inputs[:, 0] = rng.integers(low, high, size=count)
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs):
        return inputs.copy()

    def score(self, predictions, targets):
        return {"exact_match": float(np.mean(np.all(predictions == targets, axis=1)))}

    def score_positions(self, predictions, targets):
        return {"accuracy": np.mean(predictions == targets, axis=0)}
'''


def install_task(install_plugin, body: str, base: str = GOOD) -> type:
    registration = "\n@hookimpl\ndef register_tasks(register):\n    register(Broken)\n"
    install_plugin("seqbench-broken", base + body + registration)
    return registry.tasks().get("broken")


def install_model(install_plugin, body: str) -> type:
    registration = (
        "\n@hookimpl\ndef register_tasks(register):\n    register(Sum)\n"
        "\n@hookimpl\ndef register_models(register):\n    register(Broken)\n"
    )
    install_plugin("seqbench-broken", GOOD + body + registration)
    return registry.models().get("numpy:broken")


def violation(rule, *args) -> str:
    with pytest.raises(ContractViolation) as caught:
        rule(*args)
    return str(caught.value)


def test_the_correct_plugins_pass_every_rule(install_plugin):
    install_plugin(
        "seqbench-good",
        GOOD + TOKENS.replace("from dataclasses import dataclass", "")
        + "\n@hookimpl\ndef register_tasks(register):\n    register(Sum)\n    register(Copy)\n"
        + "\n@hookimpl\ndef register_models(register):\n    register(Mean)\n",
    )
    with OtherProcess() as other:
        for name in ("sum", "copy"):
            task_rules.check_task_declaration(registry.tasks().get(name))
            for rule in (task_rules.check_task_signature, task_rules.check_task_determinism,
                         task_rules.check_task_splits_disjoint, task_rules.check_task_oracle,
                         task_rules.check_task_scoring, task_rules.check_task_position_scoring):
                rule(tiny_task(name))
            task_rules.check_task_pickling(tiny_task(name), other)
        model = registry.models().get("numpy:mean")
        model_rules.check_model_declaration(model)
        model_rules.check_model_trains_and_predicts(model, tiny_task("sum"))
        model_rules.check_model_stops_when_told(model, tiny_task("sum"))
        model_rules.check_model_pickling(model, other)


# Tasks ---------------------------------------------------------------------------


def test_task_declaration_primary_metric_must_be_among_the_metrics(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    primary_metric = "accuracy"
''')
    message = violation(task_rules.check_task_declaration, cls)
    assert message.startswith("[declaration] task 'broken': primary_metric 'accuracy' is not among metrics ('mse', 'mae')")
    assert "fix: list every metric score() returns in metrics" in message


def test_task_signature_generated_inputs_must_have_the_declared_length(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def generate(self, count, rng, split="train"):
        inputs = rng.random((count, self.length + 1, 1), dtype=np.float32)
        return Examples(inputs, self.solve(inputs))
''')
    message = violation(task_rules.check_task_signature, tiny_task(cls))
    assert "[signature] task 'broken': generate(256, rng, split='train'): inputs have shape (256, 7, 1); the signature says (256, 6, 1)" in message


def test_task_signature_token_ids_must_be_integers(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Copy):
    name = "broken"
    def generate(self, count, rng, split="train"):
        examples = super().generate(count, rng, split)
        return Examples(examples.inputs.astype(np.float32), examples.targets)
''', base=TOKENS)
    message = violation(task_rules.check_task_signature, tiny_task(cls))
    assert "inputs are token ids of dtype float32" in message
    assert "fix: store token ids as integers" in message


def test_task_determinism_same_seed_must_give_the_same_data(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def generate(self, count, rng, split="train"):
        inputs = np.random.random((count, self.length, 1)).astype(np.float32)
        return Examples(inputs, self.solve(inputs))
''')
    message = violation(task_rules.check_task_determinism, tiny_task(cls))
    assert "[determinism] task 'broken': two calls with the same seed gave different train inputs" in message
    assert "draw every random number from the `rng` argument" in message


def test_task_determinism_other_seeds_must_give_other_data(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def generate(self, count, rng, split="train"):
        return super().generate(count, np.random.default_rng(0), split)
''')
    message = violation(task_rules.check_task_determinism, tiny_task(cls))
    assert "seeds 1 and 2 gave identical inputs" in message


def test_task_disjoint_splits_a_small_input_space_must_be_shared_out(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Copy):
    name = "broken"
    def generate(self, count, rng, split="train"):
        inputs = rng.integers(1, 10, size=(count, 3), dtype=np.int32)
        return Examples(inputs, self.solve(inputs))
''', base=TOKENS)
    message = violation(task_rules.check_task_splits_disjoint, tiny_task(cls))
    assert "[disjoint-splits] task 'broken':" in message
    assert "distinct inputs appear in both train and validation" in message
    assert "give each possible input to one split" in message


def test_task_oracle_solve_must_reproduce_the_targets(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def solve(self, inputs):
        return inputs.mean(axis=(1, 2), dtype=np.float64)
    def generate(self, count, rng, split="train"):
        inputs = rng.random((count, self.length, 1), dtype=np.float32)
        return Examples(inputs, inputs.sum(axis=(1, 2), dtype=np.float64))
''')
    message = violation(task_rules.check_task_oracle, tiny_task(cls))
    assert "[oracle] task 'broken': solve(inputs) differs from the generated targets in 256 of 256 examples" in message


def test_task_oracle_must_answer_in_the_declared_shape(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def solve(self, inputs):
        return inputs.sum(axis=(1, 2), dtype=np.float64)[:, None]
    def generate(self, count, rng, split="train"):
        inputs = rng.random((count, self.length, 1), dtype=np.float32)
        return Examples(inputs, self.solve(inputs)[:, 0])
''')
    message = violation(task_rules.check_task_oracle, tiny_task(cls))
    assert "solve(inputs) returned shape (256, 1) for 256 examples; signature continuous -> scalar promises (256,)" in message
    assert "fix: return one number per example, shape (N,)" in message


def test_task_scoring_direction_must_rank_the_exact_answer_first(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    direction = "max"
''')
    message = violation(task_rules.check_task_scoring, tiny_task(cls))
    assert "[scoring] task 'broken': direction = 'max' (higher is better), but mse is 0 for the exact answer" in message
    assert "set direction = 'min'" in message


def test_task_scoring_must_return_every_declared_metric(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def score(self, predictions, targets):
        return {"mse": super().score(predictions, targets)["mse"]}
''')
    message = violation(task_rules.check_task_scoring, tiny_task(cls))
    assert "score returned metrics ['mse']; declared metrics are ['mse', 'mae'] (missing ['mae'])" in message


def test_task_position_scoring_must_give_one_value_per_target_position(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Copy):
    name = "broken"
    def score_positions(self, predictions, targets):
        return {"accuracy": np.mean(predictions == targets)}
''', base=TOKENS)
    message = violation(task_rules.check_task_position_scoring, tiny_task(cls))
    assert message.startswith("[position-scoring] task 'broken': score_positions for the exact answer: "
                              "accuracy has shape (); the targets have 3 positions, so (3,)")
    assert "fix: average over the examples (axis 0) only" in message


def test_task_position_scoring_values_must_be_finite(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Copy):
    name = "broken"
    def score_positions(self, predictions, targets):
        with np.errstate(divide="ignore"):  # log(0) for a wrong answer: -inf
            return {"log_accuracy": np.log(np.mean(predictions == targets, axis=0))}
''', base=TOKENS)
    message = violation(task_rules.check_task_position_scoring, tiny_task(cls))
    assert message.startswith("[position-scoring] task 'broken': score_positions for a wrong answer: "
                              "log_accuracy has 3 non-finite values")


def test_task_position_scoring_scalar_targets_have_no_positions(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def score_positions(self, predictions, targets):
        return {"mse": (predictions - targets) ** 2}
''')
    message = violation(task_rules.check_task_position_scoring, tiny_task(cls))
    assert "score_positions for the exact answer returned metrics ['mse'], but scalar targets have no positions" in message
    assert "fix: return None" in message


def test_task_narrow_predictions_score_must_accept_predictions_narrower_than_the_targets(install_plugin):
    cls = install_task(install_plugin, """
@dataclass
class Broken(Copy):
    name = "broken"
    length_param = "length"
    length: int = param(3, min=1)

    def score(self, predictions, targets):
        if predictions.shape != targets.shape:
            raise ValueError(f"predictions must have shape {targets.shape}")
        return super().score(predictions, targets)
""", base=TOKENS.replace("from seqbench import", "from seqbench import param,"))
    message = violation(task_rules.check_task_scores_narrow_predictions, tiny_task(cls))
    assert "[narrow-predictions] task 'broken': score refused predictions of shape (256, 1) for targets of shape (256, 3)" in message
    assert "fit_width(predictions, targets.shape[1])" in message


def test_task_narrow_predictions_pass_when_score_fits_the_width(install_plugin):
    cls = install_task(install_plugin, """
from seqbench.task import fit_width

@dataclass
class Broken(Copy):
    name = "broken"
    length_param = "length"
    length: int = param(3, min=1)

    def score(self, predictions, targets):
        return super().score(fit_width(predictions, targets.shape[1]), targets)
""", base=TOKENS.replace("from seqbench import", "from seqbench import param,"))
    task_rules.check_task_scores_narrow_predictions(tiny_task(cls))


def test_task_narrow_predictions_missing_positions_must_not_match_padding_targets(install_plugin):
    # subsequence's mistake: targets padded with PAD_ID, narrow predictions padded with
    # PAD_ID too, so the positions a model never answered scored right wherever the
    # target was padding.
    cls = install_task(install_plugin, """
from seqbench.task import PAD_ID

@dataclass
class Broken(Copy):
    name = "broken"
    length_param = "length"
    length: int = param(3, min=1)

    def solve(self, inputs):
        answer = inputs.copy()
        answer[:, 1:] = PAD_ID  # one token, then padding
        return answer

    def score(self, predictions, targets):
        missing = targets.shape[1] - predictions.shape[1]
        return super().score(np.pad(predictions, ((0, 0), (0, missing)), constant_values=PAD_ID), targets)
""", base=TOKENS.replace("from seqbench import", "from seqbench import param,"))
    message = violation(task_rules.check_task_scores_narrow_predictions, tiny_task(cls))
    assert ("[narrow-predictions] task 'broken': the exact answer cut to width 1 of 3 scores differently "
            "from the full-width exact answer with positions 1..2 wrong: exact_match = 1 against 0") in message
    assert "fit_width(predictions, targets.shape[1])" in message


def test_task_pickling_data_must_not_depend_on_the_process(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def generate(self, count, rng, split="train"):
        examples = super().generate(count, rng, split)
        examples.inputs += (hash(split) % 1_000_003) / 1_000_003  # differs per process
        return Examples(examples.inputs, self.solve(examples.inputs))
''')
    with OtherProcess() as other:
        message = violation(task_rules.check_task_pickling, tiny_task(cls), other)
    assert "[pickling] task 'broken': another process made different inputs from the same seed" in message
    assert "avoid Python's hash()" in message


def test_task_pickling_the_task_must_pickle(install_plugin):
    cls = install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    def __post_init__(self):
        self._lock = threading.Lock()
''')
    with OtherProcess() as other:
        message = violation(task_rules.check_task_pickling, tiny_task(cls), other)
    assert "[pickling] task 'broken': pickle.dumps failed: TypeError: cannot pickle '_thread.lock' object" in message


# Models --------------------------------------------------------------------------


def test_model_declaration_names_must_read_framework_colon_architecture(install_plugin):
    install_plugin("seqbench-broken", GOOD + '''
@dataclass
class Broken(Mean):
    name = "mean"

@hookimpl
def register_models(register):
    register(Broken)
''')
    message = violation(model_rules.check_model_declaration, registry.models().get("mean"))
    assert "[declaration] model 'mean': name is 'mean'" in message
    assert "'<framework>:<architecture>'" in message


def test_model_declaration_serves_must_use_signature_kinds(install_plugin):
    cls = install_model(install_plugin, '''
@dataclass
class Broken(Mean):
    name = "numpy:broken"
    serves = frozenset({("continuous", "number")})
''')
    message = violation(model_rules.check_model_declaration, cls)
    assert "serves is frozenset({('continuous', 'number')})" in message


def test_model_trains_and_predicts_scalar_predictions_must_be_one_per_example(install_plugin):
    cls = install_model(install_plugin, '''
@dataclass
class Broken(Mean):
    name = "numpy:broken"
    def predict(self, inputs):
        return np.full((len(inputs), 1), self._mean)
''')
    message = violation(model_rules.check_model_trains_and_predicts, cls, tiny_task("sum"))
    assert "[trains-and-predicts] model 'numpy:broken' on task 'sum': predict(inputs of 1 examples) returned shape (1, 1)" in message


def test_model_trains_and_predicts_epochs_count_from_one(install_plugin):
    cls = install_model(install_plugin, '''
@dataclass
class Broken(Mean):
    name = "numpy:broken"
    def fit(self, train, settings, on_epoch):
        self._mean = 0.0
        for epoch in range(settings.epochs):
            on_epoch(epoch, 0.5, len(train))
''')
    message = violation(model_rules.check_model_trains_and_predicts, cls, tiny_task("sum"))
    assert "on_epoch call 1 reported epoch 0" in message
    assert "count epochs from 1" in message


def test_model_trains_and_predicts_examples_seen_is_per_epoch_not_a_running_total(install_plugin):
    cls = install_model(install_plugin, '''
@dataclass
class Broken(Mean):
    name = "numpy:broken"
    def fit(self, train, settings, on_epoch):
        self._mean, seen = 0.0, 0
        for epoch in range(1, settings.epochs + 1):
            seen += len(train)
            on_epoch(epoch, 0.5, seen)
''')
    message = violation(model_rules.check_model_trains_and_predicts, cls, tiny_task("sum"))
    assert "epoch 2 reported examples_seen 128, but the training split holds 64 examples" in message
    assert "not a running total" in message


@pytest.mark.parametrize("body, expected", [
    ("raise ValueError('batch_size must be a power of two')",
     "validate() refused the kit's own point (cpu, its smoke size): batch_size must be a power of two"),
    ("return run.nonexistent", "validate() raised AttributeError"),
])
def test_model_trains_and_predicts_validate_accepts_the_kits_point_and_refuses_only_with_value_error(
        install_plugin, body, expected):
    cls = install_model(install_plugin, f'''
@dataclass
class Broken(Mean):
    name = "numpy:broken"
    def validate(self, task, run):
        {body}
''')
    message = violation(model_rules.check_model_trains_and_predicts, cls, tiny_task("sum"))
    assert message.startswith(f"[trains-and-predicts] model 'numpy:broken' on task 'sum': {expected}")


def test_model_declaration_unavailable_must_be_a_classmethod(install_plugin):
    cls = install_model(install_plugin, '''
@dataclass
class Broken(Mean):
    name = "numpy:broken"
    def unavailable(self):
        return None
''')
    message = violation(model_rules.check_model_declaration, cls)
    assert "[declaration] model 'numpy:broken': unavailable is a plain method" in message
    assert "@classmethod" in message


def test_model_stops_when_told_training_must_end_at_stop(install_plugin):
    cls = install_model(install_plugin, '''
@dataclass
class Broken(Mean):
    name = "numpy:broken"
    def fit(self, train, settings, on_epoch):
        self._mean = 0.0
        for epoch in range(1, settings.epochs + 1):
            on_epoch(epoch, 0.5, len(train))
''')
    message = violation(model_rules.check_model_stops_when_told, cls, tiny_task("sum"))
    assert "[stops-when-told] model 'numpy:broken' on task 'sum': on_epoch answered stop=True after epoch 1, but training went on to epoch 3" in message


def test_model_pickling_hyper_parameters_must_pickle(install_plugin):
    cls = install_model(install_plugin, '''
@dataclass
class Broken(Mean):
    name = "numpy:broken"
    def __post_init__(self):
        self._network = lambda inputs: inputs
''')
    with OtherProcess() as other:
        message = violation(model_rules.check_model_pickling, cls, other)
    assert "[pickling] model 'numpy:broken': pickle.dumps failed" in message
    assert "create networks, sessions and locks in build()" in message


# The one command ------------------------------------------------------------------


def conformance_command(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def test_the_command_reports_a_broken_rule_with_its_fix_and_no_traceback(install_plugin, tmp_path):
    install_task(install_plugin, '''
@dataclass
class Broken(Sum):
    name = "broken"
    direction = "max"
''')
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    pass\n")
    result = conformance_command("--seqbench-conformance=seqbench-broken", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert "test_task_scores_its_metrics_in_its_direction[broken]" in failed[0]
    assert "[scoring] task 'broken': direction = 'max' (higher is better), but mse is 0" in result.stdout
    assert "fix: if the exact answer should be lower, set direction = 'min'" in result.stdout
    assert "Traceback" not in result.stdout
    assert "1 failed, 9 passed" in result.stdout  # loads + the nine task rules
    assert "test_mine" not in result.stdout  # given alone, the option runs only the checks


def test_the_command_refuses_an_unknown_plugin_naming_the_installed_ones(tmp_path):
    result = conformance_command("--seqbench-conformance=seqbench-nope", cwd=tmp_path)
    assert result.returncode == 4
    assert "--seqbench-conformance: no installed seqbench plugin named 'seqbench-nope'; installed:" in result.stderr
    assert "seqbench-tasks" in result.stderr


# Every rule documented, and shown failing above ------------------------------------

RULES = [("task", rule) for rule in task_rules.TASK_RULES]
RULES += [("model", rule) for rule in model_rules.MODEL_RULES]


@pytest.mark.parametrize("kind, rule", RULES, ids=[f"{kind}-{rule}" for kind, rule in RULES])
def test_every_rule_is_in_the_docs_table_and_has_a_broken_plugin_test(kind, rule):
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
    assert f"| {kind} `{rule}` |" in doc
    prefix = f"test_{kind}_{rule.replace('-', '_')}_"
    assert any(name.startswith(prefix) for name in globals()), f"no {prefix}... test here"
