"""Reading a file a user named (a suite, a task's data file) without letting the name
decide how the read behaves: only a regular file is read, and only up to a limit. A
FIFO would block the read for ever, ``/dev/zero`` would fill memory, a directory or a
socket fails in ways that name nothing.

The check is made on the opened descriptor (``fstat``), not on the name before the
open, so a file swapped for a pipe between a check and the open is refused too; the
open itself does not block (``O_NONBLOCK``: a FIFO with no writer opens at once)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

__all__ = ["read_regular_file", "InputFileError"]

Problem = Literal["missing", "directory", "special", "too large", "unreadable"]


class InputFileError(Exception):
    """Why a named file was not read: ``problem`` for the caller's own wording,
    ``detail`` the system's reason where there is one."""

    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}" if detail else problem)
        self.problem = problem
        self.detail = detail


def read_regular_file(path: Path | str, max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputFileError("missing") from None
    except IsADirectoryError:
        raise InputFileError("directory") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the name
        raise InputFileError("unreadable", getattr(error, "strerror", None) or str(error)) from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise InputFileError("directory" if stat.S_ISDIR(mode) else "special")
    with os.fdopen(descriptor, "rb") as handle:
        try:
            content = handle.read(max_bytes + 1)
        except OSError as error:
            raise InputFileError("unreadable", error.strerror or str(error)) from None
    if len(content) > max_bytes:
        raise InputFileError("too large")
    return content
