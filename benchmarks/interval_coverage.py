"""How often each interval method of seqbench.stats covers the true mean: a Monte Carlo
over simulated seeds, for normal and skewed spreads of results.

For each number of seeds n and each distribution, draws ``--experiments`` samples of n
values with a known mean and counts how often each method's 95% interval holds it:

- ``seqbench``: ``stats.interval``, what the report uses (t for 2-9 and >= 100 seeds,
  the expanded percentile bootstrap for 10-99);
- ``t``: Student's t at every n;
- ``percentile``: the plain percentile bootstrap (``stats.percentile_bootstrap``);
- ``expanded``: the percentile bootstrap at Hesterberg's expanded level, at every n.

Distributions: normal; lognormal (sigma 1: skewness 6.2, like a metric that
occasionally blows up); exponential (skewness 2, like times or MSEs near zero).
Prints each coverage with its Monte Carlo standard error. Nothing is asserted: it is a
measurement to read (docs/suites.md, "Reading the intervals", quotes it).

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/interval_coverage.py [--experiments 2000]
        [--seeds 3 5 10 30 100] [--rng-seed 0]
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Callable

import numpy as np

from seqbench import stats

DISTRIBUTIONS: dict[str, tuple[Callable[[np.random.Generator, int], np.ndarray], float]] = {
    # name: (draw n values, true mean)
    "normal": (lambda rng, n: rng.normal(3.0, 0.5, size=n), 3.0),
    "lognormal": (lambda rng, n: rng.lognormal(0.0, 1.0, size=n), math.exp(0.5)),
    "exponential": (lambda rng, n: rng.exponential(1.0, size=n), 1.0),
}


def _t(values: np.ndarray) -> stats.Interval:
    n = len(values)
    half = stats.t_quantile(0.975, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return stats.Interval(float(values.mean()), float(values.mean()) - half, float(values.mean()) + half, n, "t")


def _expanded(values: np.ndarray) -> stats.Interval:
    n = len(values)
    level = math.erf(math.sqrt(n / (n - 1)) * stats.t_quantile(0.975, n - 1) / math.sqrt(2.0))
    return stats.percentile_bootstrap(values, level)


METHODS: dict[str, Callable[[np.ndarray], stats.Interval]] = {
    "seqbench": stats.interval, "t": _t, "percentile": stats.percentile_bootstrap, "expanded": _expanded,
}


def coverage(draw: Callable[[np.random.Generator, int], np.ndarray], mean: float, n: int,
             experiments: int, rng: np.random.Generator) -> dict[str, float]:
    covered = dict.fromkeys(METHODS, 0)
    for _ in range(experiments):
        values = draw(rng, n)
        for name, method in METHODS.items():
            found = method(values)
            covered[name] += found.low <= mean <= found.high
    return {name: count / experiments for name, count in covered.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 5, 10, 30, 100])
    parser.add_argument("--rng-seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    # At 95% coverage, the Monte Carlo standard error of one figure.
    error = math.sqrt(0.95 * 0.05 / args.experiments)
    print(f"95% intervals: share of {args.experiments} experiments covering the true mean "
          f"(standard error about {100 * error:.1f} points; rng seed {args.rng_seed})")
    print(f"{'distribution':<12} {'seeds':>5} " + " ".join(f"{name:>10}" for name in METHODS)
          + "   seqbench uses")
    for distribution, (draw, mean) in DISTRIBUTIONS.items():
        for n in args.seeds:
            rng = np.random.default_rng([args.rng_seed, n, len(distribution)])
            found = coverage(draw, mean, n, args.experiments, rng)
            used = "bootstrap (expanded)" if stats.uses_bootstrap(n) else "t"
            print(f"{distribution:<12} {n:>5} " + " ".join(f"{100 * found[name]:>9.1f}%" for name in METHODS)
                  + f"   {used}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
