"""Upper bounds on task parameters that scale past what a point can hold, refused while
the suite validates (one line naming the key, exit 2, nothing written).

gp-pairs' ``length``: exact GP conditioning is cubic; 5000 took 23 s and 2.6 GB in
``run --dry-run``'s probe and 8000 crashed it (SIGSEGV in the Cholesky factor).

Token ids: ids are 0..vocab-1 and fit int32. A task writing an int64 id past int32 into
an int32 array does not fail: NumPy wraps it negative, the oracle reads the same
wrapped ids and scores 1, so the probe passed ``associative-recall`` at
``vocab = 2147483653`` and ``modular-arithmetic`` at ``modulus = 3000000000`` and the
first model to index a table with the ids failed every point (exit 1). The shipped
tasks bound each vocabulary parameter; the probe checks every task's signature and
the ids it makes, for a plugin's task that declares no bound.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from seqbench.params import param_specs
from seqbench.task_probe import MAX_TOKEN_VOCAB
from seqbench_tasks import gp_pairs
from seqbench_tasks.gp_pairs import MAX_LENGTH, GPPairs
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

ROOT = Path(__file__).resolve().parent.parent
INT32_IDS = 2**31  # ids 0..2**31 - 1

# (id, task, key, the largest value allowed, values refused)
BOUNDS = [
    ("recall-vocab", "associative-recall", "vocab", INT32_IDS, [2147483653, 2**63 - 1]),
    ("induction-vocab", "induction-heads", "vocab", INT32_IDS - 1, [INT32_IDS]),
    ("selective-copy-vocab", "selective-copy", "vocab", INT32_IDS - 1, [INT32_IDS]),
    ("copy-memory-alphabet", "copy-memory", "alphabet", INT32_IDS - 3, [INT32_IDS - 2]),
    ("modulus", "modular-arithmetic", "modulus", INT32_IDS - 5, [INT32_IDS - 4, 3_000_000_000]),
    ("odds-first-vocab", "odds-first", "vocab", INT32_IDS - 2, [INT32_IDS - 1]),
    ("bucket-sort-vocab", "bucket-sort", "vocab", INT32_IDS - 2, [INT32_IDS - 1]),
    ("gp-length", "gp-pairs", "length", MAX_LENGTH, [MAX_LENGTH + 1, 5000, 8000]),
]
REFUSED = [(case[0] + f"-{value}", case[1], case[2], value) for case in BOUNDS for value in case[4]]


@pytest.mark.parametrize("task, key, value", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_value_past_its_parameters_bound_is_one_line_naming_the_key(tmp_path, store_path, task, key, value):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "{task}"\n{key} = {value}\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert_one_line_error(result, store_path, str(suite), f"[task] {key}: expected int between", f"got {value}")


TOKEN_BOUNDS = [case for case in BOUNDS if case[1] != "gp-pairs"]


@pytest.mark.parametrize("task, key, largest", [c[1:4] for c in TOKEN_BOUNDS], ids=[c[0] for c in TOKEN_BOUNDS])
def test_at_its_bound_a_token_task_makes_ids_within_int32_and_its_vocabulary(task, key, largest):
    """The bound is exact: at it the ids fit (no wrap to negative), and the signature's
    vocabularies are at most 2**31."""
    from seqbench import registry

    made = registry.tasks().get(task)(**{key: largest})
    signature = made.signature
    examples = made.generate(4, np.random.default_rng(0))
    for ids, vocab in ((examples.inputs, signature.input_vocab), (examples.targets, signature.target_vocab)):
        assert vocab <= MAX_TOKEN_VOCAB
        assert ids.min() >= 0 and ids.max() < vocab
    assert max(signature.input_vocab, signature.target_vocab) == MAX_TOKEN_VOCAB  # no tighter than needed


def test_gp_pairs_bounds_leave_the_reference_and_the_shipped_suites_valid():
    """The reference (oremnirv/attention) used 200 points and 50 context points; every
    shipped suite's gp-pairs lengths (swept or fixed, eval lengths included) are within."""
    specs = {spec.name: spec for spec in param_specs(GPPairs)}
    assert specs["length"].max == MAX_LENGTH and specs["context"].max == MAX_LENGTH - 1
    lengths = [200]
    for path in sorted((ROOT / "suites").rglob("*.toml")):
        suite = tomllib.loads(path.read_text())
        if suite.get("task", {}).get("name") != "gp-pairs":
            continue
        lengths += [suite["task"].get("length", 200), *suite.get("sweep", {}).get("task.length", [])]
        lengths += suite.get("run", {}).get("eval_lengths", [])
    assert len(lengths) > 4 and max(lengths) <= MAX_LENGTH


def test_gp_pairs_original_process_factors_long_pairs_in_smaller_batches_with_the_same_data(monkeypatch):
    """32 pairs' covariances at once is 17 GiB at 2048 points; the batch shrinks past
    362 points (every shipped suite is below: unchanged), and the data do not depend on it."""
    assert gp_pairs._original_batch(200) == gp_pairs._original_batch(362) == 32
    assert gp_pairs._original_batch(800) == 6 and gp_pairs._original_batch(MAX_LENGTH) == 1
    task = GPPairs(length=60, context=10, process="original", noise=1e-4)
    monkeypatch.setattr(gp_pairs, "ORIGINAL_BATCH_BYTES", 3 * 8 * 120**2)  # 3 pairs a batch
    small = task.generate(40, np.random.default_rng(3))
    answer = task.solve(small.inputs)
    monkeypatch.setattr(gp_pairs, "ORIGINAL_BATCH_BYTES", 2**40)  # 32 a batch, as before
    whole = task.generate(40, np.random.default_rng(3))
    assert np.array_equal(small.inputs, whole.inputs) and np.array_equal(small.targets, whole.targets)
    assert np.array_equal(answer, task.solve(whole.inputs))


# A plugin's tasks that declare no bound: the probe is what refuses them.
UNBOUNDED_TASKS = '''
from dataclasses import dataclass
import numpy as np
from seqbench import Examples, Signature, hookimpl, param
from seqbench_tasks.synthetic_tokens import AnswerTask

@dataclass
class Wraps(AnswerTask):
    """Declares a vocabulary within int32 but shifts its ids past it in int64, then
    stores them as int32: NumPy wraps them negative, and solve agrees with itself."""
    name = "wraps"
    offset: int = param(0, min=0, help="added to every id")

    @property
    def signature(self):
        return Signature(inputs="tokens", targets="tokens", input_length=3, input_vocab=10,
                         target_length=3, target_vocab=10)

    def generate(self, count, rng, split="train"):
        inputs = np.empty((count, 3), dtype=np.int32)
        inputs[:] = rng.integers(1, 10, size=(count, 3)) + self.offset
        return Examples(inputs, self.solve(inputs))

    def solve(self, inputs):
        return np.asarray(inputs).astype(np.int32)

@dataclass
class Large(Wraps):
    """Its signature's vocabulary grows with a parameter it leaves unbounded."""
    name = "large-vocab"
    vocab: int = param(10, min=2, help="vocabulary")

    @property
    def signature(self):
        return Signature(inputs="tokens", targets="tokens", input_length=3, input_vocab=self.vocab,
                         target_length=3, target_vocab=self.vocab)

@dataclass
class WrongAnswer(Wraps):
    """Makes ids within its vocabulary; its own answer is not."""
    name = "wrong-answer"

    def generate(self, count, rng, split="train"):
        inputs = rng.integers(1, 10, size=(count, 3)).astype(np.int32)
        return Examples(inputs, inputs.copy())

    def solve(self, inputs):
        return np.asarray(inputs) + 10

@hookimpl
def register_tasks(register):
    register(Wraps)
    register(Large)
    register(WrongAnswer)
'''

PROBED = [
    ("ids-wrapped-past-int32", "wraps", "offset = 2147483645",
     ["made inputs with token ids -2,147,483,", "wrapped past int32", "outside 0..input_vocab - 1 = 0..9"]),
    ("ids-past-the-vocabulary", "wraps", "offset = 5", ["made inputs with token ids", "0..9"]),
    ("vocabulary-past-int32", "large-vocab", "vocab = 2147483653",
     ["input_vocab is 2,147,483,653", "at most 2,147,483,648"]),
    ("answer-past-the-vocabulary", "wrong-answer", "", ["made its own answer with token ids 1", "outside 0..target_vocab - 1 = 0..9"]),
]


@pytest.mark.parametrize("task, setting, fragments", [c[1:] for c in PROBED], ids=[c[0] for c in PROBED])
def test_the_probe_refuses_token_ids_outside_the_contract_of_any_plugins_task(
    tmp_path, store_path, install_plugin, task, setting, fragments
):
    install_plugin("seqbench-unbounded", UNBOUNDED_TASKS)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "{task}"\n{setting}\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert_one_line_error(result, store_path, str(suite), f"[task] {task}", *fragments)


def test_the_probe_passes_a_plugins_task_within_the_contract(tmp_path, store_path, install_plugin):
    install_plugin("seqbench-unbounded", UNBOUNDED_TASKS)
    suite = tmp_path / "suite.toml"
    suite.write_text('[task]\nname = "large-vocab"\nvocab = 2147483648\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output
