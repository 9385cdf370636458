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
