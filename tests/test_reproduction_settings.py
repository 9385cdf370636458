"""The full-size reproduction suites against the originals' documented settings
(docs/results.md): sizes and the learning rate inferred from the original's codebase."""

from __future__ import annotations

from pathlib import Path

from seqbench.suite import load_suite

SUITES = Path(__file__).resolve().parent.parent / "suites" / "reproductions"


def test_polynomial_suite_has_the_originals_sizes_and_inferred_learning_rate():
    # The original: 800,000 training lines split 95/5 -> 760,000 train, 40,000
    # validation; lr 5e-4 from jaymody/seq2seq-polynomial's train.py.
    suite = load_suite(SUITES / "polynomial.toml")
    transformer = [p for p in suite.points if p.model == "torch:transformer"]
    assert transformer
    for point in transformer:
        assert point.run.train_size == 760_000
        assert point.run.eval_size == 40_000
        assert point.model_params["lr"] == 5e-4

