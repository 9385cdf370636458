"""Task parameters within their declared bounds that no example can be made with are
refused while the suite validates (seqbench/task_probe.py): one line naming the file,
the task and the swept value, exit 2, nothing written. Before, each was a failed point
in the store and exit 1 (int32 token ids overflowing, a covariance past float64, a
length no memory holds)."""

from __future__ import annotations

import pytest

from seqbench.task_probe import MAX_EXAMPLE_VALUES
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

CASES = [
    # Vocabularies past int32 (vocab, alphabet, modulus) are refused by their declared
    # bounds now, naming the key, before the probe: tests/test_task_bounds.py; the
    # probe's own int32 checks are tested there with a plugin's task that declares none.
    ("covariance-overflows", "gp-pairs", "variance = 1e300", ["two examples with these parameters failed"]),
    ("answer-not-finite", "gp-pairs", "shift = 1e308", ["its own exact answer", "nll = nan"]),
    ("length-past-memory", "adding", "seq_len = 4611686018427387904", [f"at most {MAX_EXAMPLE_VALUES:,}"]),
    ("many-symbols", "copy-memory", "symbols = 100000000", ["input length 200,000,100"]),
]


@pytest.mark.parametrize("task, setting, fragments", [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_parameters_no_example_can_be_made_with_are_refused_up_front(tmp_path, store_path, task, setting, fragments):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "{task}"\n{setting}\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path))

    assert_one_line_error(result, store_path, str(suite), f"[task] {task}", *fragments)


def test_a_swept_value_is_named_and_the_grid_is_refused_whole(tmp_path, store_path):
    suite = tmp_path / "suite.toml"
    suite.write_text('[task]\nname = "copy-memory"\n[sweep]\ntask.symbols = [10, 100000000]\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path))

    assert_one_line_error(result, store_path, "[task] copy-memory at [sweep] task.symbols = 100000000")


def test_ordinary_parameters_pass_and_the_task_is_probed_once_per_configuration(tmp_path, store_path, monkeypatch):
    import seqbench.suite as suite_module

    probed = []
    real = suite_module.probe_task
    monkeypatch.setattr(suite_module, "probe_task", lambda *a: probed.append(a[3]) or real(*a))
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nseeds = [0, 1]\n[task]\nname = "adding"\n[sweep]\ntask.seq_len = [5, 10]\n'
                     'run.batch_size = [8, 16]\n' + ORACLE + '[[model]]\nname = "numpy:ridge"\n')

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output
    assert sorted(p["seq_len"] for p in probed) == [5, 10]


def test_each_grid_points_task_is_built_once_while_the_suite_validates(tmp_path, monkeypatch):
    """The task validation builds (its parameters' errors worded there) is the one the
    point's checks read: a task reading a file or making a table builds once per grid
    point, not twice."""
    from seqbench_tasks.adding import Adding

    from seqbench.suite import load_suite

    built = []
    real = Adding.__post_init__
    monkeypatch.setattr(Adding, "__post_init__", lambda self: built.append(self.seq_len) or real(self))
    suite = tmp_path / "suite.toml"
    suite.write_text('[task]\nname = "adding"\n[sweep]\ntask.seq_len = [5, 10]\n' + ORACLE)

    load_suite(suite)

    assert sorted(built) == [5, 10]


# A plugin's token task whose validation and test splits draw from ``few`` inputs:
# the harness, not the task, refuses the split that owns a handful.
FEW_INPUTS = '''
from dataclasses import dataclass
import numpy as np
from seqbench import Examples, Signature, Task, hookimpl, param

@dataclass
class Few(Task):
    name = "few"
    primary_metric = "exact_match"
    direction = "max"
    metrics = ("exact_match",)
    few: int = param(3, min=1)

    @property
    def signature(self):
        return Signature(inputs="tokens", targets="tokens", input_length=4, input_vocab=10_000,
                         target_length=4, target_vocab=10_000)

    def generate(self, count, rng, split="train"):
        pool = self.few if split != "train" else 5_000
        inputs = (rng.integers(0, pool, size=count)[:, None] + np.arange(4)).astype(np.int32) + 1
        return Examples(inputs, inputs.copy())

    def solve(self, inputs):
        return inputs.copy()

    def score(self, predictions, targets):
        return {"exact_match": float(np.mean(np.all(predictions == targets, axis=1)))}

@hookimpl
def register_tasks(register):
    register(Few)
'''


def test_a_plugin_tasks_split_owning_a_handful_of_inputs_is_refused(tmp_path, store_path, install_plugin):
    install_plugin("seqbench-few", FEW_INPUTS)
    suite = tmp_path / "suite.toml"
    suite.write_text('[task]\nname = "few"\nfew = 3\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path))

    assert_one_line_error(result, store_path, "[task] few: its validation split holds only 3 distinct examples "
                          "(input and target) in 256 drawn with few = 3")


@pytest.mark.parametrize("few", [32, 5_000])
def test_a_split_owning_dozens_of_inputs_or_more_passes(tmp_path, store_path, install_plugin, few):
    install_plugin("seqbench-few", FEW_INPUTS)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "few"\nfew = {few}\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output


def test_a_split_of_examples_the_user_supplied_is_not_refused_however_few(tmp_path, store_path, install_plugin):
    install_plugin("seqbench-few", FEW_INPUTS.replace(
        "    def solve(self, inputs):", "    def fixed_examples(self, split):\n        return True\n\n    def solve(self, inputs):"))
    suite = tmp_path / "suite.toml"
    suite.write_text('[task]\nname = "few"\nfew = 3\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output


def test_a_split_with_inputs_to_spare_is_probed_with_a_few_dozen_examples_not_the_whole_sample(monkeypatch):
    # 256 examples of a long token task took 1.3 GB to make (reverse-string at length
    # 8000): a split whose first draw already holds enough distinct examples stops there.
    from seqbench_tasks.chomsky import ReverseString

    from seqbench import task_probe

    asked: list[tuple[str, int]] = []
    real = ReverseString.generate
    monkeypatch.setattr(ReverseString, "generate",
                        lambda self, count, rng, split="train": asked.append((split, count)) or real(self, count, rng, split))
    task = ReverseString(length=40)

    task_probe.probe_task("suite.toml", task, task.signature, {"length": 40}, set())

    assert asked == [("train", task_probe.PROBE_EXAMPLES), ("validation", task_probe.FIRST_DISTINCT_SAMPLE),
                     ("test", task_probe.FIRST_DISTINCT_SAMPLE)]


def test_an_evaluation_length_shared_by_a_sweeps_configurations_is_probed_once(tmp_path, store_path, monkeypatch):
    import seqbench.suite as suite_module

    probed = []
    real = suite_module.probe_task
    monkeypatch.setattr(suite_module, "probe_task", lambda *a: probed.append((a[3]["length"], a[5:])) or real(*a))
    suite = tmp_path / "suite.toml"
    suite.write_text('[run]\neval_lengths = [60]\n[task]\nname = "reverse-string"\n'
                     '[sweep]\ntask.length = [20, 30, 40]\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output
    assert sorted(length for length, _ in probed) == [20, 30, 40, 60]
