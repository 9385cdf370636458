"""Token predictions narrower than their targets (a model tested at another length
answers with its own width) are padded with NO_ANSWER, which no token id equals, so
the positions not answered score wrong even where the target is padding (PAD_ID).
Before, they were padded with PAD_ID and counted right there: subsequence at length 14,
a model answering 8 positions perfectly, scored exact_match 0.83."""

from __future__ import annotations

import numpy as np
import pytest
from seqbench_tasks.subsequence import Subsequence

from seqbench.data import Split
from seqbench.pipeline import predict_split
from seqbench.task import NO_ANSWER, PAD_ID, fit_width


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32])
def test_signed_and_float_predictions_keep_their_dtype_padded_with_no_answer(dtype):
    padded = fit_width(np.ones((2, 1), dtype=dtype), 3)

    assert padded.dtype == dtype
    assert padded.tolist() == [[1, NO_ANSWER, NO_ANSWER]] * 2


@pytest.mark.parametrize("dtype", [np.uint8, np.uint64, np.bool_])
def test_unsigned_predictions_are_padded_as_int64_not_wrapped_to_a_token_id(dtype):
    padded = fit_width(np.ones((1, 1), dtype=dtype), 2)

    assert padded.dtype == np.int64
    assert padded.tolist() == [[1, NO_ANSWER]]


def test_no_answer_equals_no_token_id():
    assert NO_ANSWER < 0 and NO_ANSWER != PAD_ID


class _NarrowOnSomeBatches:
    """Answers exactly, but only 8 positions of the batches after the first."""

    name = "numpy:narrow-on-some-batches"

    def __init__(self, task: Subsequence) -> None:
        self.task, self.calls = task, 0

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        self.calls += 1
        answer = self.task.solve(inputs)
        return answer if self.calls == 1 else answer[:, :8]


def test_batches_of_different_widths_are_joined_with_the_missing_positions_wrong():
    task = Subsequence(length=14)
    split = Split(task, "test", 64, seed=0)

    predictions, targets = predict_split(_NarrowOnSomeBatches(task), split, batch_size=32)

    assert (targets[32:, 8:] == PAD_ID).any()  # padding targets where the answers stop
    assert (predictions[32:, 8:] == NO_ANSWER).all() and (predictions[:32] == targets[:32]).all()
    assert task.score(predictions, targets)["exact_match"] == 0.5
