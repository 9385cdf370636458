"""File and folder names made from data: suite, model and metric names, swept values,
point hashes read from a store. A store or a suite file is input like any other, so a
name taken from one must never leave the folder it is written under (``../x``, an
absolute path), nor fail the write (``/``, NUL, a name longer than the file system
allows). Every path seqbench derives from data goes through ``safe_name``; every
file and folder a report writes under its output folder, through ``own_file`` and
``own_folders`` (a symbolic link already there is replaced, not followed)."""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

__all__ = ["safe_name", "distinct_safe_names", "MAX_NAME_BYTES", "own_file", "own_folders", "working_folder"]

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


def distinct_safe_names(texts: Iterable[object]) -> dict[str, str]:
    """``safe_name`` of each text, as ``{str(text): name}``, with a hash of the text added
    to the names two texts would share: "x y" and "x/y" are both ``x_y``, and sibling
    folders of one name had the second suite's figures overwrite the first's. Names are
    compared case-insensitively: on macOS and Windows "A" and "a" are one folder."""
    originals = list(dict.fromkeys(str(text) for text in texts))
    names = {text: safe_name(text) for text in originals}
    counts = Counter(name.casefold() for name in names.values())
    for text, name in names.items():
        if counts[name.casefold()] > 1:
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
            names[text] = safe_name(f"{name}-{digest}")  # past MAX_NAME_BYTES: cut, still distinct
    return names


def own_file(path: Path) -> Path:
    """``path``, about to be written, with a symbolic link there removed first: a link
    planted in an output folder (``report.md -> ~/.bashrc``) is replaced by the file,
    never followed out of the folder the user named."""
    if path.is_symlink():
        path.unlink()
    return path


def own_folders(root: Path, relative: Path | str) -> Path:
    """``root / relative`` made folder by folder, each a folder of its own: a symbolic
    link in the way (``out/suite -> /etc``) is removed first, so nothing is written
    through it. ``root`` itself, the folder the user named, is taken as it is."""
    folder = root
    for part in Path(relative).parts:
        folder = own_file(folder / part)
        folder.mkdir(exist_ok=True)
    return folder


def working_folder() -> Path | None:
    """The process's working folder; None when it was deleted under the process (its
    path then names nothing)."""
    try:
        return Path(os.getcwd())
    except OSError:
        return None
