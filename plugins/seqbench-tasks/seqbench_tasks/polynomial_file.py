"""Reading ``polynomial``'s ``data_file``: once per content, however many points use it.

A suite's sweep builds the task once per point while it validates, and again in each
worker; parsing a million-line file each time made validation cost the grid's size
times the file's. The parsed arrays are kept for the few most recent contents (keyed
by the bytes' SHA-256, so an edited file is parsed anew) and handed out read-only,
with each line's split, hashed once. An unchanged file is not even read again (see
``_unchanged``).

The file is read as the suite is (``seqbench.input_files``): a regular file only (a
FIFO would block validation for ever, ``/dev/zero`` would fill memory), of at most
``MAX_DATA_FILE_BYTES``, with lines of at most ``MAX_LINE_BYTES``, whose padded token
arrays take at most ``MAX_TOKEN_ARRAY_BYTES``: together they bound the memory a file
takes to validate (``plugins/seqbench-tasks/README.md`` gives the figures)."""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from seqbench.input_files import InputFileError, read_regular_file
from seqbench_tasks.polynomial_draw import split_of
from seqbench_tasks.polynomial_tokens import encode_pairs

__all__ = ["DataFile", "read_data_file", "MAX_DATA_FILE_BYTES", "MAX_LINE_BYTES", "MAX_TOKEN_ARRAY_BYTES"]

# The original's train.txt is 1,000,000 lines of at most 58 bytes (under 60 MB); this
# is over four times that. Validating a file this size takes about 1.5 GB (README).
MAX_DATA_FILE_BYTES = 256 * 1024 * 1024
# The task's own generator writes lines of at most 564 bytes: at factors = 12 with the
# largest numbers 64-bit coefficients allow (max_coefficient and max_constant 20 and
# 23), its longest texts are 167 + 336 tokens, plus 2 bytes a sin/cos/tan and 1 a "**"
# (515 seen in 150,000 draws; the original's longest is 58). Without a limit one long
# line padded every other line to its length: one 4 MB line among 325 asked for 9.7 GiB.
MAX_LINE_BYTES = 1024
# Lines are padded to the longest, so even short lines can multiply: 64 million
# 4-byte lines padded to an input and a target of 1,022 tokens would take 256 GiB. A
# file of the original's lines at MAX_DATA_FILE_BYTES takes 0.82 GiB.
MAX_TOKEN_ARRAY_BYTES = 1024 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_KEPT = 4
_parsed: "OrderedDict[bytes, DataFile]" = OrderedDict()
# Rows hashed for the splits at a time: split_of widens each cell to 64 bits.
_SPLIT_BLOCK_CELLS = 4 * 1024 * 1024


@dataclass(frozen=True)
class DataFile:
    inputs: np.ndarray
    targets: np.ndarray
    # The first 48 bits of the content's SHA-256: the task's data version, so a point
    # made from other lines (the file edited, or another file at the same path) is
    # another point. 48 bits stay exact in JSON, SQLite and float64.
    fingerprint: int

    @cached_property
    def splits(self) -> np.ndarray:
        """Each line's split (an index into ``seqbench.data.SPLITS``), by a hash of its
        input: hashed once per content, not once per task built (0.8 s a build for a
        64 MB file), a block of rows at a time."""
        rows = max(1, _SPLIT_BLOCK_CELLS // self.inputs.shape[1])
        owner = np.concatenate(  # a byte a line: a file may have 64 million
            [
                split_of(self.inputs[start : start + rows]).astype(np.int8)
                for start in range(0, max(len(self.inputs), 1), rows)
            ]
        )
        owner.flags.writeable = False
        return owner


def read_data_file(data_file: str) -> DataFile:
    """The file's ``factored=expanded`` lines as token ids; ValueError naming
    ``data_file`` and what is allowed when it cannot be read or parsed."""
    # Absolute (the working directory may change between reads) but not normalised:
    # abspath would take link/../x as x beside the link, not the x the system opens.
    path = os.path.join(os.getcwd(), data_file)
    signature = _signature(path)
    known = _unchanged.get((path, signature)) if signature else None
    if known is not None and known in _parsed:
        _parsed.move_to_end(known)
        return _parsed[known]
    started = time.time_ns()
    content = _read(path, data_file)
    # A UTF-8 byte-order mark (which some editors write) says how the text is encoded,
    # not what it says: it is skipped, and left out of the fingerprint, so saving the
    # same lines with or without one keeps the data version and the points made.
    body = memoryview(content)[len(_BOM) :] if content.startswith(_BOM) else memoryview(content)
    digest = hashlib.sha256(body).digest()
    if signature and _signature(path) == signature and signature.ctime_ns < started - _TIMESTAMP_SLACK_NS:
        _unchanged[(path, signature)] = digest
        while len(_unchanged) > _KEPT_SIGNATURES:
            _unchanged.popitem(last=False)
    if digest in _parsed:
        _parsed.move_to_end(digest)
        return _parsed[digest]
    parsed = _parse(body, data_file, digest)
    _parsed[digest] = parsed
    # Keep the newest whatever its size, older ones only while all fit the array limit.
    while len(_parsed) > _KEPT or (len(_parsed) > 1 and _kept_bytes() > MAX_TOKEN_ARRAY_BYTES):
        _parsed.popitem(last=False)
    return parsed


def _read(path: str, data_file: str) -> bytes:
    try:
        return read_regular_file(path, MAX_DATA_FILE_BYTES)
    except InputFileError as error:
        reasons = {
            "missing": "no such file (a relative path is read from the folder seqbench runs in)",
            "directory": "is a directory; allowed: a text file of factored=expanded lines",
            "special": "not a regular file (a pipe, device or socket); allowed: a text file of factored=expanded lines",
            "too large": f"over {MAX_DATA_FILE_BYTES // (1024 * 1024)} MiB; allowed: at most that",
            "unreadable": error.detail,
        }
        raise ValueError(f"data_file: cannot read {data_file!r}: {reasons[error.problem]}") from None


def _parse(body: memoryview, data_file: str, digest: bytes) -> DataFile:
    inputs, targets = encode_pairs(body, f"data_file {data_file!r}", MAX_LINE_BYTES, MAX_TOKEN_ARRAY_BYTES)
    inputs.flags.writeable = False
    targets.flags.writeable = False
    return DataFile(inputs, targets, int.from_bytes(digest[:6], "big"))


def _kept_bytes() -> int:
    return sum(kept.inputs.nbytes + kept.targets.nbytes for kept in _parsed.values())


class _Signature(NamedTuple):
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


# A file already read is not read (nor hashed) again while its stat signature stays
# the same: the same inode of the same device, of the same size, modified and changed
# at the same moments (a 64 MB file took 0.1 s a read, once per point validated).
# Safe enough because the kernel sets st_ctime to the present on every write, rename
# or truncation and nobody can set it back (touch and cp -p set st_mtime only), and a
# replacement by rename is another inode. Two cases could still slip by, so a
# signature is only kept (1) when the file did not change while it was read (the
# signature before and after agree) and (2) when its st_ctime is older than the read
# by more than the timestamps' coarseness: the kernel stamps from a clock up to a tick
# behind time.time_ns() and some filesystems keep whole or even seconds (ext3, FAT),
# so a write in the same tick as an earlier one would leave st_ctime unchanged. What it
# cannot see: a filesystem whose times come from a server clock skewed by more than
# the slack (NFS, SMB) and a rewrite of the same size within it, or writes to the raw
# device. The cache is per process: each point's worker (python -m seqbench.worker)
# reads the file afresh.
_TIMESTAMP_SLACK_NS = 3_000_000_000
_KEPT_SIGNATURES = 64
_unchanged: "OrderedDict[tuple[str, _Signature], bytes]" = OrderedDict()


def _signature(path: str) -> _Signature | None:
    try:
        status = os.stat(path)
    except (OSError, ValueError):  # read_regular_file says why, in its words
        return None
    return _Signature(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
