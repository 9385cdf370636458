"""Issue 18, class 3 (the part done): values that passed validation but failed the
store's write after the point had run, losing it, and failing every resume the same
way, are refused at validation."""

from __future__ import annotations

import pytest

from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

TASK = '[task]\nname = "adding"\nseq_len = 5\n'


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("[run]\neval_lengths = [6, 7, 6]\n" + TASK + ORACLE,
         ["[run] eval_lengths: repeated length 6 in [6, 7, 6]"]),
        ("[suite]\nseeds = [0, 9223372036854775808]\n" + TASK + ORACLE,
         ["[suite] seeds: expected a non-empty list of integers between 0 and 9223372036854775807"]),
    ],
    ids=["repeated-eval-length", "seed-over-64-bits"],
)
def test_what_the_store_cannot_hold_is_refused_before_running(tmp_path, store_path, text, fragments):
    path = tmp_path / "suite.toml"
    path.write_text(text)

    result = invoke_run(str(path), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {path}: ", *fragments)


def test_the_largest_seed_is_accepted(tmp_path, store_path):
    path = tmp_path / "suite.toml"
    path.write_text("[suite]\nseeds = [9223372036854775807]\n" + TASK + ORACLE)

    assert invoke_run(str(path), "--store", str(store_path), "--dry-run").exit_code == 0
