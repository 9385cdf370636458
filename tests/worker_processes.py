"""Finding seqbench worker processes through /proc (shared by the kill and failure tests)."""

from __future__ import annotations

from pathlib import Path


def live_workers(marker: str) -> list[int]:
    """Pids of running (not zombie) ``seqbench.worker`` processes naming ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and "seqbench.worker" in argv and any(marker in arg for arg in argv):
            pids.append(int(entry.name))
    return pids
