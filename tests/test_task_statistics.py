"""The built-in tasks' data against their definitions, as a reviewer would compute them:
moments and token frequencies from many generated examples (fixed RNG seeds), held to
tolerances from the sample size (5 standard errors; a chi-square statistic within 5 of
its standard deviations of its degrees of freedom), never tuned to pass."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqbench_tasks import (Adding, AssociativeRecall, BucketSort, CopyMemory, CycleNavigation, EvenPairs,
                            InductionHeads, MissingDuplicateString, ModularArithmetic, OddsFirst, Parity,
                            ReverseString, SelectiveCopy)


def _chi_square_is_uniform(values: np.ndarray, support: range) -> tuple[float, float]:
    """(chi-square statistic of ``values`` against uniform over ``support``, its bound)."""
    counts = np.bincount(np.asarray(values).ravel() - support.start, minlength=len(support))
    assert len(counts) == len(support), "values outside the support"
    expected = counts.sum() / len(support)
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    df = len(support) - 1
    return statistic, df + 5 * math.sqrt(2 * df)


@pytest.mark.parametrize("placement", [None, "halves", "hochreiter"])
def test_adding_values_are_uniform_and_the_target_has_mean_one_and_variance_one_sixth(placement):
    n = 40_000
    examples = Adding(seq_len=30, placement=placement).generate(n, np.random.default_rng(11))
    values, targets = examples.inputs[..., 0].astype(np.float64), examples.targets
    # U[0,1): mean 1/2, variance 1/12; the target, a sum of two: mean 1, variance 1/6.
    assert abs(values.mean() - 0.5) < 5 * math.sqrt(1 / 12 / values.size)
    assert abs(values.var() - 1 / 12) < 5 * math.sqrt((1 / 80 - 1 / 144) / values.size)
    assert abs(targets.mean() - 1.0) < 5 * math.sqrt(1 / 6 / n)
    # The sample variance's standard error: sqrt((mu4 - sigma^4) / n), mu4 measured.
    fourth = np.mean((targets - 1.0) ** 4)
    assert abs(targets.var() - 1 / 6) < 5 * math.sqrt((fourth - (1 / 6) ** 2) / n)


def test_adding_uniform_placement_marks_every_pair_of_distinct_steps_alike():
    length, n = 8, 56_000
    markers = Adding(seq_len=length).generate(n, np.random.default_rng(12)).inputs[..., 1]
    steps = np.nonzero(markers)[1].reshape(n, 2)
    pair = steps[:, 0] * length + steps[:, 1]  # earlier, later: 28 unordered pairs
    upper = [a * length + b for a in range(length) for b in range(a + 1, length)]
    index = np.searchsorted(upper, pair)
    assert np.array_equal(np.asarray(upper)[index], pair)
    statistic, bound = _chi_square_is_uniform(index, range(len(upper)))
    assert statistic < bound


def _columns(name: str):
    """(task, what to count from (inputs, targets), its support)."""
    copy, selective = CopyMemory(delay=5, symbols=12, alphabet=6), SelectiveCopy(length=24, tokens=10, vocab=9)
    recall, heads = AssociativeRecall(length=24, vocab=40, pairs=5, queries=5), InductionHeads(length=20, vocab=7)
    modular = ModularArithmetic(length=15)
    missing = MissingDuplicateString(length=21)  # 10 symbols twice, then the empty token
    return {
        "copy-memory symbols": (copy, lambda x, y: x[:, :12], range(2, 8)),
        "selective-copy data": (selective, lambda x, y: y, range(2, 9)),
        "selective-copy places": (selective, lambda x, y: np.nonzero(x[:, :24] != 1)[1], range(24)),
        "recall keys": (recall, lambda x, y: x[:, 0:10:2], range(1, 20)),
        "recall values": (recall, lambda x, y: x[:, 1:10:2], range(20, 40)),
        "recall filler": (recall, lambda x, y: x[:, 10:19], range(1, 40)),
        "recall query order": (recall, lambda x, y: np.argmax(x[:, 19:24, None] == x[:, None, 0:10:2], axis=2)[:, 0],
                               range(5)),
        "induction first special": (heads, lambda x, y: np.argmax(x == 7, axis=1), range(18)),
        "induction answers": (heads, lambda x, y: y, range(1, 7)),
        "parity symbols": (Parity(length=30), lambda x, y: x[:, :30], range(1, 3)),
        "parity answers": (Parity(length=30), lambda x, y: y, range(1, 3)),
        "reverse symbols": (ReverseString(length=30), lambda x, y: y, range(1, 3)),
        "modular numbers": (modular, lambda x, y: x[:, 0:15:2], range(1, 6)),
        "modular operators": (modular, lambda x, y: x[:, 1:15:2], range(6, 9)),
        "even-pairs symbols": (EvenPairs(length=30), lambda x, y: x[:, :30], range(1, 3)),
        "cycle-navigation moves": (CycleNavigation(length=30), lambda x, y: x[:, :30], range(1, 4)),
        "odds-first symbols": (OddsFirst(length=30, vocab=3), lambda x, y: x[:, :30], range(1, 4)),
        "bucket-sort symbols": (BucketSort(length=30), lambda x, y: x[:, :30], range(1, 6)),
        "missing-duplicate masked places": (missing, lambda x, y: np.argmax(x == 3, axis=1), range(20)),
        "missing-duplicate answers": (missing, lambda x, y: y, range(1, 3)),
    }[name]


@pytest.mark.parametrize("name", ["copy-memory symbols", "selective-copy data", "selective-copy places", "recall keys",
                                  "recall values", "recall filler", "recall query order", "induction first special",
                                  "induction answers", "parity symbols", "parity answers", "reverse symbols",
                                  "modular numbers", "modular operators", "even-pairs symbols", "cycle-navigation moves",
                                  "odds-first symbols", "bucket-sort symbols", "missing-duplicate masked places",
                                  "missing-duplicate answers"])
def test_token_tasks_draw_uniformly_where_their_definition_does(name):
    """Every draw the papers make uniform is uniform in the train split (which owns 80%
    of a large input space, so conditioning on it does not skew the marginals)."""
    task, pick, support = _columns(name)
    examples = task.generate(6_000, np.random.default_rng(13), "train")
    statistic, bound = _chi_square_is_uniform(pick(examples.inputs, examples.targets), support)
    assert statistic < bound, (statistic, bound)
