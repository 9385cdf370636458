"""The original experiment's text format, built as token arrays without a loop per example.

The original data are SymPy's ``str()`` of a product of linear factors and of its
``expand()``, spaces removed. The rules below reproduce that output exactly (the
tests check them against SymPy); X is the variable: a letter ``x`` or ``sin(x)``,
``cos(x)``, ``tan(x)``.

Factored (input), from factors ``a_i*X + b_i`` (a_i != 0):
  * factors with b_i = 0 merge into one monomial ``C*X**p``: C the product of their a_i,
    p their count; C = 1 is omitted and C = -1 is written as a bare ``-``:
    ``-5*h*(5-2*h)``, ``4*n*(n+22)``, ``s*(8*s-21)``, ``-3*x**2``, ``-x*(x+3)``;
  * a binomial is ``b-|a|*X`` when a < 0 < b (``5-2*h``, ``21-t``), else ``a*X+b`` /
    ``a*X-|b|``; a coefficient 1 is omitted and -1 is a bare ``-`` (``-n-10``);
  * binomials are ordered by SymPy's sort key: first those written number-first
    (a < 0 < b), by b then a; then the others, by a then b:
    ``(5-2*t)*(-6*t-26)``, ``(-8*n-12)*(-7*n-15)``, ``(5*h-25)*(5*h-10)``;
  * equal binomials merge into a power, ``(h+3)**2``; binomials that differ only in
    sign stay apart, ``(3-h)*(h-3)``;
  * a letter's monomial comes before the binomials and a function's after them:
    ``-5*h*(5-2*h)`` but ``-5*(5-2*sin(h))*sin(h)``;
  * a lone binomial (one factor) has no brackets: ``5-2*h``.

Expanded (target):
  * terms by falling degree, zero terms dropped, ``X**k`` for k >= 2;
  * coefficient 1 omitted, -1 written ``-``; the first term carries a sign only when
    negative: ``-15*c**2+98*c-147``, ``i**2+4*i-480``, ``-h**2-20*h+96``;
  * exactly two terms, a negative one and a positive constant: the constant comes
    first, ``9-x**2`` (SymPy's one exception to falling degree).

Each kind of segment (a binomial, a term of a given degree, a number) is built by
array arithmetic and, when its possible values are few, tabulated on first use, so
that an example's segments are a single gather. The variable is one placeholder
code, replaced once the text is compacted: by the letter, or, for the few rows with
a function, by the four tokens ``fn ( letter )``.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np

from seqbench_tasks.polynomial_tokens import (
    DIGIT_0,
    EOS,
    FILL,
    FUNCTION_0,
    LETTER_A,
    LPAREN,
    MINUS,
    PAD,
    PLUS,
    POWER,
    RPAREN,
    STAR,
    TOKEN_DTYPE,
    compact,
    row_counts,
)

__all__ = ["FactoredFormat", "ExpandedFormat", "pair_tokens", "canonical_order", "expand", "digit_count"]

TABLE_LIMIT = 1 << 17  # values a segment table may hold
X = 100  # the variable's placeholder code
CODE = np.int16  # codes are small; narrow arrays make every step cheaper


def digit_count(value: int) -> int:
    return len(str(abs(int(value))))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Digit tokens of non-negative ``values`` in ``width`` columns, leading zeros FILL."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    column = values[..., None]
    tokens = np.where(column >= powers, DIGIT_0 + column // powers % 10, FILL)
    tokens[..., -1] = DIGIT_0 + values % 10
    return tokens


def _column(shown: np.ndarray, token: int) -> np.ndarray:
    return np.where(shown, CODE(token), CODE(FILL))[..., None]


def _hide(codes: np.ndarray, shown: np.ndarray) -> np.ndarray:
    return np.where(shown[..., None], codes, CODE(FILL))


class Segments:
    """Token codes of one kind of segment for integer keys ``low..high``: a table built
    on first use when the keys are few, else ``build`` on demand. Keys of any shape;
    the codes add a last axis."""

    def __init__(
        self, build: Callable[[np.ndarray], np.ndarray], low: int, high: int, tabulate: bool = True
    ) -> None:
        self._build, self._low, self._high = build, low, high
        self._tabulate = tabulate and high - low < TABLE_LIMIT
        self._table: np.ndarray | None = None

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        if not self._tabulate:
            return self._build(keys.ravel()).astype(CODE).reshape(keys.shape + (-1,))
        if self._table is None:
            self._table = self._build(np.arange(self._low, self._high + 1)).astype(CODE)
        # np.take, not self._table[...]: many times faster for small rows of a table.
        return np.take(self._table, keys - self._low, axis=0)


def _finish(codes: np.ndarray, letter: np.ndarray, function: np.ndarray, width: int | None) -> np.ndarray:
    """Token rows (TOKEN_DTYPE) from codes: FILL gaps closed, EOS, PAD to ``width`` (default:
    the longest text + 1), and the placeholder replaced by the variable."""
    trig = function > 0
    keep = codes != FILL
    lengths = row_counts(keep)
    if width is None:
        width = int((lengths + 3 * trig * row_counts(codes == X)).max(initial=0)) + 1
    if len(codes) and int(lengths.max()) + 1 > width:
        raise ValueError(f"a sequence of {int(lengths.max())} tokens does not fit {width - 1}")
    # Kept codes in row-major order land on the first ``length`` cells of their row.
    kept = codes[keep]
    variable = np.repeat(np.where(trig, X, LETTER_A + letter).astype(CODE), lengths)
    tokens = np.full((len(codes), width), PAD, dtype=TOKEN_DTYPE)
    tokens[np.arange(width) < lengths[:, None]] = np.where(kept == X, variable, kept)
    tokens[np.arange(len(codes)), lengths] = EOS
    if trig.any():
        # A function's rows: each code spreads to four columns, X to "fn ( letter )".
        rows = np.flatnonzero(trig)
        spread = np.full((len(rows), codes.shape[1], 4), FILL, dtype=CODE)
        spread[..., 0] = codes[rows]
        brackets = np.ones(len(rows), dtype=np.int64)
        variable = np.stack(
            [FUNCTION_0 + function[rows] - 1, LPAREN * brackets, LETTER_A + letter[rows], RPAREN * brackets],
            axis=1,
        ).astype(CODE)
        is_x = spread[..., 0] == X
        spread[is_x] = np.broadcast_to(variable[:, None, :], spread.shape)[is_x]
        tokens[rows] = compact(spread.reshape(len(rows), -1), width)
    return tokens


def _running_any(columns: np.ndarray) -> np.ndarray:
    """Per column, whether any earlier column of the row is True (a loop over columns)."""
    earlier = np.zeros_like(columns)
    for column in range(1, columns.shape[1]):
        earlier[:, column] = earlier[:, column - 1] | columns[:, column - 1]
    return earlier


def canonical_order(
    a: np.ndarray, b: np.ndarray, spans: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factors sorted as SymPy prints them (monomials last) and each binomial run's
    length at its first factor (0 elsewhere): equal binomials print as one power.
    ``spans``: bounds above every |a| and |b| (default: from the data)."""
    a_span, b_span = spans or (int(np.abs(a).max(initial=0)) + 1, int(np.abs(b).max(initial=0)) + 1)
    number_first = (a < 0) & (b > 0)
    key_first = b * (2 * a_span) + (a + a_span)
    key_last = (a + a_span) * (2 * b_span) + (b + b_span) + (2 * b_span + 1) * (2 * a_span + 1)
    key = np.where(b == 0, np.iinfo(np.int64).max, np.where(number_first, key_first, key_last))
    if a.shape[1] == 2:  # the common case, without a sort
        swap = (key[:, 0] > key[:, 1])[:, None]
        a, b, key = (np.where(swap, v[:, ::-1], v) for v in (a, b, key))
    elif a.shape[1] > 2:
        order = np.argsort(key, axis=1, kind="stable")
        a, b, key = (np.take_along_axis(v, order, axis=1) for v in (a, b, key))
    binomial = b != 0
    same_as_next = binomial[:, :-1] & (key[:, :-1] == key[:, 1:])
    run = np.ones(a.shape, dtype=np.int64)
    for column in range(a.shape[1] - 2, -1, -1):
        run[:, column] = np.where(same_as_next[:, column], run[:, column + 1] + 1, 1)
    starts = binomial.copy()
    starts[:, 1:] &= ~same_as_next
    return a, b, np.where(starts, run, 0)


class FactoredFormat:
    """Factored text of prod_i (a_i*X + b_i) for |a| <= max_coefficient, |b| <= max_constant.

    Three segment kinds make up a text: the lead (sign and monomial coefficient, with
    its "*"), a monomial ``X**p`` (with a "*" before it when asked), and a binomial
    unit (a "*" when asked, brackets, a power when the binomial repeats; empty when it
    is not the first of its run)."""

    def __init__(self, max_coefficient: int, max_constant: int, factors: int, tabulate: bool = True) -> None:
        self.a_max, self.b_max, self.factors = max_coefficient, max_constant, factors
        self._spans = (max_coefficient + 1, max_constant + 1)
        self._a_width, self._b_width = digit_count(max_coefficient), digit_count(max_constant)
        self._exponent_width = digit_count(factors)
        largest = max_coefficient**factors
        binomials = (2 * self.a_max + 1) * (2 * self.b_max + 1)
        self._units = Segments(self._unit, 0, binomials * (factors + 1) * 2 - 1, tabulate)
        self._leads = Segments(partial(self._lead, width=digit_count(largest)), -largest, largest, tabulate)
        self._monomials = Segments(self._monomial, 0, 2 * (factors + 1) - 1, tabulate)

    def _power(self, exponent: np.ndarray) -> np.ndarray:
        """``**e`` where e > 1, else nothing."""
        digits = _digits(exponent, self._exponent_width)
        codes = np.concatenate([_column(exponent > 1, POWER), digits], axis=1)
        return _hide(codes, exponent > 1)

    def _unit(self, key: np.ndarray) -> np.ndarray:
        """Key (binomial * (factors + 1) + run) * 2 + star: ``*(b-|a|*X)**run`` and kin."""
        binomial, rest = np.divmod(key, 2 * (self.factors + 1))
        run, star = np.divmod(rest, 2)
        a, b = np.divmod(binomial, 2 * self.b_max + 1)
        a, b = a - self.a_max, b - self.b_max
        unit = np.abs(a) == 1
        always = np.ones(len(a), dtype=bool)
        coefficient = np.concatenate(
            [_hide(_digits(np.abs(a), self._a_width), ~unit), _column(~unit, STAR), _column(always, X)],
            axis=1,
        )
        constant = _digits(np.abs(b), self._b_width)
        first = np.concatenate([constant, _column(always, MINUS), coefficient, _column(always, FILL)], axis=1)
        last = np.concatenate(
            [_column(a < 0, MINUS), coefficient, np.where(b > 0, PLUS, MINUS)[:, None], constant], axis=1
        )
        bracket = always & (self.factors > 1)
        codes = np.concatenate(
            [
                _column(star == 1, STAR),
                _column(bracket, LPAREN),
                np.where(((a < 0) & (b > 0))[:, None], first, last),
                _column(bracket, RPAREN),
                self._power(run),
            ],
            axis=1,
        )
        return _hide(codes, run > 0)

    @staticmethod
    def _lead(coefficient: np.ndarray, width: int) -> np.ndarray:
        """The monomial's coefficient: ``-`` for -1, nothing for 1, else ``c*``."""
        shown = np.abs(coefficient) != 1
        return np.concatenate(
            [
                _column(coefficient < 0, MINUS),
                _hide(_digits(np.abs(coefficient), width), shown),
                _column(shown, STAR),
            ],
            axis=1,
        )

    def _monomial(self, key: np.ndarray) -> np.ndarray:
        """Key power * 2 + star: ``*X**p`` (nothing for p = 0)."""
        power, star = np.divmod(key, 2)
        codes = np.concatenate([_column(star == 1, STAR), _column(power > 0, X), self._power(power)], axis=1)
        return _hide(codes, power > 0)

    def codes(self, a: np.ndarray, b: np.ndarray, function: np.ndarray) -> np.ndarray:
        """Codes (variable placeholders, FILL gaps) for ``a``, ``b``: (N, factors), a != 0."""
        count, factors = a.shape
        trig = function > 0
        monomial = b == 0
        power = np.zeros(count, dtype=np.int64)
        coefficient = np.ones(count, dtype=np.int64)
        for column in range(factors):  # small loops over columns beat reductions here
            power += monomial[:, column]
            coefficient *= np.where(monomial[:, column], a[:, column], 1)
        a, b, run = canonical_order(a, b, self._spans)
        shown = run > 0
        # A letter's monomial precedes the binomials; a function's follows them.
        before = np.where(trig, 0, power)
        star = shown & (_running_any(shown) | (before > 0)[:, None])
        binomial = (a + self.a_max) * (2 * self.b_max + 1) + (b + self.b_max)
        after = np.where(trig, power, 0) * 2 + (trig & shown.any(axis=1))
        return np.concatenate(
            [
                self._leads(coefficient),
                self._monomials(before * 2),
                self._units((binomial * (factors + 1) + run) * 2 + star).reshape(count, -1),
                self._monomials(after),
            ],
            axis=1,
        )

    def tokens(
        self, letter: np.ndarray, function: np.ndarray, a: np.ndarray, b: np.ndarray, width: int
    ) -> np.ndarray:
        """Token rows (EOS-ended, PAD-padded to ``width``) of the factored text; ``letter``
        0..25, ``function`` 0 (none) or 1..3 (sin, cos, tan)."""
        return _finish(self.codes(a, b, function), letter, function, width)


def _term(degree: int, width: int) -> Callable[[np.ndarray], np.ndarray]:
    """Builds the codes of ``c*X**degree`` for keys c * 2 + first: nothing for c = 0,
    and a "+" only for a positive term that is not the first."""

    def build(keys: np.ndarray) -> np.ndarray:
        values, first = np.divmod(keys, 2)
        magnitude = np.abs(values)
        unit = (magnitude == 1) & (degree > 0)
        sign = np.where(values < 0, MINUS, np.where(first == 1, FILL, PLUS))
        columns = [sign[:, None], _hide(_digits(magnitude, width), ~unit)]
        if degree:
            columns += [_column(~unit, STAR), _column(np.ones(len(values), dtype=bool), X)]
        if degree > 1:
            exponent = np.array([POWER] + [DIGIT_0 + int(d) for d in str(degree)])
            columns.append(np.broadcast_to(exponent, (len(values), len(exponent))))
        return _hide(np.concatenate(columns, axis=1), values != 0)

    return build


class ExpandedFormat:
    """Expanded text of sum_k c_k*X**k for |c_k| <= bounds[k]."""

    def __init__(self, bounds: list[int], tabulate: bool = True):
        self._terms = [
            Segments(_term(degree, digit_count(bound)), -2 * bound, 2 * bound + 1, tabulate)
            for degree, bound in enumerate(bounds)
        ]

    def codes(self, coefficients: np.ndarray) -> np.ndarray:
        """Codes for ``coefficients`` (N, degree + 1), lowest degree first; all zero: ``0``."""
        count, terms = coefficients.shape
        nonzero = coefficients != 0
        constant = coefficients[:, 0]
        others = np.zeros(count, dtype=np.int64)
        for degree in range(1, terms):
            others += nonzero[:, degree]
        # SymPy writes "c - k*X**n" (c > 0, k > 0) as "c-k*X**n", not "-k*X**n+c".
        constant_first = (others == 1) & (constant > 0) & (coefficients[:, 1:].sum(axis=1) < 0)
        parts = [self._terms[0](np.where(constant_first, constant, 0) * 2 + 1)]
        printed = constant_first.copy()
        for degree in range(terms - 1, 0, -1):
            parts.append(self._terms[degree](coefficients[:, degree] * 2 + ~printed))
            printed |= nonzero[:, degree]
        parts.append(self._terms[0](np.where(constant_first, 0, constant) * 2 + ~printed))
        codes = np.concatenate(parts, axis=1)
        zero = ~(printed | nonzero[:, 0])
        if zero.any():
            codes[zero, -1] = DIGIT_0
        return codes

    def tokens(
        self, letter: np.ndarray, function: np.ndarray, coefficients: np.ndarray, width: int | None = None
    ) -> np.ndarray:
        """Token rows (EOS-ended, PAD-padded to ``width``, default: the longest + 1) of
        the expanded text."""
        return _finish(self.codes(coefficients), letter, function, width)

    @classmethod
    def fitting(cls, coefficients: np.ndarray) -> "ExpandedFormat":
        """A format just wide enough for ``coefficients``, built without tables."""
        return cls([int(v) for v in np.abs(coefficients).max(axis=0, initial=0)], tabulate=False)


def expand(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Coefficients of prod_i (a_i*X + b_i), lowest degree first: (N, factors + 1)."""
    count, factors = a.shape
    coefficients = np.zeros((count, factors + 1), dtype=np.int64)
    coefficients[:, 0] = 1
    for column in range(factors):
        shifted = np.zeros_like(coefficients)
        shifted[:, 1:] = coefficients[:, :-1]
        coefficients = coefficients * b[:, column : column + 1] + shifted * a[:, column : column + 1]
    return coefficients


def pair_tokens(
    factored: FactoredFormat,
    expanded: ExpandedFormat,
    letter: np.ndarray,
    function: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    widths: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Input and target token rows of the products of (a_i*X + b_i), ``widths`` wide.

    Both texts' codes are stacked and finished together: half the steps of finishing
    each, which is most of the cost at the harness's chunk size."""
    count = len(a)
    codes = [factored.codes(a, b, function), expanded.codes(expand(a, b))]
    span = max(part.shape[1] for part in codes)
    stacked = np.full((2 * count, span), FILL, dtype=CODE)
    stacked[:count, : codes[0].shape[1]] = codes[0]
    stacked[count:, : codes[1].shape[1]] = codes[1]
    tokens = _finish(stacked, np.tile(letter, 2), np.tile(function, 2), max(widths))
    inputs, targets = tokens[:count, : widths[0]], tokens[count:, : widths[1]]
    if tokens[:count, widths[0] :].any() or tokens[count:, widths[1] :].any():
        raise ValueError(f"a text does not fit the widths {widths}")
    return inputs, targets
