"""torch:lstm and torch:transformer on the synthetic token tasks: answers read at each
row's last positions, and sinusoidal positions for lengths past training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seqbench.testing import tiny_model, tiny_settings  # noqa: E402
from seqbench_tasks import Parity, ReverseString  # noqa: E402
from seqbench_torch.networks.base import answer_states  # noqa: E402


def built(name: str, task, **sizes):
    model = tiny_model(name, **sizes)
    model.build(task, tiny_settings())
    return model


def test_answer_states_are_each_rows_last_positions_before_its_padding():
    states = torch.arange(2 * 6, dtype=torch.float32).reshape(2, 6, 1)
    tokens = torch.tensor([[5, 5, 5, 5, 0, 0], [5, 5, 5, 5, 5, 5]])
    assert answer_states(states, tokens, 2)[..., 0].tolist() == [[2.0, 3.0], [10.0, 11.0]]


def test_an_lstm_answer_does_not_depend_on_the_rows_batched_with_it():
    task = Parity(length=12, min_length=1)
    model = built("torch:lstm", task)
    inputs = task.generate(12, np.random.default_rng(0), "train").inputs
    together = model.predict(inputs)
    alone = np.concatenate([model.predict(inputs[i : i + 1]) for i in range(len(inputs))])
    assert together.shape == (12, 1) and np.array_equal(together, alone)


def test_an_lstm_answers_as_many_positions_as_the_target_has():
    task = ReverseString(length=5)
    predictions = built("torch:lstm", task).predict(task.generate(8, np.random.default_rng(1), "test").inputs)
    assert predictions.shape == (8, 5) and set(np.unique(predictions)) <= {0, 1, 2}


def test_a_transformer_with_sinusoidal_positions_answers_past_its_training_length():
    longer = Parity(length=40).generate(8, np.random.default_rng(2), "test").inputs
    sinusoidal = built("torch:transformer", Parity(length=10), positions="sinusoidal")
    assert sinusoidal.predict(longer).shape == (8, 1)
    assert not any(name.endswith("positions.weight") for name, _ in sinusoidal._trainer.network.named_parameters())
    learned = built("torch:transformer", Parity(length=10))
    with pytest.raises(ValueError, match="longer than the 11 positions"):
        learned.predict(longer)
