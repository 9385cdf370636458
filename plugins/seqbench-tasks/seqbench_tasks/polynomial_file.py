"""Reading ``polynomial``'s ``data_file``: once per content, however many points use it.

A suite's sweep builds the task once per point while it validates, and again in each
worker; parsing a million-line file each time made validation cost the grid's size
times the file's. The parsed arrays are kept for the few most recent contents (keyed
by the bytes' SHA-256, so an edited file is parsed anew) and handed out read-only.

The file is read as the suite is (``seqbench.input_files``): a regular file only (a
FIFO would block validation for ever, ``/dev/zero`` would fill memory), of at most
``MAX_DATA_FILE_BYTES``."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from seqbench.input_files import InputFileError, read_regular_file
from seqbench_tasks.polynomial_tokens import encode_pairs

__all__ = ["DataFile", "read_data_file", "MAX_DATA_FILE_BYTES"]

# The original's train.txt, 1,000,000 lines, is about 70 MB.
MAX_DATA_FILE_BYTES = 1024 * 1024 * 1024
_KEPT = 4
_parsed: "OrderedDict[bytes, DataFile]" = OrderedDict()


@dataclass(frozen=True)
class DataFile:
    inputs: np.ndarray
    targets: np.ndarray
    # The first 48 bits of the content's SHA-256: the task's data version, so a point
    # made from other lines (the file edited, or another file at the same path) is
    # another point. 48 bits stay exact in JSON, SQLite and float64.
    fingerprint: int


def read_data_file(data_file: str) -> DataFile:
    """The file's ``factored=expanded`` lines as token ids; ValueError naming
    ``data_file`` and what is allowed when it cannot be read or parsed."""
    try:
        content = read_regular_file(data_file, MAX_DATA_FILE_BYTES)
    except InputFileError as error:
        reasons = {
            "missing": "no such file (a relative path is read from the folder seqbench runs in)",
            "directory": "is a directory; allowed: a text file of factored=expanded lines",
            "special": "not a regular file (a pipe, device or socket); allowed: a text file of factored=expanded lines",
            "too large": f"over {MAX_DATA_FILE_BYTES // (1024 * 1024)} MiB",
            "unreadable": error.detail,
        }
        raise ValueError(f"data_file: cannot read {data_file!r}: {reasons[error.problem]}") from None
    digest = hashlib.sha256(content).digest()
    if digest in _parsed:
        _parsed.move_to_end(digest)
        return _parsed[digest]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"data_file: cannot read {data_file!r}: {error}") from None
    inputs, targets, _ = encode_pairs(text, f"data_file {data_file!r}")
    inputs.flags.writeable = False
    targets.flags.writeable = False
    parsed = DataFile(inputs, targets, int.from_bytes(digest[:6], "big"))
    _parsed[digest] = parsed
    while len(_parsed) > _KEPT:
        _parsed.popitem(last=False)
    return parsed
