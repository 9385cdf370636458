"""Statistics over seeds, NumPy only: a mean's 95% interval, and two models compared
paired by seed.

Which interval, and why (docs/suites.md, "Reading the intervals", says the same):

- One seed: no interval. Nothing about seed-to-seed spread can be known.
- 2 to 9 seeds: Student's t interval, ``mean ± t(0.975, n-1) · s / √n``. A bootstrap
  cannot do better with so few values and does much worse: with 3 seeds there are only
  10 distinct resamples, and the percentile interval never leaves the range of the
  values, so it covers the true mean about 75% of the time, not 95%
  (tests/test_stats.py measures both). The t interval is exact for normally spread
  results and widens honestly as seeds get fewer (3 seeds: ±2.48 standard deviations).
- 10 to 99 seeds: the percentile bootstrap, ``RESAMPLES`` resamples from a fixed
  RNG seed (``RESAMPLE_SEED``), so the same runs always give the same interval. It
  assumes no shape of spread. Its percentiles are taken at Hesterberg's expanded level
  (``_expanded_level``): the plain percentile interval is too narrow at these sizes
  (12 seeds cover 90%, not 95%). Percentile rather than BCa: BCa's acceleration is a
  jackknife estimate that is itself noisy at these sizes, and for a mean the two agree.
- 100 seeds or more: Student's t again. There the mean's spread is close to normal
  whatever the runs' (the central limit theorem), so the bootstrap and t intervals
  agree closely, while the bootstrap's cost grows with seeds × resamples (a report of
  500 seeds per configuration would spend minutes on it).

A comparison of A with B pairs their runs by seed (every model of a point setting sees
the same data for the same seed), so seed-to-seed variation common to both cancels: the
interval is the one above, of the per-seed differences A - B. "Probability A is better"
is the t distribution's probability that the true mean difference favours A where the
interval is a t interval, or the share of bootstrap resamples of the mean difference
that favour A, carried through the same expansion as the interval, where it is a
bootstrap: either way the interval excludes zero exactly when that probability is
above 97.5% or below 2.5%. The effect size is the mean difference over the average of the two
standard deviations (Cohen's d for paired designs, "d_av"), so it reads the same
whether or not the runs were paired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence

import numpy as np

from seqbench.student_t import normal_quantile, t_cdf, t_quantile

__all__ = ["Interval", "Comparison", "interval", "percentile_bootstrap", "paired", "unpaired", "t_quantile", "t_cdf",
           "Direction", "LEVEL", "BOOTSTRAP_FROM", "BOOTSTRAP_BELOW", "uses_bootstrap", "RESAMPLES", "RESAMPLE_SEED", "VERDICTS"]

LEVEL = 0.95
BOOTSTRAP_FROM = 10  # seeds from which the interval is a bootstrap; fewer: Student's t
BOOTSTRAP_BELOW = 100  # and up to which: from here Student's t again (see above)
RESAMPLES = 4_000  # between resampling seeds the ends move by about 1% of the width (sd; 12 values)
RESAMPLE_SEED = 20  # issue 20; any fixed value makes the intervals reproducible
VERDICTS = ("better", "worse", "indistinguishable", "too few seeds")

Direction = Literal["min", "max"]
Method = Literal["t", "bootstrap", "none"]


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values and its interval at ``LEVEL``; low and high are NaN with
    fewer than two values (``method`` "none"). ``left_out``: the values (or pairs) that
    were NaN or infinite and so not among the ``n`` (a diverged seed is not averaged
    in, but it is counted)."""

    mean: float
    low: float
    high: float
    n: int
    method: Method
    left_out: int = 0

    @property
    def covers_zero(self) -> bool:
        return bool(self.low <= 0.0 <= self.high)

    def text(self, digits: int = 4) -> str:
        """``0.1639 ± 0.0114`` (symmetric), ``0.164 [0.152, 0.181]`` (not), or the mean alone."""
        if self.method == "none" or math.isnan(self.low):
            return f"{self.mean:.{digits}g}"
        below, above = self.mean - self.low, self.high - self.mean
        # Up to rounding: at a mean of 1e9, mean - low and high - mean differ in ulps of 1e9.
        if math.isclose(below, above, rel_tol=1e-6, abs_tol=max(1e-300, 8 * math.ulp(self.mean))):
            return f"{self.mean:.{digits}g} ± {above:.{max(digits - 2, 2)}g}"
        return f"{self.mean:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


@dataclass(frozen=True)
class Comparison:
    """A against B. ``difference`` is the interval of A - B (per seed when ``paired``);
    ``p_better`` the probability that A is better, given the direction; ``effect`` the
    mean difference in average standard deviations (NaN when neither varies);
    ``relative`` the mean difference as a share of B's mean."""

    difference: Interval
    p_better: float
    effect: float
    relative: float
    verdict: str
    paired: bool


def _values(values: Sequence[float] | np.ndarray) -> tuple[np.ndarray, int]:
    """The finite values, and how many were left out (NaN or infinite)."""
    array = np.asarray(values, dtype=float).ravel()
    finite = array[np.isfinite(array)]
    return finite, len(array) - len(finite)


# --- arithmetic that neither overflows nor mistakes rounding for a difference --------
#
# Every statistic below is computed on values divided by a power of two (exact) that
# brings the largest to [1, 2): squares of 1e300 would overflow and squares of 1e-200
# underflow to a spread of zero. Deviations are taken from the first value, not from
# a computed mean, so equal values have a spread of exactly zero (0.1 three times has
# a float64 mean of 0.10000000000000002 and a standard deviation of 4e-17 otherwise),
# and two values that differ only by float64 rounding (0.3 and 0.1 + 0.2) count as
# equal: a difference that small is the order of arithmetic, not a model.

TIE = 4 * float(np.finfo(float).eps)  # relative: closer values are equal (float64 rounding)


def _scale(*arrays: np.ndarray) -> float:
    """A power of two that brings the largest magnitude in ``arrays`` to [1, 2)."""
    largest = max((float(np.max(np.abs(a))) for a in arrays if len(a)), default=0.0)
    if largest == 0.0 or not math.isfinite(largest):
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1] - 1)


def _minus(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """``a - b``, zero where the two are equal up to float64 rounding (``TIE``)."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    difference = np.atleast_1d(a_ - b_)
    tied = np.atleast_1d(np.abs(difference) <= TIE * np.maximum(np.abs(a_), np.abs(b_)))
    difference[tied] = 0.0
    return difference


def _deviations(x: np.ndarray) -> tuple[float, np.ndarray]:
    """(x[0], the deviations x - x[0] with rounding ties at zero): mean = x[0] +
    mean(deviations), exactly x[0] when all values are equal."""
    return float(x[0]), _minus(x, x[0])


def _sd(x: np.ndarray) -> float:
    """The sample standard deviation (ddof 1) of scaled values; equal values give 0."""
    return float(_deviations(x)[1].std(ddof=1)) if len(x) > 1 else math.nan


def _mean(x: np.ndarray) -> float:
    origin, deviations = _deviations(x)
    return origin + float(deviations.mean())


# --- intervals ---------------------------------------------------------------------

def uses_bootstrap(n: int) -> bool:
    """Whether a mean over ``n`` values gets a bootstrap interval (else Student's t)."""
    return BOOTSTRAP_FROM <= n < BOOTSTRAP_BELOW


@lru_cache(maxsize=64)
def _picks(n: int, stream: int) -> np.ndarray:
    """Which values each resample draws: fixed for a given ``n`` and ``stream`` (the
    second sample of an unpaired comparison draws independently of the first)."""
    picks = np.random.default_rng([RESAMPLE_SEED, stream]).integers(0, n, size=(RESAMPLES, n))
    picks.flags.writeable = False
    return picks


def _bootstrap_means(samples: list[np.ndarray]) -> np.ndarray:
    """The mean of each of ``RESAMPLES`` resamples (with replacement) of every (scaled)
    sample, each resampled as its first value plus its deviations from it."""
    means = []
    for stream, sample in enumerate(samples):
        origin, deviations = _deviations(sample)
        means.append(origin + deviations[_picks(len(sample), stream)].mean(axis=1))
    return np.stack(means)


def _percentiles(resampled: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(resampled, [tail, 1.0 - tail])
    return float(low), float(high)


def _scaled(found: Interval, scale: float, left_out: int) -> Interval:
    return Interval(found.mean * scale, found.low * scale, found.high * scale, found.n, found.method, left_out)


def _t_interval(y: np.ndarray, level: float) -> Interval:
    """Student's t interval of the mean of scaled values (two or more)."""
    n, mean = len(y), _mean(y)
    half = t_quantile(0.5 + level / 2.0, n - 1) * _sd(y) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, "t")


def interval(values: Sequence[float] | np.ndarray, level: float = LEVEL) -> Interval:
    """The mean of the finite ``values`` and its interval (see the module's docstring);
    NaN and infinite values are left out and counted (``Interval.left_out``)."""
    _check_level(level)
    x, left_out = _values(values)
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none", left_out)
    scale = _scale(x)
    y = x / scale
    if n == 1:
        found = Interval(float(y[0]), math.nan, math.nan, 1, "none")
    elif not uses_bootstrap(n):
        found = _t_interval(y, level)
    else:
        found = _bootstrap_interval(y, _expanded_level(level, n))
    return _scaled(found, scale, left_out)


def _expanded_level(level: float, n: int) -> float:
    """Hesterberg's expanded percentile bootstrap: the level whose normal quantile is
    ``sqrt(n/(n-1)) * t(n-1)``, undoing the plain bootstrap's narrowness (it divides by
    n, not n-1, and uses normal tails): 12 seeds cover 90% at 95% without it."""
    stretched = math.sqrt(n / (n - 1)) * t_quantile(0.5 + level / 2.0, n - 1)
    return math.erf(stretched / math.sqrt(2.0))


def _bootstrap_interval(y: np.ndarray, level: float) -> Interval:
    low, high = _percentiles(_bootstrap_means([y])[0], level)
    return Interval(_mean(y), low, high, len(y), "bootstrap")


def percentile_bootstrap(values: Sequence[float] | np.ndarray, level: float = LEVEL) -> Interval:
    """The plain percentile bootstrap interval of the mean, whatever the number of values
    (``interval`` uses it, at an expanded level, from ``BOOTSTRAP_FROM`` values to
    ``BOOTSTRAP_BELOW``)."""
    _check_level(level)
    x, left_out = _values(values)
    if len(x) < 2:
        return Interval(float(x[0]) if len(x) else math.nan, math.nan, math.nan, len(x), "none", left_out)
    scale = _scale(x)
    return _scaled(_bootstrap_interval(x / scale, level), scale, left_out)


# --- comparisons -------------------------------------------------------------------

def _verdict(difference: Interval, direction: Direction) -> str:
    if difference.method == "none":
        return "too few seeds"
    if difference.covers_zero:
        return "indistinguishable"
    a_lower = difference.high < 0.0
    return "better" if a_lower == (direction == "min") else "worse"


def _effect(mean_difference: float, a: np.ndarray, b: np.ndarray) -> float:
    """d_av of scaled values (a and b scaled alike): NaN where neither side varies."""
    spread = (_sd(a) + _sd(b)) / 2.0 if min(len(a), len(b)) > 1 else math.nan
    if not spread or math.isnan(spread):
        return math.nan
    return mean_difference / spread


def _relative(mean_difference: float, b: np.ndarray) -> float:
    base = _mean(b) if len(b) else math.nan
    return mean_difference / abs(base) if base else math.nan


# The probabilities nearest 0 and 1 a difference with any spread is given: its true
# probability lies strictly between, but a t tail below 1e-16 rounds 1 - tail to 1.0,
# which a report would show as the certainty only a difference without spread has
# (and A against B would read "100%" where B against A reads "<1%").
_NEAR_ZERO = math.nextafter(0.0, 1.0)
_NEAR_ONE = math.nextafter(1.0, 0.0)


def _uncertain(p: float) -> float:
    return min(max(p, _NEAR_ZERO), _NEAR_ONE)


def _oriented(p_a_lower: float, direction: Direction) -> float:
    """P(A better) from P(A's mean lower). Exactly 0, 1 and one half come only from a
    difference without spread (``_t_probability_lower``) and stay exact; anything else
    stays strictly between 0 and 1 whichever way it is turned."""
    p = p_a_lower if direction == "min" else 1.0 - p_a_lower
    return float(p if p_a_lower in (0.0, 0.5, 1.0) or p != p else _uncertain(p))


def _check_level(level: float) -> None:
    # A level of 95 (a percentage) or 1.5 gave a made-up interval, and 1.5 hung t_quantile.
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be a probability between 0 and 1 (0.95 for 95%), got {level!r}")


def _t_probability_lower(mean: float, standard_error: float, df: float) -> float:
    """P(true difference < 0) under the t model of the difference; with no spread at
    all, the sign of the difference decides (a tie: one half)."""
    if standard_error == 0.0 or math.isnan(standard_error):
        return 1.0 if mean < 0 else 0.0 if mean > 0 else 0.5
    return _uncertain(t_cdf(-mean / standard_error, df))


def _bootstrap_probability_lower(resampled: np.ndarray, n: int) -> float:
    """P(true difference < 0) as the expanded bootstrap reads it: the share of resamples
    below zero (ties: half), carried back through the expansion (``_expanded_level``):
    the t probability whose quantile, stretched by sqrt(n/(n-1)), is the share's normal
    quantile. So the interval excludes zero exactly when this is above 97.5% or below
    2.5% (up to the resamples' granularity), as with the t interval; the plain share
    would read 98% for a difference the expanded interval does not separate from zero.
    A share of 0 or 1 counts as half a resample from it (4,000 resamples show no
    more), unless every resample is the same (no spread: the sign decides, as for t)."""
    if np.all(resampled == resampled[0]):
        return _t_probability_lower(float(resampled[0]), 0.0, n - 1)
    share = float(np.mean(resampled < 0.0) + 0.5 * np.mean(resampled == 0.0))
    half = 0.5 / len(resampled)
    share = min(max(share, half), 1.0 - half)
    z = normal_quantile(share) if share >= 0.5 else -normal_quantile(1.0 - share)
    return _uncertain(t_cdf(z * math.sqrt((n - 1) / n), n - 1))


def paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
           direction: Direction = "min", level: float = LEVEL) -> Comparison:
    """A against B, ``a[i]`` and ``b[i]`` from the same seed; pairs with a missing
    (NaN) or infinite value are left out and counted (``difference.left_out``)."""
    _check_level(level)
    a_all, b_all = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a_all.shape != b_all.shape:
        raise ValueError(f"paired: {len(a_all)} values of A but {len(b_all)} of B")
    both = np.isfinite(a_all) & np.isfinite(b_all)
    left_out = int(len(both) - both.sum())
    scale = _scale(a_all[both], b_all[both])
    a_kept, b_kept = a_all[both] / scale, b_all[both] / scale
    d = _minus(a_kept, b_kept) if len(a_kept) else a_kept
    n = len(d)
    if n == 0:
        difference, p_lower = Interval(math.nan, math.nan, math.nan, 0, "none"), math.nan
    elif n == 1:
        difference, p_lower = Interval(float(d[0]), math.nan, math.nan, 1, "none"), math.nan
    elif uses_bootstrap(n):
        resampled = _bootstrap_means([d])[0]
        low, high = _percentiles(resampled, _expanded_level(level, n))
        difference = Interval(_mean(d), low, high, n, "bootstrap")
        p_lower = _bootstrap_probability_lower(resampled, n)
    else:
        difference = _t_interval(d, level)
        p_lower = _t_probability_lower(difference.mean, _sd(d) / math.sqrt(n), n - 1)
    return Comparison(
        difference=_scaled(difference, scale, left_out), p_better=_oriented(p_lower, direction),
        effect=_effect(difference.mean, a_kept, b_kept), relative=_relative(difference.mean, b_kept),
        verdict=_verdict(difference, direction), paired=True)


def unpaired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
             direction: Direction = "min", level: float = LEVEL) -> Comparison:
    """A against B as independent samples (their seeds differ, or are not known to match):
    the bootstrap of each side where both have a bootstrap's number of values
    (``uses_bootstrap``), else Welch's t interval of the difference of means. NaN and
    infinite values are left out and counted (``difference.left_out``)."""
    _check_level(level)
    (x, left_a), (y, left_b) = _values(a), _values(b)
    left_out, n = left_a + left_b, min(len(x), len(y))
    scale = _scale(x, y)
    x, y = x / scale, y / scale
    mean = float(_minus(_mean(x), _mean(y))[0]) if len(x) and len(y) else math.nan
    if n < 2:
        none = Interval(mean * scale, math.nan, math.nan, n, "none", left_out)
        return Comparison(none, math.nan, math.nan, _relative(mean, y), "too few seeds", paired=False)
    if not (uses_bootstrap(len(x)) and uses_bootstrap(len(y))):
        va, vb = _sd(x) ** 2 / len(x), _sd(y) ** 2 / len(y)
        standard_error = math.sqrt(va + vb)
        # Welch-Satterthwaite, from the two shares of the variance (squares of tiny
        # variances would underflow to 0 / 0).
        share_a = va / (va + vb) if standard_error else 0.5
        df = 1.0 / (share_a ** 2 / (len(x) - 1) + (1.0 - share_a) ** 2 / (len(y) - 1))
        half = t_quantile(0.5 + level / 2.0, df) * standard_error
        difference = Interval(mean, mean - half, mean + half, n, "t")
        p_lower = _t_probability_lower(mean, standard_error, df)
    else:
        resampled = _bootstrap_means([x, y])
        spread = _minus(resampled[0], resampled[1])
        low, high = _percentiles(spread, _expanded_level(level, n))
        difference = Interval(mean, low, high, n, "bootstrap")
        p_lower = _bootstrap_probability_lower(spread, n)
    return Comparison(
        difference=_scaled(difference, scale, left_out), p_better=_oriented(p_lower, direction),
        effect=_effect(mean, x, y), relative=_relative(mean, y), verdict=_verdict(difference, direction),
        paired=False)
