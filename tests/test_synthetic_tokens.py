"""What the synthetic token tasks share: splits by a hash, answers at the last
positions, exact oracles at every length, scoring of answer tokens."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from seqbench.task import PAD_ID
from seqbench_tasks import SYNTHETIC
from seqbench.data import SPLITS
from seqbench_tasks.synthetic_tokens import draw_lengths_first, lengths_owned, sample_distinct, split_of_rows

SMALL = {
    "copy-memory": {"delay": 6},
    "selective-copy": {"length": 12, "tokens": 3},
    "associative-recall": {"length": 16, "vocab": 64, "pairs": 4, "queries": 3},
    "induction-heads": {"length": 10},
    "parity": {"length": 6, "min_length": 1},
    "modular-arithmetic": {"length": 7, "min_length": 1},
    "reverse-string": {"length": 6},
    "stack-manipulation": {"length": 6, "min_length": 1},
    "duplicate-string": {"length": 6, "min_length": 1},
    "even-pairs": {"length": 6, "min_length": 1},
    "cycle-navigation": {"length": 6, "min_length": 1},
    "odds-first": {"length": 6, "min_length": 1},
    "bucket-sort": {"length": 6, "min_length": 1},
    "missing-duplicate-string": {"length": 6, "min_length": 1},
    "binary-addition": {"length": 6, "min_length": 1},
    "word-problem": {"length": 6, "group": "S3"},
    "flip-flop": {"length": 16},
}


@pytest.mark.parametrize("cls", SYNTHETIC, ids=lambda cls: cls.name)
def test_the_oracle_is_exact_at_the_trained_length_and_at_longer_ones(cls):
    task = cls(**SMALL[cls.name])
    for factor in (1, 3, 10):
        longer = dataclasses.replace(task, **{cls.length_param: getattr(task, cls.length_param) * factor})
        examples = longer.generate(100, np.random.default_rng(factor), "test")
        assert np.array_equal(task.solve(examples.inputs), examples.targets)
        assert longer.score(examples.targets, examples.targets) == {"accuracy": 1.0, "exact_match": 1.0}


@pytest.mark.parametrize("cls", SYNTHETIC, ids=lambda cls: cls.name)
def test_inputs_are_right_padded_token_ids_with_the_answers_due_at_the_end(cls):
    task = cls(**SMALL[cls.name])
    inputs = task.generate(200, np.random.default_rng(0), "train").inputs
    signature = task.signature
    assert inputs.dtype == np.int32 and inputs.max() < signature.input_vocab
    used = inputs != PAD_ID
    assert (used.cumsum(axis=1) == np.arange(1, inputs.shape[1] + 1)).sum(axis=1).tolist() == used.sum(axis=1).tolist()
    assert (used.sum(axis=1) >= signature.target_length).all()


def test_a_sequence_hashes_to_the_same_split_at_any_padded_width():
    rows = np.random.default_rng(0).integers(1, 5, size=(500, 9))
    wider = np.pad(rows, ((0, 0), (0, 30)))
    assert np.array_equal(split_of_rows(rows), split_of_rows(wider))
    shares = np.bincount(split_of_rows(np.random.default_rng(1).integers(1, 99, size=(50_000, 5))), minlength=3)
    assert np.allclose(shares / 50_000, [0.8, 0.1, 0.1], atol=0.01)


def test_distinct_samples_are_uniform_subsets_in_uniform_order():
    drawn = sample_distinct(np.random.default_rng(0), 60_000, 2, 4)
    assert all(a != b for a, b in drawn[:1000])
    pairs = np.bincount(drawn[:, 0] * 4 + drawn[:, 1], minlength=16).reshape(4, 4)
    off_diagonal = pairs[~np.eye(4, dtype=bool)] / 60_000
    assert np.allclose(off_diagonal, 1 / 12, atol=0.006) and np.trace(pairs) == 0


def test_the_conformance_kit_checks_a_model_on_one_task_of_each_signature_shape():
    from seqbench.testing.selection import parameters

    pairs = [param.values[0] for param in parameters({"seqbench-torch"})["model_on_task"]]
    tasks = [task for model, task in pairs if model == "torch:transformer"]
    # Token tasks with several answers (one of them with an end token), and with one.
    assert tasks == ["associative-recall", "binary-addition", "cycle-navigation"]


def test_a_length_whose_strings_the_split_owns_none_of_is_left_out_of_the_draw():
    width = 3
    # One string of length 1, owned by validation; length 2's many strings.
    lonely = next(v for v in range(1, 1000) if split_of_rows(np.array([[v, 0, 0]]))[0] == SPLITS.index("validation"))

    def draw(rng, count, length):
        if length == 1:
            return np.tile(np.array([lonely, 0, 0], dtype=np.int32), (count, 1))
        return np.pad(rng.integers(1, 1000, size=(count, 2), dtype=np.int32), ((0, 0), (0, width - 2)))

    owned = lengths_owned(draw, range(1, 3), "train")
    rows = draw_lengths_first(draw, np.random.default_rng(0), 100, owned, "train", "t")

    assert owned == (2,)
    assert (split_of_rows(rows) == SPLITS.index("train")).all() and ((rows != 0).sum(axis=1) == 2).all()
    assert lengths_owned(draw, range(1, 3), "validation") == (1, 2)
