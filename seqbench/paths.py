"""File and folder names made from data: suite, model and metric names, swept values,
point hashes read from a store. A store or a suite file is input like any other, so a
name taken from one must never leave the folder it is written under (``../x``, an
absolute path), nor fail the write (``/``, NUL, a name longer than the file system
allows). Every path seqbench derives from data goes through ``safe_name``."""

from __future__ import annotations

import hashlib
import re

__all__ = ["safe_name", "MAX_NAME_BYTES"]

# File systems allow 255 bytes a name; callers add a prefix or suffix of their own
# (``.png``, ``events.out.tfevents.0.seqbench-``), so names are kept well below that.
MAX_NAME_BYTES = 150
_UNSAFE = re.compile(r"[^\w.=,+-]+")


def safe_name(text: object) -> str:
    """One path component for ``text``: letters, digits and ``_ . = , + -`` kept, every
    other run of characters (``/``, ``\\``, NUL, spaces, control characters) replaced by
    ``_``; never empty, ``.`` or ``..``; at most ``MAX_NAME_BYTES`` bytes in UTF-8 (a long
    name is cut and ends with a hash of the whole, so distinct long names stay distinct)."""
    original = str(text)
    name = _UNSAFE.sub("_", original).strip("_")
    if not name.strip("."):
        name = "_" + name.replace(".", "_")
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        head = encoded[: MAX_NAME_BYTES - len(digest) - 1].decode("utf-8", "ignore")
        name = f"{head}-{digest}"
    return name
