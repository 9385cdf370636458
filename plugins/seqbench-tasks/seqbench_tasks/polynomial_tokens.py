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

import math
import string
from typing import Iterable, NamedTuple, Sequence

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
# A data file is tokenised a slice of whole lines at a time: the work arrays (token ids,
# line numbers, masks: some 50 bytes for each byte of text) then take a slice's size,
# not the file's (a 64 MB file took 3.2 GB to validate when tokenised in one piece).
_SLICE_BYTES = 4 * 1024 * 1024
_DECODE = np.array(["", ""] + list(VOCAB[2:]), dtype=object)


def _fold(data: np.ndarray) -> np.ndarray:
    """Token ids for ``data`` (bytes), with function names and ``**`` folded into one
    token: the first byte carries the token, the others become _SKIP."""
    tokens = _BYTE_TOKEN[data]
    for offset, name in enumerate(FUNCTIONS):
        pattern = name.encode() + b"("
        # Compared at the few places its first letter is (a 4-byte window compared
        # everywhere made this most of a data file's parse).
        starts = np.flatnonzero(data[: max(len(data) - len(pattern) + 1, 0)] == pattern[0])
        for index in range(1, len(pattern)):
            starts = starts[data[starts + index] == pattern[index]]
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
    out = np.full((count, width), PAD, dtype=TOKEN_DTYPE)
    _place(out, 0, tokens, lengths)
    return out


def _place(out: np.ndarray, first_row: int, tokens: np.ndarray, lengths: np.ndarray) -> None:
    """Write rows ``first_row``.. of ``out``: ``tokens`` cut into ``lengths``, each then EOS."""
    lengths = lengths.astype(np.int64)  # stored narrow; unsigned arithmetic would give floats
    rows = np.arange(first_row, first_row + len(lengths))
    starts = np.cumsum(lengths) - lengths
    out[np.repeat(rows, lengths), np.arange(len(tokens)) - np.repeat(starts, lengths)] = tokens
    out[rows, lengths] = EOS


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


class _Side(NamedTuple):
    """One side (inputs or targets) of a slice's pairs, unpadded."""

    tokens: np.ndarray  # end to end, int8: every id fits (VOCAB_SIZE < 128)
    lengths: np.ndarray  # a row's token count, as narrow as the line limit allows
    longest_line: int  # the 1-based line of the longest row; 0 when there is none


def encode_pairs(
    content: bytes | memoryview, source: str, max_line_bytes: int, max_array_bytes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of ``factored=expanded`` lines: (inputs, targets), each padded to its
    longest row.

    Blank lines are skipped and spaces ignored. Raises ValueError naming ``source`` and
    the first bad line (over ``max_line_bytes`` bytes, not ASCII, no single ``=``, an
    empty side, or text outside the vocabulary), or the limit when the two padded
    arrays would take over ``max_array_bytes``: one long line among many short ones
    pads them all to its length.
    """
    data = np.frombuffer(content, dtype=np.uint8)
    slice_bytes = max(_SLICE_BYTES, max_line_bytes + 2)
    slices: list[tuple[_Side, _Side]] = []
    start = first_line = 0
    while start < len(data):
        window = data[start : start + slice_bytes]
        if start + len(window) < len(data):
            newlines = np.flatnonzero(window == ord("\n"))
            if not len(newlines):  # a whole slice without a line end
                raise ValueError(_too_long(source, first_line + 1, max_line_bytes))
            window = window[: int(newlines[-1]) + 1]
        pairs, lines = _slice_pairs(window, source, first_line, max_line_bytes)
        slices.append(pairs)
        start += len(window)
        first_line += lines
    return _padded(slices, source, max_array_bytes)


def _tokens(count: int) -> str:
    return f"{count:,} token{'' if count == 1 else 's'}"


def _too_long(source: str, line: int, max_line_bytes: int) -> str:
    limit = f"{max_line_bytes:,}"
    return f"{source}: line {line} is longer than {limit} bytes; allowed: at most {limit}"


def _slice_pairs(
    data: np.ndarray, source: str, first_line: int, max_line_bytes: int
) -> tuple[tuple[_Side, _Side], int]:
    """The pairs of ``data``, whole lines from line ``first_line + 1`` on, and its line count."""
    tokens = _fold(data)
    newline = tokens == _NEWLINE
    line = np.cumsum(newline) - newline  # 0-based line of each byte
    lines = int(line[-1]) + 1 if len(line) else 0
    equals = tokens == _EQUALS
    content = tokens >= 0
    has_content = np.bincount(line[content], minlength=lines) > 0
    # A line's bytes without its ending: \r\n and \n count alike.
    too_long = np.bincount(line[~newline & (data != ord("\r"))], minlength=lines) > max_line_bytes
    not_ascii = np.bincount(line[data >= 0x80], minlength=lines) > 0
    bad = np.bincount(line[(tokens == _INVALID) | ~_words_ok(tokens)], minlength=lines) > 0
    bad |= has_content & (np.bincount(line[equals], minlength=lines) != 1)
    seen = np.cumsum(equals)
    before_line = (seen - equals)[np.searchsorted(line, np.arange(lines))]
    side = seen - before_line[line] > 0  # True after the line's "="
    left = np.bincount(line[content & ~side], minlength=lines)
    right = np.bincount(line[content & side], minlength=lines)
    bad |= has_content & ((left == 0) | (right == 0))
    if (bad | too_long | not_ascii).any():
        first = int(np.argmax(bad | too_long | not_ascii))
        number = first_line + first + 1
        if too_long[first]:
            raise ValueError(_too_long(source, number, max_line_bytes))
        # The line itself is not quoted: data_file may name any readable file, and its
        # content must not reach the terminal, the logs or the store's error column.
        if not_ascii[first]:
            raise ValueError(f"{source}: line {number}: not ASCII text")
        raise ValueError(
            f"{source}: line {number} is not a factored=expanded pair in the polynomial vocabulary"
        )
    kept = np.flatnonzero(has_content)
    sides = []
    for mask, lengths in ((content & ~side, left[kept]), (content & side, right[kept])):
        longest = first_line + int(kept[np.argmax(lengths)]) + 1 if len(kept) else 0
        narrow = lengths.astype(np.min_scalar_type(max_line_bytes))  # 2 bytes a line, not 8
        sides.append(_Side(tokens[mask].astype(np.int8), narrow, longest))
    return (sides[0], sides[1]), lines


def _padded(
    slices: list[tuple[_Side, _Side]], source: str, max_array_bytes: int
) -> tuple[np.ndarray, np.ndarray]:
    """The slices' inputs and targets, each padded to its longest row: refused, naming
    the longest rows' lines, when both together would take over ``max_array_bytes``."""
    count = sum(len(inputs.lengths) for inputs, _ in slices)
    longest = [_longest([pairs[index] for pairs in slices]) for index in (0, 1)]
    size = count * sum(tokens + 1 for tokens, _ in longest) * np.dtype(TOKEN_DTYPE).itemsize
    if size > max_array_bytes:
        (input_tokens, input_line), (target_tokens, target_line) = longest
        raise ValueError(
            f"{source}: its {count:,} pairs padded to the longest input (line {input_line}: "
            f"{_tokens(input_tokens)}) and target (line {target_line}: {_tokens(target_tokens)}) "
            f"would take {math.ceil(size / 2**20):,} MiB; allowed: at most {max_array_bytes / 2**20:,g} MiB "
            "(move the longest lines to a file of their own, or split the file)"
        )
    arrays = [np.full((count, tokens + 1), PAD, dtype=TOKEN_DTYPE) for tokens, _ in longest]
    row = 0
    for pairs in slices:
        for out, part in zip(arrays, pairs):
            _place(out, row, part.tokens, part.lengths)
        row += len(pairs[0].lengths)
    return arrays[0], arrays[1]


def _longest(sides: list[_Side]) -> tuple[int, int]:
    """The longest row's token count and line among ``sides`` ((0, 0) when none)."""
    best = max(sides, key=lambda side: int(side.lengths.max(initial=0)), default=None)
    return (int(best.lengths.max(initial=0)), best.longest_line) if best is not None else (0, 0)


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
