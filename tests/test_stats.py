"""seqbench.stats: intervals that cover at their stated rate, and paired comparisons that
see what unpaired ones miss. Simulated data from fixed RNG seeds, so nothing flakes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqbench import stats

EXPERIMENTS = 400
TRUE_MEAN = 3.0


def _coverage(seeds: int, method=stats.interval, rng_seed: int = 7) -> tuple[float, set[str]]:
    rng = np.random.default_rng(rng_seed)
    covered, methods = 0, set()
    for _ in range(EXPERIMENTS):
        found = method(rng.normal(TRUE_MEAN, 0.5, size=seeds))
        covered += found.low <= TRUE_MEAN <= found.high
        methods.add(found.method)
    return covered / EXPERIMENTS, methods


@pytest.mark.parametrize("seeds, expected", [(3, "t"), (12, "bootstrap"), (120, "t")])
def test_interval_covers_a_known_mean_at_about_the_stated_rate(seeds, expected):
    # 400 experiments: the standard error of a 95% coverage is 1.1 points.
    coverage, methods = _coverage(seeds)
    assert methods == {expected}
    assert 0.91 <= coverage <= 0.985, coverage


def test_percentile_bootstrap_with_three_seeds_covers_far_less_than_it_claims():
    """Why fewer than BOOTSTRAP_FROM seeds get a t interval: the percentile bootstrap of
    3 values never leaves their range."""
    coverage, _ = _coverage(3, stats.percentile_bootstrap)
    assert coverage < 0.8, coverage


def test_t_distribution_matches_published_quantiles():
    for df, quantile in ((1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423)):
        assert stats.t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-4)
    assert stats.t_cdf(2.0, 5) == pytest.approx(0.94903, abs=1e-5)


def test_one_seed_has_no_interval():
    found = stats.interval([0.25])
    assert found.method == "none" and math.isnan(found.low) and found.text() == "0.25"
    assert stats.paired([1.0], [2.0]).verdict == "too few seeds"


def _planted(rng_seed: int = 3, seeds: int = 5):
    """Large spread between seeds shared by both models, a small consistent difference:
    A's error is 0.05 below B's on every seed."""
    rng = np.random.default_rng(rng_seed)
    seed_effect = rng.normal(1.0, 0.5, size=seeds)
    b = seed_effect + rng.normal(0, 0.01, size=seeds)
    a = seed_effect - 0.05 + rng.normal(0, 0.01, size=seeds)
    return a, b


def test_paired_comparison_finds_a_planted_difference_that_unpaired_misses():
    a, b = _planted()
    together = stats.paired(a, b, direction="min")
    apart = stats.unpaired(a, b, direction="min")
    assert together.verdict == "better" and together.p_better > 0.975
    assert together.difference.high < 0 and together.difference.low < -0.03
    assert apart.verdict == "indistinguishable" and apart.difference.covers_zero
    # The effect size does not depend on the pairing.
    assert together.effect == pytest.approx(apart.effect)


def test_direction_decides_better_or_worse():
    a, b = _planted()
    assert stats.paired(a, b, direction="max").verdict == "worse"
    assert stats.paired(b, a, direction="min").verdict == "worse"
    assert stats.paired(a, b, direction="max").p_better < 0.025


def test_paired_with_ten_seeds_uses_the_bootstrap_reproducibly():
    a, b = _planted(seeds=12)
    first, again = stats.paired(a, b), stats.paired(a, b)
    assert first.difference.method == "bootstrap" and first.verdict == "better"
    assert first == again


def test_identical_results_are_indistinguishable():
    same = stats.paired([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    assert same.verdict == "indistinguishable" and same.p_better == 0.5


def test_pairs_with_a_missing_value_are_left_out():
    found = stats.paired([1.0, float("nan"), 1.2, 1.1], [2.0, 2.0, 2.2, 2.1])
    assert found.difference.n == 3 and found.difference.mean == pytest.approx(-1.0)
