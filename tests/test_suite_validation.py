"""Suite validation: every bad input is one clear line and exit 2; good input expands as documented.

Bad inputs go through the real CLI (``seqbench run``) in-process; good paths read
suites with ``load_suite``, the function the CLI calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from seqbench.cli import main
from seqbench.settings import SMOKE_LIMITS
from seqbench.suite import load_suite

GOOD = """
    [suite]
    name = "good"
    seeds = [0]

    [run]
    epochs = 1
    train_size = 64
    eval_size = 32
    batch_size = 32
    device = "cpu"

    [task]
    name = "adding"
    seq_len = 10

    [[model]]
    name = "oracle"
"""

TASK = '[task]\nname = "adding"\n'
ORACLE = '[[model]]\nname = "oracle"\n'
RIDGE = '[[model]]\nname = "numpy:ridge"\n'
RUN_KEYS = "allowed: epochs, train_size, eval_size, batch_size, patience, device, timeout"

# (id, suite text or bytes, fragments the one error line must contain besides the path)
BAD_SUITES = [
    ("malformed-toml", "[suite\nname = 'x'\n", ["invalid TOML", "line 1"]),
    ("not-utf8", b"\xff\xfe[task]\n", ["cannot read", "utf-8"]),
    ("unknown-section", "[tasks]\nname = 'adding'\n" + ORACLE,
     ["unknown section [tasks]", "allowed: suite, run, task, sweep, model"]),
    ("unknown-suite-key", "[suite]\nnaem = 'x'\n" + TASK + ORACLE,
     ["[suite] naem: unknown key", "allowed: name, description, seeds"]),
    ("section-not-a-table", "run = 3\n" + TASK + ORACLE, ["[run] must be a table"]),
    ("model-as-table", TASK + '[model]\nname = "oracle"\n',
     ["[[model]] must be an array of tables", "not [model]"]),
    ("model-as-array-of-strings", 'model = ["oracle"]\n' + TASK,
     ["[[model]] must be an array of tables"]),
    ("no-model", TASK, ["no [[model]] given", "available: ", "numpy:ridge, oracle"]),
    ("empty-model-array", "model = []\n" + TASK, ["no [[model]] given", "available: ", "numpy:ridge, oracle"]),
    ("unknown-model-near-miss", TASK + '[[model]]\nname = "orcale"\n',
     ["[[model]] #1 name", "unknown model 'orcale'", "did you mean 'oracle'?",
      "available: ", "numpy:ridge, oracle"]),
    ("model-without-name", TASK + ORACLE + "[[model]]\nalpha = 1.0\n",
     ["[[model]] #2: name is required", "available: ", "numpy:ridge, oracle"]),
    ("model-name-not-a-string", TASK + "[[model]]\nname = 3\n",
     ["[[model]] #1 name: expected a string, got 3", "available: ", "numpy:ridge, oracle"]),
    ("unknown-task", '[task]\nname = "adin"\n' + ORACLE,
     ["[task] name", "unknown task 'adin'", "did you mean 'adding'?", "available: adding"]),
    ("missing-task-name", "[task]\nseq_len = 10\n" + ORACLE, ["[task] name is required", "available: adding"]),
    ("unknown-task-param", TASK + "length = 10\n" + ORACLE,
     ["[task] length: unknown parameter", "allowed: seq_len"]),
    ("task-param-string-for-int", TASK + 'seq_len = "100"\n' + ORACLE,
     ["[task] seq_len: expected int >= 2, got '100'"]),
    ("task-param-bool-for-int", TASK + "seq_len = true\n" + ORACLE,
     ["[task] seq_len: expected int >= 2, got True"]),
    ("task-param-float-for-int", TASK + "seq_len = 100.5\n" + ORACLE,
     ["[task] seq_len: expected int >= 2, got 100.5"]),
    ("seq-len-zero", TASK + "seq_len = 0\n" + ORACLE, ["[task] seq_len: expected int >= 2, got 0"]),
    ("seq-len-negative", TASK + "seq_len = -5\n" + ORACLE, ["[task] seq_len: expected int >= 2, got -5"]),
    ("empty-sweep-axis", TASK + "[sweep]\ntask.seq_len = []\n" + ORACLE,
     ["[sweep] task.seq_len: expected a non-empty list of values, got []"]),
    ("sweep-value-not-a-list", TASK + "[sweep]\ntask.seq_len = 100\n" + ORACLE,
     ["[sweep] task.seq_len: expected a non-empty list of values, got 100"]),
    ("sweep-bad-section", TASK + "[sweep]\nfoo.x = [1]\n" + ORACLE,
     ["[sweep] foo.x: keys must be task.<param>, run.<setting> or model.<param>"]),
    ("sweep-too-deep", TASK + "[sweep]\ntask.seq.len = [1]\n" + ORACLE,
     ["[sweep] task.seq.len: keys must be task.<param>, run.<setting> or model.<param>"]),
    ("sweep-of-a-name", TASK + '[sweep]\ntask.name = ["adding"]\n' + ORACLE,
     ["[sweep] task.name: names cannot be swept"]),
    ("sweep-unknown-task-param", TASK + "[sweep]\ntask.length = [10]\n" + ORACLE,
     ["[sweep] task.length: unknown parameter of task 'adding'", "allowed: seq_len"]),
    ("sweep-unknown-run-setting", TASK + "[sweep]\nrun.smoke = [true]\n" + ORACLE,
     ["[sweep] run.smoke: unknown parameter of [run]", RUN_KEYS]),
    ("sweep-unknown-model-param", TASK + "[sweep]\nmodel.hidden = [8]\n" + RIDGE + ORACLE,
     ["[sweep] model.hidden: unknown parameter of any model in this suite", "allowed: alpha, features"]),
    ("sweep-ill-typed-value", TASK + '[sweep]\ntask.seq_len = [50, "long"]\n' + ORACLE,
     ["[sweep] task.seq_len: expected int >= 2, got 'long'"]),
    ("sweep-value-out-of-range", TASK + "[sweep]\nrun.epochs = [1, 0]\n" + ORACLE,
     ["[sweep] run.epochs: expected int >= 1, got 0"]),
    ("sweep-ill-typed-model-value", TASK + '[sweep]\nmodel.alpha = ["big"]\n' + RIDGE,
     ["[sweep] model.alpha: expected float >= 0, got 'big'"]),
    ("sweep-bad-device", TASK + '[sweep]\nrun.device = ["cpu", "gpu"]\n' + ORACLE,
     ["[sweep] run.device: expected auto, cpu, cuda or cuda:N, got 'gpu'"]),
    ("sweep-repeated-value", TASK + "[sweep]\ntask.seq_len = [50, 50]\n" + ORACLE,
     ["[sweep] task.seq_len: repeated value 50"]),
    ("unknown-run-key", "[run]\nepoch = 3\n" + TASK + ORACLE, ["[run] epoch: unknown setting", RUN_KEYS]),
    ("run-epochs-zero", "[run]\nepochs = 0\n" + TASK + ORACLE, ["[run] epochs: expected int >= 1, got 0"]),
    ("run-patience-zero", "[run]\npatience = 0\n" + TASK + ORACLE,
     ["[run] patience: expected int >= 1, got 0"]),
    ("run-bad-device", '[run]\ndevice = "gpu"\n' + TASK + ORACLE,
     ["[run] device: expected auto, cpu, cuda or cuda:N, got 'gpu'"]),
    ("run-device-not-a-string", "[run]\ndevice = 0\n" + TASK + ORACLE, ["[run] device: expected str, got 0"]),
    ("smoke-in-run", "[run]\nsmoke = true\n" + TASK + ORACLE,
     ["[run] smoke: set by the --smoke option, not in the file"]),
    ("empty-seeds", "[suite]\nseeds = []\n" + TASK + ORACLE,
     ["[suite] seeds: expected a non-empty list of integers between 0 and 4294967295, got []"]),
    ("negative-seed", "[suite]\nseeds = [0, -1]\n" + TASK + ORACLE,
     ["[suite] seeds: expected a non-empty list of integers between 0 and 4294967295, got [0, -1]"]),
    ("repeated-seed", "[suite]\nseeds = [1, 1]\n" + TASK + ORACLE, ["[suite] seeds: repeated seed"]),
    ("same-model-twice", TASK + ORACLE + ORACLE, ["[[model]] 'oracle' is listed twice", "[sweep] model."]),
    ("unknown-model-param", TASK + RIDGE + "alfa = 1.0\n",
     ["[[model]] #1 'numpy:ridge' alfa: unknown parameter", "allowed: alpha, features"]),
    ("ill-typed-model-param", TASK + RIDGE + 'alpha = "big"\n',
     ["[[model]] #1 'numpy:ridge' alpha: expected float >= 0, got 'big'"]),
    ("model-param-nan", TASK + RIDGE + "alpha = nan\n",
     ["[[model]] #1 'numpy:ridge' alpha: expected a finite float >= 0, got nan"]),
    ("model-choice-outside-set", TASK + RIDGE + 'features = "cubic"\n',
     ["[[model]] #1 'numpy:ridge' features: expected one of 'linear', 'quadratic', got 'cubic'"]),
]

TOKENS_TASK_PLUGIN = """
    from dataclasses import dataclass

    import numpy as np

    from seqbench import Examples, Signature, Task, hookimpl, param


    @dataclass
    class Echo(Task):
        name = "echo"
        description = "repeat the input tokens"
        primary_metric = "accuracy"
        direction = "max"
        metrics = ("accuracy",)

        seq_len: int = param(8, min=1)

        @property
        def signature(self):
            return Signature(inputs="tokens", targets="tokens", input_length=self.seq_len,
                             input_vocab=4, target_length=self.seq_len, target_vocab=4)

        def generate(self, count, rng):
            tokens = rng.integers(0, 4, size=(count, self.seq_len))
            return Examples(tokens, tokens.copy())

        def solve(self, inputs):
            return np.asarray(inputs).copy()

        def score(self, predictions, targets):
            return {"accuracy": float(np.mean(predictions == targets))}


    @hookimpl
    def register_tasks(register):
        register(Echo)
"""


def invoke_run(*args: str) -> Result:
    return CliRunner().invoke(main, ["run", *args])


def assert_refused(result: Result, store_path: Path) -> None:
    """Exit 2 through click's own exit, no traceback, and no store (not even its folder)."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert not store_path.exists()
    assert not store_path.parent.exists()


def assert_one_line_error(result: Result, store_path: Path, *fragments: str) -> str:
    """``result`` is a usage error whose whole output is one ``Error: `` line with ``fragments``."""
    assert_refused(result, store_path)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    line = lines[0]
    assert line.startswith("Error: "), line
    assert result.stderr.strip() == line  # on stderr, not stdout
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def write_raw(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    "content, fragments", [case[1:] for case in BAD_SUITES], ids=[case[0] for case in BAD_SUITES]
)
def test_bad_suite_is_one_line_naming_file_and_key(tmp_path, store_path, content, fragments):
    suite = write_raw(tmp_path / "bad.toml", content)

    result = invoke_run(str(suite), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {suite}: ", *fragments)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda tmp: tmp / "missing.toml", "suite file not found"),
        (lambda tmp: (tmp / "suite.toml").mkdir() or tmp / "suite.toml", "is a directory, not a suite file"),
    ],
    ids=["missing-file", "directory-instead-of-file"],
)
def test_unusable_suite_path_is_one_line_naming_it(tmp_path, store_path, make, fragment):
    suite = make(tmp_path)

    result = invoke_run(str(suite), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {suite}: {fragment}")


def test_incompatible_model_and_task_lists_models_that_can_serve_it(
    install_plugin, write_suite, store_path
):
    install_plugin("seqbench-echo", TOKENS_TASK_PLUGIN)
    suite = write_suite('[task]\nname = "echo"\n[[model]]\nname = "numpy:ridge"\n')

    result = invoke_run(str(suite), "--store", str(store_path))

    assert_one_line_error(
        result, store_path, f"Error: {suite}: ",
        "[[model]] 'numpy:ridge' cannot serve task 'echo' (tokens -> tokens)",
        "models that can: ", "oracle",
    )


def test_second_suite_bad_writes_nothing_for_the_first(write_suite, store_path):
    good = write_suite(GOOD, name="good.toml")
    bad = write_suite(TASK + '[[model]]\nname = "orcale"\n', name="bad.toml")

    result = invoke_run(str(good), str(bad), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {bad}: ", "did you mean 'oracle'?")


def test_unknown_run_key_does_not_offer_smoke(write_suite, store_path):
    suite = write_suite("[run]\nepoch = 3\n" + TASK + ORACLE)

    line = assert_one_line_error(invoke_run(str(suite), "--store", str(store_path)), store_path)

    assert "smoke" not in line


def test_bad_device_option_is_one_line_naming_the_option(write_suite, store_path):
    suite = write_suite(GOOD)

    result = invoke_run(str(suite), "--store", str(store_path), "--device", "nonsense")

    assert_one_line_error(
        result, store_path, "Error: --device: expected auto, cpu, cuda or cuda:N, got 'nonsense'"
    )


def test_unknown_executor_option_says_did_you_mean(write_suite, store_path):
    suite = write_suite(GOOD)

    result = invoke_run(str(suite), "--store", str(store_path), "--executor", "locl")

    assert_one_line_error(
        result, store_path, "Error: --executor: unknown executor 'locl'", "did you mean 'local'?",
        "available: local"
    )


def test_zero_jobs_option_is_a_usage_error(write_suite, store_path):
    suite = write_suite(GOOD)

    result = invoke_run(str(suite), "--store", str(store_path), "--jobs", "0")

    assert_refused(result, store_path)
    assert "Error: Invalid value for '--jobs'" in result.stderr


# ---- good paths -------------------------------------------------------------------------


def suite_text(*, task: str = "", sweep: str = "", run: str = "", models: str = ORACLE,
               seeds: str = "[0]") -> str:
    return (
        f"[suite]\nname = \"s\"\nseeds = {seeds}\n"
        f"[run]\n{run}\n"
        f"[task]\nname = \"adding\"\n{task}\n"
        f"[sweep]\n{sweep}\n"
        f"{models}"
    )


def test_grid_is_product_of_sweep_axes_models_and_seeds(write_suite):
    suite = write_suite(suite_text(
        sweep="task.seq_len = [10, 20, 30]\nrun.batch_size = [16, 32]\n",
        models=RIDGE + ORACLE,
        seeds="[0, 1]",
    ))

    points = load_suite(suite).points

    assert len(points) == 3 * 2 * 2 * 2
    assert len({point.hash for point in points}) == len(points)
    combos = {(p.task_params["seq_len"], p.run.batch_size, p.model, p.seed) for p in points}
    assert len(combos) == len(points)


def test_model_sweep_axis_collapses_for_models_without_that_parameter(write_suite):
    suite = write_suite(suite_text(
        sweep="task.seq_len = [10, 20]\nmodel.alpha = [0.1, 1.0, 10.0]\n",
        models=RIDGE + ORACLE,
    ))

    points = load_suite(suite).points

    ridge = [p for p in points if p.model == "numpy:ridge"]
    oracle = [p for p in points if p.model == "oracle"]
    assert len(ridge) == 2 * 3
    assert {p.model_params["alpha"] for p in ridge} == {0.1, 1.0, 10.0}
    assert sorted(p.task_params["seq_len"] for p in oracle) == [10, 20]


def test_sweep_value_overrides_same_key_in_task(write_suite):
    suite = write_suite(suite_text(task="seq_len = 100", sweep="task.seq_len = [10, 20]"))

    points = load_suite(suite).points

    assert sorted(p.task_params["seq_len"] for p in points) == [10, 20]


def test_point_hash_is_stable_when_toml_key_order_changes(write_suite):
    ordered = write_suite("""
        [suite]
        name = "s"
        seeds = [0, 1]
        [run]
        epochs = 2
        batch_size = 32
        [task]
        name = "adding"
        seq_len = 10
        [[model]]
        name = "numpy:ridge"
        alpha = 0.5
        features = "linear"
    """, name="ordered.toml")
    shuffled = write_suite("""
        [[model]]
        features = "linear"
        alpha = 0.5
        name = "numpy:ridge"
        [task]
        seq_len = 10
        name = "adding"
        [run]
        batch_size = 32
        epochs = 2
        [suite]
        seeds = [0, 1]
        name = "s"
    """, name="shuffled.toml")

    assert [p.hash for p in load_suite(ordered).points] == [p.hash for p in load_suite(shuffled).points]


@pytest.mark.parametrize(
    "changed",
    [
        {"task": "seq_len = 11"},
        {"models": RIDGE + "alpha = 0.25\n"},
        {"models": RIDGE + 'features = "linear"\n'},
        {"models": ORACLE},
        {"run": "epochs = 3"},
        {"run": 'device = "cuda:0"'},
        {"seeds": "[1]"},
    ],
    ids=["task-param", "model-param", "model-choice", "model", "run-setting", "device", "seed"],
)
def test_point_hash_differs_when_any_value_changes(write_suite, changed):
    base = {"task": "seq_len = 10", "models": RIDGE + "alpha = 0.5\n", "run": "epochs = 2", "seeds": "[0]"}
    before = load_suite(write_suite(suite_text(**base), name="before.toml")).points
    after = load_suite(write_suite(suite_text(**{**base, **changed}), name="after.toml")).points

    assert len(before) == len(after) == 1
    assert before[0].hash != after[0].hash


def test_smoke_caps_run_sizes_and_marks_run_smoke(write_suite):
    suite = write_suite(suite_text(run="epochs = 10\ntrain_size = 20000\neval_size = 2000\nbatch_size = 256"))

    (point,) = load_suite(suite, smoke=True).points

    assert {key: getattr(point.run, key) for key in SMOKE_LIMITS} == SMOKE_LIMITS
    assert point.run.smoke is True


def test_smoke_keeps_values_already_below_its_caps(write_suite):
    suite = write_suite(suite_text(run="epochs = 1\ntrain_size = 100\neval_size = 50\nbatch_size = 8"))

    (point,) = load_suite(suite, smoke=True).points

    assert point.run.epochs == 1
    assert (point.run.train_size, point.run.eval_size, point.run.batch_size) == (100, 50, 8)


def test_smoke_runs_the_first_seed_and_keeps_every_other_axis(write_suite):
    suite = write_suite(suite_text(
        sweep="task.seq_len = [10, 20]\n", models=RIDGE + ORACLE, seeds="[3, 1, 2]",
    ))

    points = load_suite(suite, smoke=True).points

    assert {p.seed for p in points} == {3}
    assert {(p.task_params["seq_len"], p.model) for p in points} == {
        (10, "numpy:ridge"), (20, "numpy:ridge"), (10, "oracle"), (20, "oracle")
    }


def test_without_smoke_run_is_not_marked_smoke(write_suite):
    (point,) = load_suite(write_suite(suite_text(run="epochs = 10"))).points

    assert point.run.smoke is False
    assert point.run.epochs == 10


def test_device_option_overrides_run_device(write_suite):
    suite = write_suite(suite_text(run='device = "cpu"', sweep="task.seq_len = [10, 20]"))

    points = load_suite(suite, device="cuda:1").points

    assert [p.run.device for p in points] == ["cuda:1", "cuda:1"]


def test_device_option_overrides_a_device_sweep(write_suite):
    suite = write_suite(suite_text(sweep='run.device = ["cpu", "cuda"]'))

    points = load_suite(suite, device="cpu").points

    assert [p.run.device for p in points] == ["cpu"]


def test_dry_run_prints_every_point_hash_and_writes_no_store(write_suite, store_path):
    suite = write_suite(suite_text(sweep="task.seq_len = [10, 20]", models=RIDGE + ORACLE, seeds="[0, 1]"))
    expected = [point.hash for point in load_suite(suite).points]

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output
    assert len(expected) == 8
    for point_hash in expected:
        assert point_hash in result.stdout
    assert not store_path.exists()
    assert not store_path.parent.exists()



@pytest.mark.parametrize("text, fragment", [
    ("[run]\nepoch = 2\n[task]\nname = 'adding'\n" + ORACLE, "[run] epoch: unknown setting; allowed: epochs"),
    ("[task]\nname = 'adding'\n[sweep]\ntask.seqlen = [5]\n" + ORACLE, "(did you mean 'seq_len'?)"),
    ("[task]\nname = 'adding'\n[[model]]\nname = 'numpy:ridge'\nalhpa = 1.0\n", "(did you mean 'alpha'?)"),
    ("[runs]\nepochs = 1\n[task]\nname = 'adding'\n" + ORACLE, "(did you mean 'run'?)"),
    ("[suite]\nseed = [1]\n[task]\nname = 'adding'\n" + ORACLE, "(did you mean 'seeds'?)"),
], ids=["run-key", "sweep-key", "model-key", "section", "suite-key"])
def test_a_misspelt_key_is_refused_with_the_near_name(tmp_path, store_path, text, fragment):
    suite = tmp_path / "suite.toml"
    suite.write_text(text)

    line = assert_one_line_error(invoke_run(str(suite), "--store", str(store_path)), store_path, fragment)

    assert line.count("did you mean") == 1


@pytest.mark.parametrize("name", [" x", "x ", "x [smoke] "])
def test_a_suite_name_with_whitespace_around_it_is_refused(tmp_path, store_path, name):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suite]\nname = "{name}"\n[task]\nname = "adding"\n' + ORACLE)

    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path)), store_path,
                          "starts or ends with whitespace")


def test_a_byte_order_mark_is_read_as_none(tmp_path, store_path):
    suite = tmp_path / "suite.toml"
    suite.write_bytes(b"\xef\xbb\xbf" + b'[task]\nname = "adding"\nseq_len = 5\n' + ORACLE.encode())

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output


def test_minus_zero_is_the_same_point_as_zero(tmp_path):
    from seqbench.suite import load_suite

    hashes = []
    for value in ("0.0", "-0.0"):
        suite = tmp_path / f"s{len(hashes)}.toml"
        suite.write_text(f'[suite]\nname = "z"\n[task]\nname = "gp-pairs"\nshift = {value}\n' + ORACLE)
        hashes.append([point.hash for point in load_suite(suite).points])

    assert hashes[0] == hashes[1]


@pytest.mark.parametrize("text, fragment", [
    ("[task]\nname = 'subsequence'\n[sweep]\ntask.length = [10, 4]\n" + ORACLE,
     "[task] subsequence at [sweep] task.length = 4: max_start"),
    ("[task]\nname = 'adding'\nseq_len = 10\n[sweep]\nrun.eval_lengths = [[10, 20], [1]]\n" + ORACLE,
     "[sweep] run.eval_lengths: length 1 is not valid"),
], ids=["task-rule", "eval-lengths"])
def test_a_swept_value_that_breaks_a_rule_is_named_as_swept(tmp_path, store_path, text, fragment):
    suite = tmp_path / "suite.toml"
    suite.write_text(text)

    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path)), store_path, fragment)


@pytest.mark.parametrize("task, setting, message", [
    ("parity", "length = 3\nmin_length = 5", "[task] parity: min_length (5) must be at most length (3)"),
    ("flip-flop", "length = 5", "[task] flip-flop: length must be even"),
])
def test_a_task_that_names_itself_in_its_error_is_named_once(tmp_path, store_path, task, setting, message):
    # The line names the task already; its own "parity: ..." prefix read twice.
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "{task}"\n{setting}\n' + ORACLE)
    line = assert_one_line_error(invoke_run(str(suite), "--store", str(store_path), "--dry-run"), store_path, message)
    assert line.count(f"{task}:") == 1
