"""The polynomial task's fixed vocabulary and a vectorised tokenizer.

Tokens are those of the original experiment's vocabulary (the regex
``sin|cos|tan|\\d|\\w|\\(|\\)|\\+|-|\\*+`` its authors used): one token per digit, per
letter, per function name, per bracket and per operator, with ``**`` a single token.
Ids are fixed, whatever the data: PAD = 0 (seqbench's padding), EOS = 1, then the ten
digits, the 26 letters, sin, cos, tan, ``(``, ``)``, ``*``, ``**``, ``+``, ``-``.

Text is tokenised without a loop per string: the bytes of all strings at once are
mapped through a lookup table, function names and ``**`` are folded into one token,
and the tokens are scattered into a right-padded array.
"""

from __future__ import annotations

import string
from typing import Iterable, Sequence

import numpy as np

from seqbench.task import PAD_ID

__all__ = [
    "PAD",
    "EOS",
    "FILL",
    "TOKEN_DTYPE",
    "VOCAB",
    "VOCAB_SIZE",
    "DIGIT_0",
    "LETTER_A",
    "FUNCTIONS",
    "FUNCTION_0",
    "LPAREN",
    "RPAREN",
    "STAR",
    "POWER",
    "PLUS",
    "MINUS",
    "encode",
    "decode",
    "encode_pairs",
    "compact",
    "row_counts",
    "sequence_lengths",
]

PAD = PAD_ID
EOS = 1
FUNCTIONS = ("sin", "cos", "tan")
VOCAB: tuple[str, ...] = (
    ("<pad>", "<eos>")
    + tuple(string.digits)
    + tuple(string.ascii_lowercase)
    + FUNCTIONS
    + ("(", ")", "*", "**", "+", "-")
)
VOCAB_SIZE = len(VOCAB)
_ID = {token: index for index, token in enumerate(VOCAB)}
DIGIT_0 = _ID["0"]
LETTER_A = _ID["a"]
FUNCTION_0 = _ID["sin"]
LPAREN, RPAREN, STAR, POWER, PLUS, MINUS = (_ID[t] for t in ("(", ")", "*", "**", "+", "-"))

# Token ids fit 16 bits; narrow rows make generation and every copy after it cheaper.
TOKEN_DTYPE = np.int16

# Builders lay tokens out in fixed columns and mark unused ones FILL before compacting.
FILL = -1

_INVALID, _SKIP, _EQUALS, _NEWLINE = -2, -3, -4, -5
_BYTE_TOKEN = np.full(256, _INVALID, dtype=np.int64)
for _char in string.digits + string.ascii_lowercase + "()*+-":
    _BYTE_TOKEN[ord(_char)] = _ID[_char]
for _char in " \t\r":
    _BYTE_TOKEN[ord(_char)] = _SKIP
_BYTE_TOKEN[ord("=")] = _EQUALS
_BYTE_TOKEN[ord("\n")] = _NEWLINE
_DECODE = np.array(["", ""] + list(VOCAB[2:]), dtype=object)


def _fold(data: np.ndarray) -> np.ndarray:
    """Token ids for ``data`` (bytes), with function names and ``**`` folded into one
    token: the first byte carries the token, the others become _SKIP."""
    tokens = _BYTE_TOKEN[data]
    for offset, name in enumerate(FUNCTIONS):
        pattern = np.frombuffer(name.encode() + b"(", dtype=np.uint8)
        if len(data) < len(pattern):
            continue
        windows = np.lib.stride_tricks.sliding_window_view(data, len(pattern))
        starts = np.flatnonzero(np.all(windows == pattern, axis=1))
        tokens[starts] = FUNCTION_0 + offset
        tokens[starts + 1] = _SKIP
        tokens[starts + 2] = _SKIP
    stars = np.flatnonzero((data[:-1] == ord("*")) & (data[1:] == ord("*")))
    # A run of three stars is no token sequence of the format; leave it to validation.
    stars = stars[(tokens[stars] == STAR) & (tokens[stars + 1] == STAR)]
    tokens[stars] = POWER
    tokens[stars + 1] = _SKIP
    return tokens


def _scatter(tokens: np.ndarray, segment: np.ndarray, count: int, width: int | None) -> np.ndarray:
    """Tokens grouped by ``segment`` (0..count-1, non-decreasing) into rows, each ended
    by EOS and right-padded with PAD to ``width`` (or the longest row + 1)."""
    lengths = np.bincount(segment, minlength=count)
    longest = int(lengths.max(initial=0)) + 1
    width = longest if width is None else width
    if longest > width:
        raise ValueError(f"a sequence of {longest - 1} tokens does not fit {width - 1}")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(len(tokens)) - starts[segment]
    out = np.full((count, width), PAD, dtype=TOKEN_DTYPE)
    out[segment, position] = tokens
    out[np.arange(count), lengths] = EOS
    return out


def _words_ok(tokens: np.ndarray) -> np.ndarray:
    """False where a letter follows a letter: a word that is no function name."""
    letter = (tokens >= LETTER_A) & (tokens < LETTER_A + 26)
    bad = np.zeros(len(tokens), dtype=bool)
    bad[1:] = letter[1:] & letter[:-1]
    return ~bad


def encode(strings: Sequence[str], width: int | None = None) -> np.ndarray:
    """Token ids of ``strings``, one row each, ended by EOS and padded with PAD.

    ``width`` fixes the number of columns (default: the longest string + 1). Raises
    ValueError naming the first string that holds text outside the vocabulary.
    """
    strings = list(strings)
    if not strings:
        return np.zeros((0, width or 1), dtype=TOKEN_DTYPE)
    for index, text in enumerate(strings):
        if "\n" in text or not text.isascii():
            raise ValueError(f"string {index} ({text!r}) is not one line of ASCII text")
    data = np.frombuffer("\n".join(strings).encode("ascii"), dtype=np.uint8)
    tokens = _fold(data)
    row = np.cumsum(tokens == _NEWLINE) if len(tokens) else tokens
    invalid = (tokens == _INVALID) | (tokens == _EQUALS) | ~_words_ok(tokens)
    if invalid.any():
        index = int(row[np.argmax(invalid)])
        raise ValueError(f"string {index} ({strings[index]!r}) holds text outside the vocabulary")
    kept = tokens >= 0
    return _scatter(tokens[kept], row[kept], len(strings), width)


def encode_pairs(text: str, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids of ``factored=expanded`` lines: (inputs, targets, line numbers).

    Blank lines are skipped and spaces ignored. Raises ValueError naming ``source`` and
    the first bad line (no single ``=``, an empty side, or text outside the vocabulary).
    """
    try:
        data = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as error:
        line = text.count("\n", 0, error.start) + 1
        raise ValueError(f"{source}: line {line}: not ASCII text") from None
    tokens = _fold(data)
    newline = tokens == _NEWLINE
    line = np.cumsum(newline) - newline  # 0-based line of each byte
    lines = int(line[-1]) + 1 if len(line) else 0
    equals = tokens == _EQUALS
    content = tokens >= 0
    has_content = np.bincount(line[content], minlength=lines) > 0
    bad = np.bincount(line[(tokens == _INVALID) | ~_words_ok(tokens)], minlength=lines) > 0
    bad |= has_content & (np.bincount(line[equals], minlength=lines) != 1)
    seen = np.cumsum(equals)
    before_line = (seen - equals)[np.searchsorted(line, np.arange(lines))]
    side = seen - before_line[line] > 0  # True after the line's "="
    left = np.bincount(line[content & ~side], minlength=lines)
    right = np.bincount(line[content & side], minlength=lines)
    bad |= has_content & ((left == 0) | (right == 0))
    if bad.any():
        first = int(np.argmax(bad))
        # The line itself is not quoted: data_file may name any readable file, and its
        # content must not reach the terminal, the logs or the store's error column.
        raise ValueError(
            f"{source}: line {first + 1} is not a factored=expanded pair "
            "in the polynomial vocabulary"
        )
    kept_lines = np.flatnonzero(has_content)
    renumber = np.cumsum(has_content) - 1
    count = len(kept_lines)
    inputs = _scatter(tokens[content & ~side], renumber[line[content & ~side]], count, None)
    targets = _scatter(tokens[content & side], renumber[line[content & side]], count, None)
    return inputs, targets, kept_lines + 1


def decode(ids: np.ndarray | Iterable[Iterable[int]]) -> list[str]:
    """The text of each row of token ids, up to its first EOS; PAD is skipped."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim == 1:
        ids = ids[None, :]
    ids = np.where((ids >= 0) & (ids < VOCAB_SIZE), ids, PAD)
    live = np.cumsum(ids == EOS, axis=1) == 0
    words = np.where(live, _DECODE[ids], "")
    return ["".join(row) for row in words]


def sequence_lengths(ids: np.ndarray) -> np.ndarray:
    """Tokens before each row's first EOS (the whole row when it has none)."""
    ended = ids == EOS
    return np.where(ended.any(axis=1), np.argmax(ended, axis=1), ids.shape[1])


def row_counts(mask: np.ndarray) -> np.ndarray:
    """True cells per row of a 2-D boolean array (several times faster than sum(axis=1))."""
    return np.einsum("ij->i", mask.view(np.int8), dtype=np.int64)


def compact(tokens: np.ndarray, width: int) -> np.ndarray:
    """Rows of ``tokens`` with FILL removed, then EOS, right-padded with PAD to ``width``
    (in ``tokens``' dtype)."""
    keep = tokens != FILL
    lengths = row_counts(keep)
    rows = len(tokens)
    if rows and int(lengths.max()) + 1 > width:
        raise ValueError(f"a sequence of {int(lengths.max())} tokens does not fit {width - 1}")
    # Kept tokens in row-major order land on the first ``length`` cells of their row.
    out = np.full((rows, width), PAD, dtype=tokens.dtype)
    out[np.arange(width) < lengths[:, None]] = tokens[keep]
    out[np.arange(rows), lengths] = EOS
    return out
