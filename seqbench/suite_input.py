"""Reading a suite file safely, and checks on its lists that stay linear: what
``seqbench.suite`` needs before and while it validates, kept apart so that module stays
about suites."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path
from typing import Any

from seqbench.errors import UserError

__all__ = ["read_bytes", "parse_toml", "first_repeated", "NO_REPEAT", "shown", "MAX_SUITE_BYTES"]

# Suite files are a few kilobytes; a 40,000-value sweep list is under half a megabyte.
MAX_SUITE_BYTES = 4 * 1024 * 1024


def read_bytes(path: Path) -> bytes:
    """The file's bytes: a regular file of at most MAX_SUITE_BYTES. A FIFO, a device
    (``/dev/zero``) or a socket is refused before it is opened, so reading never blocks
    or runs without end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UserError(f"{path}: suite file not found") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read: {error}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{path}: is a directory, not a suite file")
    if not stat.S_ISREG(mode):
        raise UserError(f"{path}: not a regular file (a pipe, device or socket); a suite is a TOML file")
    try:
        with path.open("rb") as handle:
            content = handle.read(MAX_SUITE_BYTES + 1)
    except OSError as error:
        raise UserError(f"{path}: cannot read: {error}") from None
    if len(content) > MAX_SUITE_BYTES:
        raise UserError(f"{path}: over {MAX_SUITE_BYTES // (1024 * 1024)} MiB; a suite file is a few kilobytes")
    return content


def parse_toml(path: Path, content: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(content.decode("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: invalid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: cannot read: {error}") from None


NO_REPEAT = object()


def first_repeated(values: list[Any]) -> Any:
    """The first value that equals an earlier one (1 and 1.0 are equal, as in ``==``), or
    NO_REPEAT; linear time, so a 40,000-value list is checked at once."""
    seen: set[Any] = set()
    for value in values:
        key = _hashable(value)
        if key in seen:
            return value
        seen.add(key)
    return NO_REPEAT


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return ("list", tuple(_hashable(item) for item in value))
    if isinstance(value, dict):
        return ("dict", frozenset((key, _hashable(item)) for key, item in value.items()))
    return value


def shown(values: list[Any]) -> str:
    """A list for a message: whole when short, else its start and length."""
    text = repr(values)
    return text if len(text) <= 200 else f"{text[:150]}... ({len(values):,} values)"
