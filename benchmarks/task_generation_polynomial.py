"""How fast the `polynomial` task generates (factored, expanded) token pairs.

Times the real harness path (a Split materialised in the task's chunks, one
``generate`` call per chunk) against per-example Python loops in the style of the
original experiment: ``random.randint`` per coefficient, the two strings built, then
each string tokenised with the original's regex and mapped to ids. The strings are
built two ways: by a hand-written pure-Python formatter (the fast loop), and by SymPy,
whose printing the original data are (the original's own way; timed on fewer pairs).

Like the vectorised generator, the loops produce examples of one split: each drawn
input is kept only when a hash of what its text shows falls in that split (90% of
inputs for train, 5% for test), which is how a loop keeps splits disjoint. The loop
hashes before building any string, as the vectorised generator does. A loop that
ignores splits is timed too, for reference.

Contenders run interleaved, best of ``--repeats``; wall and CPU time are both shown
(CPU time is steadier on a shared machine). Targets: the vectorised generator at
least 20x the loop for the same split, and at least 100,000 pairs/s.

    python benchmarks/task_generation_polynomial.py [--count 102400] [--loop-count 50000]
        [--sympy-count 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from typing import Callable

import numpy as np

from seqbench.data import Split
from seqbench_tasks import Polynomial
from seqbench_tasks.polynomial_tokens import EOS, PAD, VOCAB

TARGET_SPEEDUP = 20.0
TARGET_RATE = 100_000
TOKEN = re.compile(r"sin|cos|tan|\d|\w|\(|\)|\+|-|\*+")
IDS = {token: index for index, token in enumerate(VOCAB)}
LETTERS = "achijknostxyz" + "sin"
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
VARIABLE_NAMES = list(ALPHABET) + [f"{f}({x})" for f in ("sin", "cos", "tan") for x in ALPHABET]
VARIABLES = {name: index for index, name in enumerate(VARIABLE_NAMES)}
# Hash buckets of 20 per split, as the task assigns them: 18 train, 1 validation, 1 test.
BUCKETS = {"train": range(2, 20), "validation": range(0, 1), "test": range(1, 2), "any": range(0, 20)}


def _draw_example() -> tuple[str, list[tuple[int, int]]]:
    letter = random.choice(LETTERS)
    if random.random() < 0.03:
        letter = f"{random.choice(('sin', 'cos', 'tan'))}({letter})"
    factors = []
    for _ in range(2):
        a = random.randint(-9, 7)
        a += a >= 0
        if random.random() < 0.2:  # the task's unit_coefficient: X's coefficient is 1
            a = 1
        b = 0
        if random.random() >= 0.2:
            b = random.randint(-32, 30)
            b += b >= 0
        factors.append((a, b))
    return letter, factors


def _linear(a: int, b: int, x: str) -> str:
    if a < 0 < b:
        return f"{b}-{x}" if a == -1 else f"{b}-{-a}*{x}"
    head = x if a == 1 else f"-{x}" if a == -1 else f"{a}*{x}"
    return head + (f"+{b}" if b > 0 else f"-{-b}")


def _factored(x: str, factors: list[tuple[int, int]]) -> str:
    monomials = [a for a, b in factors if b == 0]
    key = lambda f: (0, f[1], f[0]) if f[0] < 0 < f[1] else (1, f[0], f[1])
    binomials = sorted(((a, b) for a, b in factors if b != 0), key=key)
    runs: list[list] = []
    for binomial in binomials:
        if runs and runs[-1][0] == binomial:
            runs[-1][1] += 1
        else:
            runs.append([binomial, 1])
    units = [f"({_linear(a, b, x)})" + (f"**{n}" if n > 1 else "") for (a, b), n in runs]
    if monomials:
        power = x if len(monomials) == 1 else f"{x}**{len(monomials)}"
        units = units + [power] if "(" in x else [power] + units
        coefficient = int(np.prod(monomials))
        lead = "-" if coefficient == -1 else "" if coefficient == 1 else f"{coefficient}*"
        return lead + "*".join(units)
    return "*".join(units)


def _expanded(x: str, factors: list[tuple[int, int]]) -> str:
    coefficients = [1]
    for a, b in factors:
        shifted = [0] + coefficients
        coefficients = [c * b for c in coefficients] + [0]
        coefficients = [c + a * s for c, s in zip(coefficients, shifted)]
    terms = []
    for degree in range(len(coefficients) - 1, -1, -1):
        value = coefficients[degree]
        if value == 0:
            continue
        power = "" if degree == 0 else x if degree == 1 else f"{x}**{degree}"
        text = str(abs(value)) if not power else power if abs(value) == 1 else f"{abs(value)}*{power}"
        terms.append((value < 0, text, degree))
    if len(terms) == 2 and terms[1][2] == 0 and not terms[1][0] and terms[0][0]:
        terms.reverse()
    return "".join(("-" if neg else "+" if i else "") + text for i, (neg, text, _) in enumerate(terms))


def _tokenise(text: str, width: int) -> list[int]:
    ids = [IDS[token] for token in TOKEN.findall(text)] + [EOS]
    return ids + [PAD] * (width - len(ids))


def _bucket(x: str, factors: list[tuple[int, int]]) -> int:
    """0..19 from what the factored text shows: the variable, the merged monomial and
    the multiset of binomials (equal texts, equal buckets). Python's hash of a tuple
    of ints is the same in every process."""
    power, coefficient = 0, 1
    for a, b in factors:
        if b == 0:
            power, coefficient = power + 1, coefficient * a
    binomials = tuple(sorted(factor for factor in factors if factor[1]))
    return hash((VARIABLES[x], power, coefficient, binomials)) % 20


def loop(count: int, widths: tuple[int, int], split: str = "any") -> tuple[np.ndarray, np.ndarray]:
    """The original's way, one example at a time (strings without SymPy), keeping the
    inputs that fall in ``split`` ("any": every input, no split kept apart)."""
    buckets = BUCKETS[split]
    inputs, targets = [], []
    while len(inputs) < count:
        x, factors = _draw_example()
        if split != "any" and _bucket(x, factors) not in buckets:
            continue
        inputs.append(_tokenise(_factored(x, factors), widths[0]))
        targets.append(_tokenise(_expanded(x, factors), widths[1]))
    return np.array(inputs), np.array(targets)


def sympy_loop(count: int, widths: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The original's printing itself: SymPy's str() of the product and of its expansion."""
    import sympy

    inputs, targets = [], []
    for _ in range(count):
        name, factors = _draw_example()
        symbol = sympy.Symbol(name[4] if "(" in name else name)
        x = getattr(sympy, name[:3])(symbol) if "(" in name else symbol
        product = sympy.Mul(*[a * x + b for a, b in factors])
        inputs.append(_tokenise(str(product).replace(" ", ""), widths[0]))
        targets.append(_tokenise(str(sympy.expand(product)).replace(" ", ""), widths[1]))
    return np.array(inputs), np.array(targets)


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run. CPU time is this process's alone, so it holds
    still when other work shares the machine; wall time is what a user waits."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=102_400, help="pairs per vectorised timing")
    parser.add_argument("--loop-count", type=int, default=50_000, help="pairs per loop timing")
    parser.add_argument("--sympy-count", type=int, default=2_000, help="pairs through SymPy (0: skip)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    signature = Polynomial().signature
    widths = (signature.input_length, signature.target_length)
    actions = {
        "loop": (args.loop_count, lambda: loop(args.loop_count, widths)),
        "loop-train": (args.loop_count, lambda: loop(args.loop_count, widths, "train")),
        "loop-test": (args.loop_count // 4, lambda: loop(args.loop_count // 4, widths, "test")),
        "train": (args.count, lambda: Split(Polynomial(), "train", args.count, seed=0).materialize()),
        "test": (args.count, lambda: Split(Polynomial(), "test", args.count, seed=0).materialize()),
    }
    if args.sympy_count:
        actions["sympy"] = (args.sympy_count, lambda: sympy_loop(args.sympy_count, widths))
    best = {name: [float("inf"), float("inf")] for name in actions}
    for _ in range(args.repeats):  # interleaved, so a busy spell hits every contender
        for name, (count, action) in actions.items():
            wall, cpu = timed(action)
            best[name] = [min(best[name][0], wall / count), min(best[name][1], cpu / count)]
    rate = {name: (1 / wall, 1 / cpu) for name, (wall, cpu) in best.items()}
    print(f"{'generator':<52} {'pairs/s wall':>13} {'pairs/s CPU':>12}")
    labels = {
        "loop": "per-example loop, no split kept apart",
        "loop-train": "per-example loop, train split",
        "loop-test": "per-example loop, test split",
        "sympy": "per-example loop through SymPy, no split kept apart",
        "train": "vectorised, train split",
        "test": "vectorised, test split",
    }
    for name in actions:
        print(f"{labels[name]:<52} {rate[name][0]:>13,.0f} {rate[name][1]:>12,.0f}")
    # The targets compare like with like: the same split, kept apart the same way.
    # The other ratios are for reference.
    comparisons = [("train", "loop-train", True), ("test", "loop-test", True), ("train", "loop", False)]
    comparisons += [("train", "sympy", False)] if "sympy" in rate else []
    print()
    for split, baseline, target in comparisons:
        wall, cpu = (rate[split][i] / rate[baseline][i] for i in (0, 1))
        verdict = ("met" if min(wall, cpu) >= TARGET_SPEEDUP else "MISSED") if target else "reference"
        print(f"{labels[split]} vs {labels[baseline]}: {wall:,.1f}x wall, {cpu:,.1f}x CPU ({verdict})")
    for split in ("train", "test"):
        verdict = "met" if rate[split][0] >= TARGET_RATE else "MISSED"
        print(f"{labels[split]} >= {TARGET_RATE:,} pairs/s (wall): {verdict}")


if __name__ == "__main__":
    main()
