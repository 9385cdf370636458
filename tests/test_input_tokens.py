"""Tokens a second are the input tokens the model was fed, counted from its batches: the
ids that are not padding for token inputs, one per position for continuous inputs;
never the signature's longest length, nor the targets."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench import registry
from seqbench.data import FreshTrain, Split
from seqbench.pipeline import run_point
from seqbench.suite import load_suite
from seqbench.task import PAD_ID

PARITY = """\
[suite]
name = "tokens"
seeds = [3]

[run]
train_size = 200
eval_size = 100
batch_size = 16
epochs = {epochs}
train_data = "{train_data}"
device = "cpu"

[task]
name = "parity"
length = 40
min_length = 1

[[model]]
name = "{model}"
"""

TWO_PASSES = """
from dataclasses import dataclass

import numpy as np

from seqbench import Model, hookimpl


@dataclass
class TwoPasses(Model):
    name = "twice:constant"
    serves = frozenset({("tokens", "tokens")})

    def fit(self, train, settings, on_epoch):
        for epoch in range(1, settings.epochs + 1):
            for _ in range(2):  # as numpy:ridge reads its data more than once an epoch
                seen = sum(len(batch) for batch in train.batches(settings.batch_size))
            on_epoch(epoch, 1.0, seen)

    def predict(self, inputs):
        return np.ones((len(inputs), 1), dtype=np.int64)


@hookimpl
def register_models(register):
    register(TwoPasses)
"""


def real_tokens(split: Split) -> int:
    return int(np.count_nonzero(split.materialize().inputs != PAD_ID))


def test_a_parity_point_with_shorter_training_strings_counts_the_tokens_its_batches_carry(write_suite):
    (point,) = load_suite(write_suite(PARITY.format(epochs=1, train_data="fixed", model="numpy:lookup"))).points
    record = run_point(point)
    assert record.ok, record.error
    task = registry.tasks().get("parity")(**point.task_params)
    train, test = Split(task, "train", 200, 3), Split(task, "test", 100, 3)
    timings = record.timings

    assert timings["train_input_tokens"] == real_tokens(train)
    assert timings["train_input_tokens_per_s"] == pytest.approx(real_tokens(train) / timings["train_s"])
    assert timings["eval_input_tokens"] == real_tokens(test)
    assert timings["eval_input_tokens_per_s"] == pytest.approx(real_tokens(test) / timings["eval_s"])
    # Strings of 1 to 40 symbols: far fewer than the signature's 41 input positions a row.
    assert timings["train_input_tokens"] / 200 < 0.7 * task.signature.input_length
    assert "train_tokens_per_s" not in timings and "eval_tokens_per_s" not in timings


def test_fresh_epochs_count_each_epochs_own_examples_once_however_often_they_are_read(
    install_plugin, write_suite
):
    install_plugin("seqbench-two-passes", TWO_PASSES)
    (point,) = load_suite(write_suite(PARITY.format(epochs=3, train_data="fresh", model="twice:constant"))).points
    record = run_point(point)
    assert record.ok, record.error
    task = registry.tasks().get("parity")(**point.task_params)
    fresh = FreshTrain(task, 200, 3)
    expected = 0
    for epoch in (1, 2, 3):
        fresh.start_epoch(epoch)
        expected += real_tokens(fresh)

    assert record.timings["train_examples"] == 600
    assert record.timings["train_input_tokens"] == expected
    assert record.timings["train_input_tokens_per_s"] == pytest.approx(expected / record.timings["train_s"])


def test_gp_pairs_counts_its_input_positions_not_its_targets_again(write_suite):
    suite = write_suite('[suite]\nname = "gp"\nseeds = [0]\n[run]\ntrain_size = 8\neval_size = 8\n'
                        'device = "cpu"\n[task]\nname = "gp-pairs"\n[[model]]\nname = "oracle"\n')
    (point,) = load_suite(suite).points
    record = run_point(point)
    assert record.ok, record.error
    signature = registry.tasks().get("gp-pairs")(**point.task_params).signature

    # 200 positions an example at the defaults; the 150 targets are positions among them.
    assert record.timings["eval_input_tokens"] == 8 * signature.input_length
    assert record.timings["eval_input_tokens_per_s"] == pytest.approx(
        8 * signature.input_length / record.timings["eval_s"])


def test_a_pad_id_inside_a_row_is_a_token_only_trailing_padding_is_not():
    # Rows are right-padded: subsequence's start index 0 is a real input token, and
    # a row's trailing zeros are padding.
    from seqbench_tasks import Subsequence

    from seqbench.throughput import row_lengths

    task = Subsequence(length=10)
    inputs = task.generate(256, np.random.default_rng(0), split="test").inputs
    starting_at_zero = int(np.sum(inputs[:, 0] == 0))

    assert starting_at_zero > 0  # the case this is about occurs
    assert row_lengths(inputs) == inputs.size  # every position of a subsequence input is read
    assert row_lengths(np.array([[3, 0, 2, 0, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 0]])) == 3 + 0 + 2
