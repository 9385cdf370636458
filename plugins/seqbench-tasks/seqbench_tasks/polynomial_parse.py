"""A vectorised reader of polynomial token sequences: the oracle's expander.

``parse`` turns token rows such as ``(21-5*c)*(3*c-7)`` into the variable and the
integer coefficients of the polynomial they denote. It reads any sum of products of
integers, X, ``X**n`` and bracketed sums (brackets one deep, as in the format; X is a
letter or ``sin(x)``, ``cos(x)``, ``tan(x)``), so it expands factored forms of any
size and reads expanded forms back, file lines included.

It walks the columns left to right, all rows at once: a loop over positions, never
over examples. Each of the two bracket levels keeps a running sum of terms, the
product of the current term's factors, and the last factor, held back until it is
known whether ``**`` raises it.
"""

from __future__ import annotations

import numpy as np

from seqbench_tasks.polynomial_tokens import (
    DIGIT_0,
    FUNCTION_0,
    FUNCTIONS,
    LETTER_A,
    LPAREN,
    MINUS,
    PLUS,
    POWER,
    RPAREN,
    STAR,
    sequence_lengths,
)

__all__ = ["parse", "multiply"]


def multiply(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise product of polynomials (lowest degree first), truncated to their width."""
    size = left.shape[1]
    out = np.zeros_like(left)
    for degree in range(size):
        out[:, degree:] += left[:, degree : degree + 1] * right[:, : size - degree]
    return out


def _power(base: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    result = np.zeros_like(base)
    result[:, 0] = 1
    for step in range(int(exponent.max(initial=0))):
        result = np.where((step < exponent)[:, None], multiply(result, base), result)
    return result


class _Level:
    """The state of one bracket level for every row."""

    def __init__(self, rows: int, size: int) -> None:
        self.one = np.zeros((rows, size), dtype=np.int64)
        self.one[:, 0] = 1
        self.total = np.zeros((rows, size), dtype=np.int64)
        self.term = self.one.copy()
        self.factor = np.zeros((rows, size), dtype=np.int64)
        self.sign = np.ones(rows, dtype=np.int64)
        self.has_factor = np.zeros(rows, dtype=bool)
        self.started = np.zeros(rows, dtype=bool)
        self.exponent_next = np.zeros(rows, dtype=bool)

    def reset(self, rows: np.ndarray) -> None:
        self.total[rows] = 0
        self.term[rows] = self.one[rows]
        self.sign[rows] = 1
        self.has_factor[rows] = self.started[rows] = self.exponent_next[rows] = False

    def commit_factor(self, rows: np.ndarray) -> None:
        rows = rows & self.has_factor
        if rows.any():
            self.term[rows] = multiply(self.term[rows], self.factor[rows])
            self.has_factor[rows] = False

    def push_factor(self, rows: np.ndarray, polynomial: np.ndarray) -> None:
        self.commit_factor(rows)
        self.factor[rows] = polynomial[rows]
        self.has_factor[rows] = self.started[rows] = True

    def raise_factor(self, rows: np.ndarray, exponent: np.ndarray) -> None:
        self.factor[rows] = _power(self.factor[rows], exponent[rows])
        self.exponent_next[rows] = False

    def end_term(self, rows: np.ndarray) -> None:
        self.commit_factor(rows)
        rows = rows & self.started
        self.total[rows] += self.sign[rows, None] * self.term[rows]
        self.term[rows] = self.one[rows]
        self.sign[rows] = 1
        self.started[rows] = False


def _variable(ids: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's letter (0..25) and function (0 none, 1..3 sin, cos, tan): the first seen."""
    letters = live & (ids >= LETTER_A) & (ids < LETTER_A + 26)
    functions = live & (ids >= FUNCTION_0) & (ids < FUNCTION_0 + len(FUNCTIONS))
    rows = np.arange(len(ids))
    letter = np.where(letters.any(axis=1), ids[rows, np.argmax(letters, axis=1)] - LETTER_A, 0)
    function = np.where(
        functions.any(axis=1), ids[rows, np.argmax(functions, axis=1)] - FUNCTION_0 + 1, 0
    )
    return letter, function


def parse(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(letter, function, coefficients) of each row of token ids, read up to its EOS.

    ``coefficients`` is (N, degree + 1), lowest degree first, trimmed to the highest
    degree any row reaches.
    """
    ids = np.asarray(ids, dtype=np.int64)
    rows, width = ids.shape
    live = np.arange(width) < sequence_lengths(ids)[:, None]
    letter, function = _variable(ids, live)
    is_function = live & (ids >= FUNCTION_0) & (ids < FUNCTION_0 + len(FUNCTIONS))
    skipped = np.zeros_like(is_function)  # the "(x)" after a function name
    for offset in (1, 2, 3):
        skipped[:, offset:] |= is_function[:, :-offset]
    is_x = live & ~skipped & (is_function | ((ids >= LETTER_A) & (ids < LETTER_A + 26)))
    digit = live & ~skipped & (ids >= DIGIT_0) & (ids < DIGIT_0 + 10)

    value = np.zeros((rows, width), dtype=np.int64)
    after_power = np.zeros((rows, width), dtype=bool)
    for column in range(width):
        if column:
            carried = digit[:, column - 1]
            value[:, column] = np.where(carried, value[:, column - 1] * 10, 0)
            after_power[:, column] = np.where(
                carried, after_power[:, column - 1], ids[:, column - 1] == POWER
            )
        value[:, column] = np.where(digit[:, column], value[:, column] + ids[:, column] - DIGIT_0, 0)
    ends = digit.copy()
    ends[:, :-1] &= ~digit[:, 1:]
    largest_exponent = int(value[ends & after_power].max(initial=1))
    size = int(is_x.sum(axis=1).max(initial=0)) * largest_exponent + 1

    opened = live & ~skipped & (ids == LPAREN)
    closed = live & ~skipped & (ids == RPAREN)
    depth = np.cumsum(opened, axis=1) - np.cumsum(closed, axis=1) - opened + closed
    x_polynomial = np.zeros((rows, size), dtype=np.int64)
    if size > 1:
        x_polynomial[:, 1] = 1
    number = np.zeros((rows, size), dtype=np.int64)
    levels = (_Level(rows, size), _Level(rows, size))
    for column in range(width):
        inner = depth[:, column] > 0
        for level, here in zip(levels, (~inner, inner)):
            end = ends[:, column] & here
            if end.any():
                raising = end & level.exponent_next
                level.raise_factor(raising, value[:, column])
                number[:, 0] = value[:, column]
                level.push_factor(end & ~raising, number)
            token = ids[:, column]
            x = is_x[:, column] & here
            if x.any():
                level.push_factor(x, x_polynomial)
            level.commit_factor((token == STAR) & live[:, column] & here)
            level.exponent_next |= (token == POWER) & live[:, column] & here
            for sign_token, sign in ((PLUS, 1), (MINUS, -1)):
                signed = (token == sign_token) & live[:, column] & ~skipped[:, column] & here
                if signed.any():
                    level.end_term(signed)
                    level.sign[signed] *= sign
        inner_level, outer_level = levels[1], levels[0]
        if opened[:, column].any():
            inner_level.reset(opened[:, column])
        if closed[:, column].any():
            inner_level.end_term(closed[:, column])
            outer_level.push_factor(closed[:, column], inner_level.total)
    levels[0].end_term(np.ones(rows, dtype=bool))
    coefficients = levels[0].total
    reached = np.flatnonzero(coefficients.any(axis=0))
    return letter, function, coefficients[:, : int(reached.max(initial=0)) + 1]
