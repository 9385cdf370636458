"""Suite values validation used to accept and every point then failed, or that made
validation itself costly (red-team audit of suite validation): each is now one line
naming the file, the key and what is allowed, exit 2, nothing written.

- every split a point uses is probed (train, validation, test, and the test split at
  each of ``run.eval_lengths``), not only the train split;
- each evaluation length is checked as the training length is (declared bounds,
  the size of one example, split availability);
- ``train_size`` / ``eval_size`` are bounded, fixed and by what the task's examples hold;
- the probe runs once per distinct task configuration, however many grid points share it;
- a boolean in a sweep list is a type error, not a repeat of 1;
- suite names equal in NFC are one name (in one run, and against a store), and the
  smoke marker is read NFKC-folded;
- a key above every section header is called a key.
"""

from __future__ import annotations

import unicodedata

import pytest

from seqbench.settings import MAX_SPLIT_EXAMPLES
from seqbench.suite_run import MAX_EVAL_LENGTHS
from seqbench.task_probe import MAX_EXAMPLE_VALUES, MAX_SPLIT_VALUES
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

RUN = '[run]\nepochs = 1\ntrain_size = 8\neval_size = 8\nbatch_size = 4\ndevice = "cpu"\n'

# (id, suite text, fragments of the one error line)
REFUSED = [
    # parity's 2**length inputs are spread over the splits by hash: at length 5 the test
    # split owns none (train and validation do), at length 1 validation owns none.
    ("validation-split-empty", RUN + '[task]\nname = "parity"\nlength = 1\n' + ORACLE,
     ["[task] parity: its validation split cannot be made with length = 1", "owns too few",
      "allowed: values that leave each split (train, validation, test) inputs of its own"]),
    ("eval-length-split-empty",
     RUN + 'eval_lengths = [12, 5]\n[task]\nname = "parity"\nlength = 12\n' + ORACLE,
     ["[task] parity at [run] eval_lengths length 5: its test split cannot be made with length = 5"]),
    # A split owning a handful of inputs (the audit's): its figures measure those alone.
    # (parity at length 5: validation owns 4 strings; test, probed after it, none.)
    ("few-distinct-validation", RUN + '[task]\nname = "parity"\nlength = 5\n' + ORACLE,
     ["[task] parity: its validation split holds only 4 distinct examples (input and target) "
      "in 256 drawn with length = 5", "allowed: values that leave the validation split at "
      "least 16 distinct examples of 256", "longer sequences or a larger vocabulary"]),
    ("few-distinct-one-answer", RUN + '[task]\nname = "modular-arithmetic"\nlength = 3\nmodulus = 2\n' + ORACLE,
     ["[task] modular-arithmetic: its validation split holds only 1 distinct example",
      "with length = 3, modulus = 2 (the commonest answer is 100% of them)"]),
    ("few-distinct-copy-memory",
     RUN + '[task]\nname = "copy-memory"\ndelay = 10\nsymbols = 3\nalphabet = 4\n' + ORACLE,
     ["[task] copy-memory: its validation split holds only 9 distinct examples"]),
    ("few-distinct-swept-value-named", RUN + '[task]\nname = "parity"\n[sweep]\ntask.length = [12, 5]\n' + ORACLE,
     ["[task] parity at [sweep] task.length = 5: its validation split holds only 4 distinct"]),
    ("few-distinct-eval-length",
     RUN + 'eval_lengths = [12, 7]\n[task]\nname = "parity"\nlength = 12\n' + ORACLE,
     ["[task] parity at [run] eval_lengths length 7: its test split holds only 11 distinct examples"]),
    # At vocab 3 selective copying has one data token: one sequence to copy.
    ("selective-copy-one-data-token", '[task]\nname = "selective-copy"\nvocab = 3\n' + ORACLE,
     ["[task] vocab: expected int between 4 and 2147483647, got 3"]),
    ("eval-length-past-example-limit",
     RUN + 'eval_lengths = [100000000]\n[task]\nname = "adding"\nseq_len = 5\n' + ORACLE,
     ["[run] eval_lengths length 100000000 of [task] adding",
      f"allowed: at most {MAX_EXAMPLE_VALUES:,} values an example"]),
    ("swept-eval-length-past-example-limit",
     RUN + '[task]\nname = "adding"\nseq_len = 5\n[sweep]\nrun.eval_lengths = [[10], [100000000]]\n' + ORACLE,
     ["[sweep] run.eval_lengths length 100000000 of [task] adding"]),
    ("eval-length-below-declared-bound",
     RUN + 'eval_lengths = [1]\n[task]\nname = "adding"\nseq_len = 5\n' + ORACLE,
     ["[run] eval_lengths: length 1 is not valid for 'adding'", "expected int >= 2"]),
    ("too-many-eval-lengths",
     RUN + f'eval_lengths = {list(range(2, MAX_EVAL_LENGTHS + 3))}\n[task]\nname = "adding"\nseq_len = 5\n' + ORACLE,
     [f"[run] eval_lengths: {MAX_EVAL_LENGTHS + 1:,} lengths; allowed: at most {MAX_EVAL_LENGTHS} lengths"]),
    ("train-size-past-fixed-cap", '[run]\ntrain_size = 1000000000000\n[task]\nname = "adding"\n' + ORACLE,
     [f"[run] train_size: expected int between 1 and {MAX_SPLIT_EXAMPLES}, got 1000000000000"]),
    ("eval-size-past-fixed-cap", '[run]\neval_size = 1000000000000\n[task]\nname = "adding"\n' + ORACLE,
     [f"[run] eval_size: expected int between 1 and {MAX_SPLIT_EXAMPLES}, got 1000000000000"]),
    # Within the fixed cap, past what the task's examples allow: 1,000,000 examples of
    # 20,001 values (seq_len 10,000: two features and a target).
    ("train-split-past-values-limit",
     '[run]\ntrain_size = 1000000\n[task]\nname = "adding"\nseq_len = 10000\n' + ORACLE,
     ["[run] train_size = 1,000,000 with [task] adding (20,001 values an example)",
      f"allowed: at most {MAX_SPLIT_VALUES:,} values a split", f"train_size at most {MAX_SPLIT_VALUES // 20001:,}"]),
    ("swept-eval-split-past-values-limit",
     '[task]\nname = "adding"\nseq_len = 10000\n[sweep]\nrun.eval_size = [10, 1000000]\n' + ORACLE,
     ["[sweep] run.eval_size = 1,000,000 with [task] adding"]),
    ("eval-length-split-past-values-limit",
     '[run]\neval_size = 100000\neval_lengths = [100000]\n[task]\nname = "adding"\nseq_len = 10\n' + ORACLE,
     ["[run] eval_size = 100,000 with [task] adding at [run] eval_lengths length 100000 (200,001 values"]),
    ("bool-beside-int-in-sweep", '[task]\nname = "adding"\n[sweep]\nrun.epochs = [1, true]\n' + ORACLE,
     ["[sweep] run.epochs: expected int >= 1, got True"]),
    ("float-beside-int-in-task-sweep", '[task]\nname = "adding"\n[sweep]\ntask.seq_len = [2, 2.0]\n' + ORACLE,
     ["[sweep] task.seq_len: expected int >= 2, got 2.0"]),
    ("bool-beside-int-in-task-sweep", '[task]\nname = "adding"\n[sweep]\ntask.seq_len = [2, 3, true]\n' + ORACLE,
     ["[sweep] task.seq_len: expected int >= 2, got True"]),
    ("bool-beside-int-in-target-sweep",
     '[task]\nname = "adding"\n[sweep]\nrun.target = [{metric = "mse", value = 1}, {metric = "mse", value = true}]\n'
     + ORACLE, ["[sweep] run.target: value: expected a finite number, got True"]),
    ("fullwidth-smoke-marker", '[suite]\nname = "x \uff3bsmoke\uff3d"\n[task]\nname = "adding"\n' + ORACLE,
     ["[suite] name:", "ends in '[smoke]'", "full-width"]),
    ("fullwidth-letters-smoke-marker", '[suite]\nname = "x [\uff53\uff4d\uff4f\uff4b\uff45]"\n[task]\nname = "adding"\n' + ORACLE,
     ["[suite] name:", "ends in '[smoke]'"]),
    ("top-level-key", 'name = "x"\n[task]\nname = "adding"\n' + ORACLE,
     ["'name' = 'x': a key outside any section", "under [suite] or [task]",
      "allowed sections: suite, run, task, sweep, model"]),
]


@pytest.mark.parametrize("text, fragments", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_refused_at_validation(tmp_path, store_path, text, fragments):
    suite = tmp_path / "suite.toml"
    suite.write_text(text, encoding="utf-8")

    result = invoke_run(str(suite), "--store", str(store_path))

    assert_one_line_error(result, store_path, str(suite), *fragments)


def test_a_top_level_table_is_still_an_unknown_section(tmp_path, store_path):
    suite = tmp_path / "suite.toml"
    suite.write_text('[tasks]\nname = "adding"\n' + ORACLE)

    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path)), store_path, "unknown section [tasks]")


def test_a_parity_length_whose_every_split_has_inputs_passes(tmp_path, store_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + 'eval_lengths = [12, 16]\n[task]\nname = "parity"\nlength = 12\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output


def test_every_split_and_eval_length_is_probed_once_per_distinct_configuration(tmp_path, store_path, monkeypatch):
    """A 2 x 2 grid of run axes over one task configuration, two models and two seeds:
    one probe of train, validation and test at the training length, one of the test
    split at each evaluation length, however many points share them."""
    from seqbench_tasks.adding import Adding

    made = []
    real = Adding.generate
    monkeypatch.setattr(Adding, "generate",
                        lambda self, count, rng, split="train": made.append((self.seq_len, split)) or real(self, count, rng, split))
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nseeds = [0, 1]\n' + RUN + 'eval_lengths = [7, 9]\n[task]\nname = "adding"\nseq_len = 5\n'
                     '[sweep]\nrun.batch_size = [2, 4]\nrun.epochs = [1, 2]\n' + ORACLE + '[[model]]\nname = "numpy:ridge"\n')

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert result.exit_code == 0, result.output
    assert sorted(made) == sorted([(5, "train"), (5, "validation"), (5, "test"), (7, "test"), (9, "test")])


def test_each_eval_length_is_built_once_per_task_configuration(tmp_path, monkeypatch):
    """Not once per grid point: 1,000 lengths in a 10,000-point grid took 42 s."""
    from seqbench_tasks.adding import Adding

    from seqbench.suite import load_suite

    built = []
    real = Adding.__post_init__
    monkeypatch.setattr(Adding, "__post_init__", lambda self: built.append(self.seq_len) or real(self))
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + 'eval_lengths = [7, 9]\n[task]\nname = "adding"\nseq_len = 5\n'
                     '[sweep]\nrun.batch_size = [1, 2, 3, 4]\n' + ORACLE)

    load_suite(suite)

    # Each grid point builds its own task at the training length; the lengths once.
    assert sorted(built) == [5, 5, 5, 5, 7, 9]


def test_probing_counts_against_max_points(tmp_path, store_path):
    """Validation probes each task configuration at its length and at every evaluation
    length: 3 task configurations x (1 + 2 lengths) = 9 probes, over --max-points 8
    (though the grid has 3 points)."""
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + 'eval_lengths = [20, 30]\n[task]\nname = "adding"\n[sweep]\ntask.seq_len = [5, 6, 7]\n' + ORACLE)

    refused = invoke_run(str(suite), "--store", str(store_path), "--max-points", "8")
    accepted = invoke_run(str(suite), "--store", str(store_path), "--max-points", "9", "--dry-run")

    assert_one_line_error(refused, store_path, "up to 9 task configurations to probe", "more than --max-points 8")
    assert accepted.exit_code == 0, accepted.output


def test_a_true_beside_one_in_a_model_sweep_is_not_a_repeat(tmp_path, store_path):
    """Model axes are typed per model at each grid point: the boolean reaches that check
    instead of being reported as a repeat of 1."""
    suite = tmp_path / "suite.toml"
    suite.write_text('[task]\nname = "adding"\n[[model]]\nname = "numpy:ridge"\n[sweep]\nmodel.alpha = [1, true]\n')

    result = invoke_run(str(suite), "--store", str(store_path))

    line = assert_one_line_error(result, store_path, "model.alpha", "True")
    assert "repeated" not in line


def test_suite_names_equal_under_nfc_are_one_name(tmp_path, store_path):
    composed, decomposed = "caf\u00e9", unicodedata.normalize("NFD", "caf\u00e9")
    assert composed != decomposed
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(f'[suite]\nname = "{composed}"\n[task]\nname = "adding"\n' + ORACLE, encoding="utf-8")
    second.write_text(f'[suite]\nname = "{decomposed}"\n[task]\nname = "adding"\n' + ORACLE, encoding="utf-8")

    result = invoke_run(str(first), str(second), "--store", str(store_path))

    assert_one_line_error(result, store_path, str(second), "is also the name of", str(first))


def test_a_name_is_kept_as_typed_and_another_spelling_of_a_stored_one_is_refused(tmp_path, store_path):
    """Names are stored as typed (a store of an earlier seqbench holding a decomposed
    name resumes as before); a file spelling a stored suite's name with other Unicode
    characters would make a second suite that looks the same in every report."""
    from seqbench import results
    from seqbench.suite import load_suite

    decomposed = tmp_path / "d.toml"
    decomposed.write_text('[suite]\nname = "cafe\u0301"\n[task]\nname = "adding"\n' + ORACLE, encoding="utf-8")
    assert load_suite(decomposed).name == "cafe\u0301"
    assert invoke_run(str(decomposed), "--store", str(store_path)).exit_code == 0
    assert invoke_run(str(decomposed), "--store", str(store_path)).exit_code == 0  # resumed, nothing new
    assert results.suites(store_path) == ["cafe\u0301"] and len(results.load(store_path)) == 1

    composed = tmp_path / "c.toml"
    composed.write_text('[suite]\nname = "caf\u00e9"\n[task]\nname = "adding"\n' + ORACLE, encoding="utf-8")
    before = store_path.read_bytes()
    result = invoke_run(str(composed), "--store", str(store_path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert str(composed) in line and "spelt with other Unicode characters" in line
    assert store_path.read_bytes() == before


def test_a_name_typed_decomposed_finds_the_composed_one_in_report_and_export(tmp_path, store_path):
    """Stored as NFC, a suite typed decomposed (pasted from a macOS file name) was
    "no runs of suite" in report --suite and export."""
    from click.testing import CliRunner

    from seqbench.cli import main

    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "caf\u00e9"\n[task]\nname = "adding"\n' + ORACLE, encoding="utf-8")
    assert invoke_run(str(suite), "--store", str(store_path)).exit_code == 0
    typed = unicodedata.normalize("NFD", "caf\u00e9")

    shown = CliRunner().invoke(main, ["report", "--store", str(store_path), "--suite", typed, "--format", "csv"])
    assert shown.exit_code == 0, shown.output
    assert "caf\u00e9,adding,oracle" in shown.output
    bundle = tmp_path / "bundle.sqlite"
    exported = CliRunner().invoke(main, ["export", typed, "--store", str(store_path), "--out", str(bundle)])
    assert exported.exit_code == 0, exported.output
    from seqbench import results

    assert set(results.load(bundle)["suite"]) == {"caf\u00e9"}

    other = tmp_path / "tea.toml"
    other.write_text('[suite]\nname = "tea"\n[task]\nname = "adding"\n' + ORACLE, encoding="utf-8")
    assert invoke_run(str(other), "--store", str(store_path)).exit_code == 0
    compared = CliRunner().invoke(main, ["report", "--store", str(store_path), "--suite", "tea", "--compare", typed])
    assert compared.exit_code == 0, compared.output
