"""Drawing polynomial inputs as the original did, and the split each input belongs to.

The defaults reproduce the original data's distribution (see ``polynomial``): the
variable one of 13 letters (s, i and n twice as often), in 3% of inputs sin, cos or
tan of one; each factor ``a*X + b`` with, in four factors of five, b from -B..B-1
without 0 (else b = 0, a monomial), and a = 1 with probability ``unit_coefficient``
(0.2 for the original), else a from -A..A-1 without 0 (which may again be 1).

An input is drawn as integers, one per variable and one per factor, each uniform:
  * the variable's slot: 16 letter slots x 100 percent, the percent picking a function;
  * a factor's slot in 0..5*nA*nB-1, nB the count of b values and nA the total
    weight of the a values (in hundredths of ``unit_coefficient``, reduced): the first
    nA*nB slots are monomials, a's index = the slot mod nA, so one factor in five is a
    monomial; the other slots are the binomials, each (a index, b) four times. An a
    index maps to its value through the cumulative weights, so a = 1 takes the share
    of indices ``unit_coefficient`` gives it.
So one ``rng.integers`` call per column draws exactly the original's distribution.

Splits never share an input, because an input's split is a function of its text:
90% train, 5% validation, 5% test by a 64-bit hash of what the factored text shows
(the variable, the merged monomial's coefficient and power, the multiset of binomials),
computed before any text is built. A split's examples are the draws whose hash falls
in it: the original distribution conditioned on the texts of that split's share. That
is not the whole distribution scaled down: a text drawn often goes to one split with
all its copies, and the few texts of the frequent kinds (a both-monomial line such as
``-3*x**2``) fall unevenly, so each split's mix is lumpy. In 1,000,000 draws the test
split has 5.2% both-monomial lines against 4.0% of all draws, and the train split
3.9% (the scientific audit's check_polynomial_splits.py). The test split
keeps one draw in twenty, so a draw's hash must be cheap; each factor slot's part of
the hash is tabulated. ``structure_split`` is the same hash from the factors
themselves; ``split_of`` hashes token rows (data files).
"""

from __future__ import annotations

import numpy as np

from seqbench.data import SPLITS
from seqbench_tasks.polynomial_tokens import sequence_lengths

__all__ = ["Draws", "LETTERS", "SPLIT_BUCKETS", "BUCKETS", "structure_split", "split_of"]

LETTERS = "achijknostxyz"
# s, i and n are twice as frequent as the other letters in the original data.
_LETTER_POOL = np.array([ord(c) - ord("a") for c in LETTERS + "sin"])
FUNCTION_PERCENT = 3  # of examples whose variable is sin, cos or tan of a letter
MONOMIAL_ONE_IN = 5  # factors without a constant term
TABLE_LIMIT = 1 << 20  # factor slots whose hash parts are tabulated

# Hash buckets per split, out of BUCKETS: 18/20 train, 1/20 validation, 1/20 test.
BUCKETS = 20
SPLIT_BUCKETS = {"train": (2, BUCKETS), "validation": (0, 1), "test": (1, 2)}

_SPLITMIX_1, _SPLITMIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_MIX_1, _MIX_2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)


_BUCKET_OWNER = np.empty(BUCKETS, dtype=np.int64)
for _index, _name in enumerate(SPLITS):
    _BUCKET_OWNER[slice(*SPLIT_BUCKETS[_name])] = _index


def _owner(hashed: np.ndarray) -> np.ndarray:
    """Split indices (into SPLITS) of 64-bit hashes, by bucket: the top 32 bits scaled
    to 0..BUCKETS-1 (a multiply and shifts; a 64-bit modulo is several times slower)."""
    bucket = ((hashed >> np.uint64(32)) * np.uint64(BUCKETS)) >> np.uint64(32)
    return np.take(_BUCKET_OWNER, bucket)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-spread 64-bit hash of each value."""
    values = values.astype(np.uint64, copy=False)
    values = (values ^ (values >> np.uint64(30))) * _SPLITMIX_1
    values = (values ^ (values >> np.uint64(27))) * _SPLITMIX_2
    return values ^ (values >> np.uint64(31))


def _binomial_hash(a: np.ndarray, b: np.ndarray, a_max: int, b_max: int) -> np.ndarray:
    """Each factor's part of the input's hash: a hash of (a, b) for a binomial, 0 for a
    monomial (monomials count through the merged coefficient and power instead)."""
    key = (a + a_max) * (2 * b_max + 1) + (b + b_max) + 1
    return np.where(b == 0, np.uint64(0), _mix(key))


def _shown_variable(letter: np.ndarray, function: np.ndarray, factors: int) -> np.ndarray:
    """What the text shows of the variable, scaled so that a monomial power (0..factors)
    can be added to it without a collision."""
    return ((letter * 4 + function) * (factors + 1)).astype(np.uint64)


def _combine(shown: np.ndarray, coefficient: np.ndarray, binomials: np.ndarray) -> np.ndarray:
    """The split from what a factored text shows: the variable and monomial power, the
    monomial coefficient and the binomials' hash sum, all uint64 (products and sums
    wrap as int64's would)."""
    return _owner(_mix(binomials + _mix(coefficient * _FNV_PRIME + shown)))


def structure_split(
    letter: np.ndarray, function: np.ndarray, a: np.ndarray, b: np.ndarray, a_max: int, b_max: int
) -> np.ndarray:
    """The split of each generated input, as an index into ``seqbench.data.SPLITS``,
    from its factors ``a``, ``b`` (N, factors) before any text is built.

    The hash covers exactly what the factored text shows: the variable, the merged
    monomial's coefficient and power, and the multiset of binomials (a sum of their
    hashes, so their order does not count). Equal texts always share a split.
    """
    count, factors = a.shape
    power = np.zeros(count, dtype=np.int64)
    coefficient = np.ones(count, dtype=np.int64)
    binomials = np.zeros(count, dtype=np.uint64)
    for column in range(factors):  # small loops over columns beat reductions here
        monomial = b[:, column] == 0
        power += monomial
        coefficient *= np.where(monomial, a[:, column], 1)
        binomials += _binomial_hash(a[:, column], b[:, column], a_max, b_max)
    shown = _shown_variable(letter, function, factors) + power.astype(np.uint64)
    return _combine(shown, coefficient.astype(np.uint64), binomials)


def split_of(inputs: np.ndarray) -> np.ndarray:
    """The split of each input row (of a data file), as an index into
    ``seqbench.data.SPLITS``.

    A hash of the tokens before the first EOS (FNV-1a, then MurmurHash3's finaliser),
    so a text's split never depends on the padding around it.
    """
    inputs = np.ascontiguousarray(inputs, dtype=np.int64)
    live = np.arange(inputs.shape[1]) < sequence_lengths(inputs)[:, None]
    tokens = inputs.view(np.uint64)
    hashed = np.full(len(inputs), _FNV_OFFSET, dtype=np.uint64)
    for column in range(inputs.shape[1]):  # a loop over positions, vectorised over rows
        hashed = np.where(live[:, column], (hashed ^ tokens[:, column]) * _FNV_PRIME, hashed)
    hashed ^= hashed >> _SHIFT
    hashed *= _MIX_1
    hashed ^= hashed >> _SHIFT
    hashed *= _MIX_2
    hashed ^= hashed >> _SHIFT
    return _owner(hashed)


def _coefficient_weights(max_coefficient: int, unit_coefficient: float) -> tuple[np.ndarray, np.ndarray]:
    """The x coefficients -max..max-1 without 0 and their cumulative integer weights:
    a = 1 with probability ``unit_coefficient`` (in hundredths), else uniform over all
    of them. Weights are reduced by their common divisor, so ``unit_coefficient = 0``
    weighs every value 1 (a uniform)."""
    values = np.delete(np.arange(-max_coefficient, max_coefficient), max_coefficient)
    unit = round(unit_coefficient * 100)
    weights = np.full(len(values), 100 - unit, dtype=np.int64)
    weights[values == 1] += unit * len(values)
    weights //= np.gcd.reduce(weights)
    return values, np.cumsum(weights)


class Draws:
    """Inputs of ``factors`` factors drawn as integer slots (see the module's notes),
    their splits, and their variables and factors."""

    def __init__(
        self,
        factors: int,
        max_coefficient: int,
        max_constant: int,
        functions: bool,
        unit_coefficient: float = 0.0,
    ) -> None:
        self.factors, self.a_max, self.b_max = factors, max_coefficient, max_constant
        self.functions = functions
        self._a_values, self._a_bounds = _coefficient_weights(max_coefficient, unit_coefficient)
        self._a_count = int(self._a_bounds[-1])
        self._b_values = np.delete(np.arange(-max_constant, max_constant), max_constant)
        self._pairs = self._a_count * len(self._b_values)
        self.factor_slots = MONOMIAL_ONE_IN * self._pairs
        self.variable_slots = len(_LETTER_POOL) * 100
        letter, function = self._variable(np.arange(self.variable_slots))
        self._shown_variable = _shown_variable(letter, function, factors)
        self._parts = None
        if self.factor_slots <= TABLE_LIMIT:
            self._parts = self._factor_parts(np.arange(self.factor_slots))

    def _variable(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        letter = _LETTER_POOL[slots // 100]
        percent = slots % 100
        function = np.where(percent < FUNCTION_PERCENT, percent % 3 + 1, 0) if self.functions else 0 * percent
        return letter, function

    def _factor(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) of factor slots."""
        pairs, b_count = self._pairs, len(self._b_values)
        monomial = slots < pairs
        pair = slots % pairs
        a_index = np.where(monomial, slots % self._a_count, pair // b_count)
        b = np.where(monomial, 0, self._b_values[pair % b_count])
        return self._a_values[np.searchsorted(self._a_bounds, a_index, side="right")], b

    def _factor_parts(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each factor slot's share of the hash, all uint64 (products and sums wrap as
        int64's would): (binomial hash, monomial power 0/1, monomial coefficient or 1)."""
        a, b = self._factor(slots)
        monomial = b == 0
        coefficient = np.where(monomial, a, 1).astype(np.int64).view(np.uint64)
        return _binomial_hash(a, b, self.a_max, self.b_max), monomial.astype(np.uint64), coefficient

    def draw(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Slots of ``count`` inputs: variables (count,) and factors (factors, count)."""
        # 64-bit slots: NumPy gathers with them about twice as fast as with int32.
        variables = rng.integers(0, self.variable_slots, size=count, dtype=np.int64)
        factors = rng.integers(0, self.factor_slots, size=(self.factors, count), dtype=np.int64)
        return variables, factors

    def owner(self, variables: np.ndarray, factors: np.ndarray) -> np.ndarray:
        """Each drawn input's split, as an index into SPLITS: ``structure_split`` of its
        factors, from tables when the slots are few (the test split hashes twenty draws
        for every input it keeps)."""
        binomials = power = coefficient = None
        for column in factors:
            if self._parts is None:
                parts = self._factor_parts(column)
            else:
                parts = tuple(np.take(part, column) for part in self._parts)
            if binomials is None:
                binomials, power, coefficient = parts
            else:
                binomials += parts[0]
                power += parts[1]
                coefficient *= parts[2]
        return _combine(np.take(self._shown_variable, variables) + power, coefficient, binomials)

    def decode(self, variables: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, ...]:
        """(letter, function, a, b) of drawn slots; a and b are (count, factors)."""
        letter, function = self._variable(variables)
        a, b = self._factor(factors.T)
        return letter, function, a, b
