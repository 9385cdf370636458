"""Selective copying in Gu & Dao 2023's format (the state-spaces generator, ids plus one)."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench_tasks import SelectiveCopy


@pytest.fixture(scope="module")
def examples():
    return SelectiveCopy(length=40, tokens=5, vocab=8).generate(4000, np.random.default_rng(0), "train")


def test_data_tokens_sit_among_blanks_then_markers_close_the_input(examples):
    inputs = examples.inputs
    assert inputs.shape == (4000, 45)
    region = inputs[:, :40]
    assert ((region > 1).sum(axis=1) == 5).all()  # exactly `tokens` data tokens
    assert set(np.unique(region[region > 1])) == set(range(2, 8))  # vocab - 2 data ids
    assert (inputs[:, 40:] == 8).all()  # markers: their vocab - 1, plus one


def test_the_answer_is_the_data_tokens_in_their_order(examples):
    expected = [[token for token in row[:40] if token > 1] for row in examples.inputs]
    assert examples.targets.tolist() == expected


def test_every_position_of_the_region_is_equally_likely_to_hold_a_token(examples):
    shares = (examples.inputs[:, :40] > 1).mean(axis=0)
    assert np.allclose(shares, 5 / 40, atol=0.025)


def test_mambas_setting_is_the_default():
    task = SelectiveCopy()
    assert (task.length, task.tokens, task.vocab) == (4096, 16, 16)
    assert task.signature.input_length == 4096 + 16


def test_more_tokens_than_positions_is_refused():
    with pytest.raises(ValueError, match="must fit"):
        SelectiveCopy(length=3, tokens=4)
