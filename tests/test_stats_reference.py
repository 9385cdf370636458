"""seqbench.stats against an independent reference (SciPy, a test dependency only), and
the arithmetic edge cases a reviewer would feed it: equal values, float64 rounding,
huge and tiny magnitudes, non-finite values, unmatched seeds, the method boundaries.
All data from fixed RNG seeds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sp

from seqbench import stats
from seqbench.report.compare import _compare


def _sample(n: int, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).normal(-2.0, 0.7, size=n)  # negative: no sign assumed


def test_t_distribution_matches_scipy_everywhere_it_is_used():
    # Welch's degrees of freedom are fractional; >= 30 takes the Cornish-Fisher path.
    for df in (1, 1.5, 2, 3.7, 9, 29, 30, 31.5, 99, 500, 1e5):
        for p in (0.6, 0.9, 0.975, 0.995):
            assert stats.t_quantile(p, df) == pytest.approx(sp.t.ppf(p, df), rel=1e-6)
        for t in (-40.0, -3.0, -0.4, 0.0, 0.7, 2.5, 12.0):
            assert stats.t_cdf(t, df) == pytest.approx(sp.t.cdf(t, df), abs=1e-9)


@pytest.mark.parametrize("n", [2, 3, 9, 100, 150])
def test_t_intervals_and_paired_and_welch_match_scipy(n):
    a, b = _sample(n), _sample(n, seed=6) + 0.3
    found = stats.interval(a)
    low, high = sp.t.interval(0.95, n - 1, loc=a.mean(), scale=sp.sem(a))
    assert found.method == "t" and (found.low, found.high) == pytest.approx((low, high), rel=1e-9)
    # Paired: the interval of the differences and the one-sided probability.
    together = stats.paired(a, b, direction="min")
    reference = sp.ttest_rel(a, b, alternative="less")
    ci = sp.ttest_rel(a, b).confidence_interval()
    assert (together.difference.low, together.difference.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert together.p_better == pytest.approx(1 - reference.pvalue, abs=1e-9)
    assert stats.paired(a, b, direction="max").p_better == pytest.approx(reference.pvalue, abs=1e-9)
    # Unpaired where the bootstrap is not due: Welch's t.
    apart = stats.unpaired(a, b[: max(2, n - 1)], direction="min")
    welch = sp.ttest_ind(a, b[: max(2, n - 1)], equal_var=False)
    ci = welch.confidence_interval()
    assert (apart.difference.low, apart.difference.high) == pytest.approx((ci.low, ci.high), rel=1e-6)
    assert apart.p_better == pytest.approx(1 - sp.ttest_ind(a, b[: max(2, n - 1)], equal_var=False,
                                                                 alternative="less").pvalue, abs=1e-6)
    # Effect size d_av: mean difference over the average of the two sample sds.
    d_av = (a - b).mean() / ((a.std(ddof=1) + b.std(ddof=1)) / 2)
    assert together.effect == pytest.approx(d_av, rel=1e-9) and apart.effect == pytest.approx(
        (a.mean() - b[: max(2, n - 1)].mean()) / ((a.std(ddof=1) + b[: max(2, n - 1)].std(ddof=1)) / 2), rel=1e-9)


@pytest.mark.parametrize("n", [10, 99])
def test_bootstrap_intervals_match_scipy_percentile_at_the_expanded_level(n):
    """Hesterberg's expanded level, by hand: the normal level whose quantile is
    sqrt(n/(n-1)) t(0.975, n-1); SciPy's percentile bootstrap at that level, with its
    own resamples, must agree to Monte Carlo error (a few % of the width)."""
    x = _sample(n)
    level = 2 * sp.norm.cdf(math.sqrt(n / (n - 1)) * sp.t.ppf(0.975, n - 1)) - 1
    ci = sp.bootstrap((x,), np.mean, confidence_level=level, method="percentile", n_resamples=20_000,
                      rng=np.random.default_rng(1)).confidence_interval
    found = stats.interval(x)
    width = ci.high - ci.low
    assert found.method == "bootstrap"
    assert found.low == pytest.approx(ci.low, abs=0.05 * width) and found.high == pytest.approx(ci.high, abs=0.05 * width)


def test_the_method_boundaries_are_where_the_docs_say():
    methods = {n: stats.interval(_sample(n)).method for n in (0, 1, 2, 9, 10, 99, 100)}
    assert methods == {0: "none", 1: "none", 2: "t", 9: "t", 10: "bootstrap", 99: "bootstrap", 100: "t"}
    assert math.isnan(stats.interval([]).mean)


@pytest.mark.parametrize("n", [3, 12, 120])  # t, bootstrap, t
@pytest.mark.parametrize("power", [-900, -500, 0, 500, 960])
def test_statistics_do_not_depend_on_the_magnitude(n, power):
    """Scaling every value by 2**power (exact in float64) scales every interval by the
    same factor: no overflow in squares at 1e289, no spread lost to underflow at 1e-271."""
    a, b = _sample(n), _sample(n, seed=8)
    factor = 2.0 ** power
    plain, scaled = stats.interval(a), stats.interval(a * factor)
    assert (scaled.mean, scaled.low, scaled.high) == pytest.approx(
        (plain.mean * factor, plain.low * factor, plain.high * factor), rel=1e-12)
    for compare in (stats.paired, stats.unpaired):
        first, second = compare(a, b), compare(a * factor, b * factor)
        assert second.verdict == first.verdict and second.p_better == pytest.approx(first.p_better, rel=1e-9)
        assert second.difference.high == pytest.approx(first.difference.high * factor, rel=1e-9)
        assert second.effect == pytest.approx(first.effect, rel=1e-9)


@pytest.mark.parametrize("n", [2, 3, 12, 150])
@pytest.mark.parametrize("value", [0.1, 0.3, -7.0, 1e300, 1e-300])
def test_equal_values_have_an_exact_mean_and_no_spread_and_rounding_is_a_tie(n, value):
    found = stats.interval([value] * n)
    assert (found.mean, found.low, found.high) == (value, value, value)
    # 0.1 + 0.2 is 0.30000000000000004: float64 rounding, not a better model.
    same = stats.paired([0.3] * n, [0.1 + 0.2] * n)
    assert same.verdict == "indistinguishable" and same.p_better == 0.5 and same.difference.mean == 0
    assert stats.unpaired([0.3] * n, [0.1 + 0.2] * n).verdict == "indistinguishable"
    # A real constant difference stays one (as SciPy's t statistic says: infinite).
    apart = stats.paired([value] * n, [value * 1.001] * n, direction="min")
    assert apart.verdict == ("better" if value > 0 else "worse") and apart.effect != apart.effect


def test_non_finite_values_are_left_out_and_counted():
    found = stats.interval([1.0, math.nan, 2.0, math.inf, 3.0])
    assert (found.n, found.left_out, found.mean) == (3, 2, 2.0)
    diverged = stats.paired([1.0, 1.1, -math.inf, 1.2], [2.0, 2.1, 2.2, math.nan])
    assert (diverged.difference.n, diverged.difference.left_out) == (2, 2)
    assert stats.unpaired([1.0, math.inf, 2.0], [math.nan, 1.0, 3.0, 4.0]).difference.left_out == 2


def test_unmatched_seeds_pair_on_the_shared_ones_and_the_row_adds_up():
    """A ran seeds 0-4, B seeds 0-2 and 7: paired on 0-2, the rest named, and the
    means shown are over the compared seeds, so A mean - B mean = A - B."""
    a = pd.Series([1.0, 1.2, 1.1, 0.2, 0.3], index=[0, 1, 2, 3, 4])
    b = pd.Series([1.5, 1.6, 1.4, 9.0], index=[0, 1, 2, 7])
    found, seeds, a_mean, b_mean = _compare(a, b, "min")
    assert seeds == "3 paired (left out: A's seeds 3, 4; B's seed 7)"
    assert a_mean - b_mean == pytest.approx(found.difference.mean) and a_mean == pytest.approx(1.1)
    assert found.verdict == "better" and found.difference.n == 3
    found, seeds, a_mean, b_mean = _compare(a[[0, 1, 2]], pd.Series([1.0, 2.0, 3.0], index=[5, 6, 7]), "max")
    assert seeds == "3+3 unpaired" and a_mean - b_mean == pytest.approx(found.difference.mean)


@pytest.mark.parametrize("n", [3, 12])
def test_direction_turns_probability_and_verdict_but_not_the_signed_difference(n):
    """MSE (lower is better) against accuracy (higher): P(A better) for one direction
    is one minus the other's, the verdict flips, A - B and the effect keep their sign."""
    b = _sample(n, seed=9)
    a = b - 0.5 + 0.1 * (_sample(n) + 2.0)  # 0.5 lower on every seed, give or take 0.07
    low, high = stats.paired(a, b, "min"), stats.paired(a, b, "max")
    assert low.p_better + high.p_better == pytest.approx(1.0)
    assert (low.verdict, high.verdict) == ("better", "worse")
    assert low.difference == high.difference and low.effect == high.effect < 0


def test_the_report_table_gives_the_same_intervals_as_stats_at_any_magnitude():
    """The configuration table's vectorised path (report.sets.summarise) must not
    overflow (1e300) or lose the spread to underflow (1e-200) where stats does not."""
    from seqbench.report.sets import summarise

    groups = {0: [0.1] * 3, 1: [1e300, 1.2e300, 1.1e300], 2: [1e-200, 2e-200, 3e-200], 3: list(_sample(4)),
              4: [1.7e308] * 3}  # a sum past float64's largest: pandas' mean is inf
    frame = pd.DataFrame([(g, v) for g, values in groups.items() for v in values], columns=["g", "v"])
    table = summarise(frame, ["g"], "v").set_index("g")
    for g, values in groups.items():
        expected = stats.interval(values)
        shown = (table.loc[g, "mean"], table.loc[g, "low"], table.loc[g, "high"])
        assert shown == pytest.approx((expected.mean, expected.low, expected.high), rel=1e-9)


@pytest.mark.parametrize("n", [9, 150])  # t intervals: a tail far below 1e-16
def test_a_difference_with_spread_is_never_given_certainty_either_way_round(n):
    """P(A better) is exactly 100% or 0% only without spread; a huge t made 1 - tail
    round to 1.0, so A against B read "100%" where B against A read "<1%"."""
    a, b = np.resize([0.0, 0.01], n), np.ones(n)
    for direction in ("min", "max"):
        forward, backward = stats.paired(a, b, direction).p_better, stats.paired(b, a, direction).p_better
        assert 0.0 < forward < 1.0 and 0.0 < backward < 1.0
        assert forward + backward == pytest.approx(1.0)
        welch = stats.unpaired(a, b, direction).p_better
        assert 0.0 < welch < 1.0
    assert stats.paired([1.0] * 3, [2.0] * 3).p_better == 1.0  # no spread: certain, as documented


@pytest.mark.parametrize("level", [95, 1.5, 1.0, 0.0, -0.5, math.nan])
def test_a_level_that_is_not_a_probability_is_refused(level):
    """95 (a percentage) gave a made-up interval; 1.5 never returned."""
    values = [1.0, 2.0, 3.0]
    for call in (lambda: stats.interval(values, level), lambda: stats.percentile_bootstrap(values, level),
                 lambda: stats.paired(values, values[::-1], level=level),
                 lambda: stats.unpaired(values, values, level=level)):
        with pytest.raises(ValueError, match="level must be a probability"):
            call()
    with pytest.raises(ValueError, match="between 0.5 and 1"):
        stats.t_quantile(0.5 + level / 2 if level == level else level, 3)


@pytest.mark.parametrize("p, shown", [(0.996, ">99%"), (0.004, "<1%"), (1.0, "100%"), (0.0, "0%"),
                                      (0.5, "50%"), (0.985, "98%"), (math.nan, "")])
def test_the_shown_probability_never_rounds_to_certainty(p, shown):
    from seqbench.report.compare import _percent

    assert _percent(p) == shown


@pytest.mark.parametrize("n", [3, 12, 40])
def test_the_probability_and_the_verdict_agree_at_every_size(n):
    """P(A better) above 97.5% or below 2.5% exactly where the interval excludes zero,
    for the bootstrap's expanded interval as for the t interval (the plain share of
    resamples read 98% where the expanded interval still covered zero)."""
    rng = np.random.default_rng(n)
    for shift in np.linspace(0.0, 1.5, 40):
        d = rng.normal(shift, 1.0, size=n)
        found = stats.paired(d, np.zeros(n), direction="max")
        if abs(found.p_better - 0.975) < 2e-3 or abs(found.p_better - 0.025) < 2e-3:
            continue  # at the edge the resamples' granularity decides
        separated = found.p_better > 0.975 or found.p_better < 0.025
        assert separated == (found.verdict != "indistinguishable"), (shift, found)
