"""Reading a suite file safely, and checks on its lists that stay linear: what
``seqbench.suite`` needs before and while it validates, kept apart so that module stays
about suites."""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path
from typing import Any

from seqbench.errors import UserError
from seqbench.input_files import InputFileError, read_regular_file

__all__ = ["read_bytes", "parse_toml", "first_repeated", "NO_REPEAT", "shown", "brief", "MAX_SUITE_BYTES"]

# Suite files are a few kilobytes; a 40,000-value sweep list is under half a megabyte.
MAX_SUITE_BYTES = 4 * 1024 * 1024


def read_bytes(path: Path) -> bytes:
    """The file's bytes: a regular file of at most MAX_SUITE_BYTES. A FIFO, a device
    (``/dev/zero``) or a socket is refused without a blocking read, so reading never
    blocks or runs without end."""
    try:
        return read_regular_file(path, MAX_SUITE_BYTES)
    except InputFileError as error:
        reasons = {
            "missing": "suite file not found",
            "directory": "is a directory, not a suite file",
            "special": "not a regular file (a pipe, device or socket); a suite is a TOML file",
            "too large": f"over {MAX_SUITE_BYTES // (1024 * 1024)} MiB; a suite file is a few kilobytes",
            "unreadable": f"cannot read: {error.detail}",
        }
        raise UserError(f"{path}: {reasons[error.problem]}") from None


# TOML's integers are 64-bit signed ("an integer that cannot be represented losslessly
# must be an error"), but tomllib returns Python ints of any size. Beyond this range no
# setting can be used: NumPy, the frameworks and SQLite all raise OverflowError on it.
INT64 = (-(2**63), 2**63 - 1)
_DATES = (datetime.date, datetime.time)  # datetime.datetime is a date


def parse_toml(path: Path, content: bytes) -> dict[str, Any]:
    """The document, every value one that some setting could hold: no integer outside
    64 bits and no date or time (no setting is one, and a point's configuration is JSON)."""
    try:
        # utf-8-sig: a byte-order mark (which some editors write) is read as none.
        document = tomllib.loads(content.decode("utf-8-sig"))
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: invalid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: cannot read: {error}") from None
    except ValueError as error:  # an integer of over 4,300 digits, which int() itself refuses
        raise UserError(f"{path}: invalid TOML: an integer too long to read ({str(error).split(':')[0]}); "
                        f"allowed: {INT64[0]} to {INT64[1]}") from None
    _check_values(path, document, ())
    return document


def _check_values(path: Path, value: Any, keys: tuple[str, ...]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _check_values(path, inner, (*keys, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value, start=1):
            # [[model]] entries are named by number, as every other message names them.
            _check_values(path, inner, (*keys, f"#{index}") if keys == ("model",) else keys)
    elif isinstance(value, _DATES):
        raise UserError(f"{path}: {_key_name(keys)}: a TOML date or time ({value.isoformat()}), "
                        "which no setting is; expected a number, string, boolean, list or table")
    elif isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        raise UserError(f"{path}: {_key_name(keys)}: {brief(value)} does not fit in 64 bits; "
                        f"allowed: {INT64[0]} to {INT64[1]}")


def _key_name(keys: tuple[str, ...]) -> str:
    """``[task] seq_len``, ``[sweep] task.seq_len``, ``[[model]] hidden``: as messages name keys."""
    if not keys:
        return "(top level)"
    if keys[0] == "model" and len(keys) > 1:
        return f"[[model]] {keys[1]} {'.'.join(keys[2:])}".rstrip()
    return f"[{keys[0]}] {'.'.join(keys[1:])}".rstrip()


NO_REPEAT = object()


def first_repeated(values: list[Any]) -> Any:
    """The first value that equals an earlier one (1 and 1.0 are equal, as in ``==``; a
    boolean equals only a boolean, not 1 or 0 as in Python), or NO_REPEAT; linear time,
    so a 40,000-value list is checked at once."""
    seen: set[Any] = set()
    for value in values:
        key = _hashable(value)
        if key in seen:
            return value
        seen.add(key)
    return NO_REPEAT


def _hashable(value: Any) -> Any:
    if isinstance(value, bool):
        return ("bool", value)  # True == 1 and hash(True) == hash(1): a boolean is no number
    if isinstance(value, list):
        return ("list", tuple(_hashable(item) for item in value))
    if isinstance(value, dict):
        return ("dict", frozenset((key, _hashable(item)) for key, item in value.items()))
    return value


def shown(values: list[Any]) -> str:
    """A list for a message: whole when short, else its start and length."""
    text = repr(values)
    return text if len(text) <= 200 else f"{text[:150]}... ({len(values):,} values)"


BRIEF_CHARACTERS = 120


def brief(value: Any) -> str:
    """``repr(value)`` for a message, cut to its start when long: a suite may hold a
    megabyte string or a 40,000-item list where a number belongs, and the message must
    stay one readable line."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**BRIEF_CHARACTERS:
        return f"an integer of {value.bit_length():,} bits"  # repr refuses past 4,300 digits
    text = repr(value)
    if len(text) <= BRIEF_CHARACTERS:
        return text
    return f"{text[:BRIEF_CHARACTERS - 20]}... ({len(text):,} characters)"
