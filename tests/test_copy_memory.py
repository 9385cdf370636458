"""The copying-memory problem in Arjovsky et al. 2016's format (ids plus one)."""

from __future__ import annotations

import numpy as np

from seqbench_tasks import CopyMemory
from seqbench_tasks.synthetic_tokens import split_of_rows


def test_layout_is_symbols_blanks_delimiter_blanks_as_arjovsky_et_al():
    task = CopyMemory(delay=100)
    inputs = task.generate(300, np.random.default_rng(0), "train").inputs
    assert inputs.shape == (300, 120)  # T + 20 at their sizes
    assert set(np.unique(inputs[:, :10])) == set(range(2, 10))  # their 1..8, plus one
    assert (inputs[:, 10:109] == 1).all()  # T - 1 blanks
    assert (inputs[:, 109] == 10).all()  # their delimiter 9
    assert (inputs[:, 110:] == 1).all()  # the blanks where the recall is due
    assert task.signature.target_length == 10 and task.signature.input_vocab == 11


def test_the_answer_is_the_symbols_in_order():
    examples = CopyMemory(delay=7, symbols=4, alphabet=3).generate(100, np.random.default_rng(1), "test")
    assert np.array_equal(examples.targets, examples.inputs[:, :4])


def test_symbols_are_uniform_over_the_alphabet():
    symbols = CopyMemory(delay=5).generate(20_000, np.random.default_rng(2), "train").inputs[:, :10]
    shares = np.bincount(symbols.ravel(), minlength=10)[2:] / symbols.size
    assert np.allclose(shares, 1 / 8, atol=0.005)


def test_a_sequence_of_symbols_belongs_to_one_split_whatever_the_delay():
    # 2^6 = 64 possible symbol sequences: independent draws would share most of them.
    task = CopyMemory(delay=3, symbols=6, alphabet=2)
    seen = {}
    for split in ("train", "validation", "test"):
        symbols = task.generate(2000, np.random.default_rng(3), split).inputs[:, :6]
        seen[split] = {row.tobytes() for row in symbols}
    assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["validation"])
    assert not (seen["validation"] & seen["test"])
    assert len(seen["train"] | seen["validation"] | seen["test"]) == 64
    longer = CopyMemory(delay=50, symbols=6, alphabet=2).generate(100, np.random.default_rng(4), "test").inputs
    assert (split_of_rows(longer[:, :6]) == 2).all()
