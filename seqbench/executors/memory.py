"""Telling an out-of-memory kill from any other SIGKILL of a worker.

The kernel's OOM killer ends a process with SIGKILL and leaves it no chance to say
why; all the parent sees is the signal. Two things tell it apart: the memory cgroup's
``oom_kill`` counter (cgroup v2 ``memory.events``, v1 ``memory.oom_control``) went up
while the worker ran, or the worker's peak resident memory (``ru_maxrss``, exact, from
``wait4``) came near the memory it could have (the cgroup's limit, or the machine's
memory where there is none).

``ru_maxrss`` from ``wait4`` is never below the RSS the parent had when it spawned the
worker (Linux keeps it across fork and exec). ``seqbench run``'s own is tens of MiB, so
the figure is the worker's; a large process that drives seqbench as a library can
overstate it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["oom_kills", "memory_limit", "describe_sigkill", "NEAR_LIMIT"]

NEAR_LIMIT = 0.8  # a peak at this share of the limit or above counts as "near" it
_UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a huge number near 2^63
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_dirs() -> list[Path]:
    """This process's memory cgroup folders, most specific first (v2, then v1)."""
    found: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        relative = path.lstrip("/")
        if controllers == "":  # v2: one unified hierarchy
            found += [_CGROUP_ROOT / relative, _CGROUP_ROOT]
        elif "memory" in controllers.split(","):
            found += [_CGROUP_ROOT / "memory" / relative, _CGROUP_ROOT / "memory"]
    return [folder for folder in dict.fromkeys(found) if folder.is_dir()]


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def oom_kills() -> int | None:
    """How many processes the OOM killer has ended in this memory cgroup; None when
    the counter cannot be read."""
    for folder in _cgroup_dirs():
        for name in ("memory.events", "memory.oom_control"):
            text = _read(folder / name)
            for line in (text or "").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value)
    return None


def memory_limit() -> int | None:
    """Bytes of memory a worker may use: the tightest of the memory cgroup's limit and
    the machine's memory; None when neither can be read."""
    limits: list[int] = []
    for folder in _cgroup_dirs():
        for name in ("memory.max", "memory.limit_in_bytes"):
            text = (_read(folder / name) or "").strip()
            if text.isdigit() and int(text) < _UNLIMITED:
                limits.append(int(text))
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                limits.append(int(fields[1]) * 1024)
    return min(limits) if limits else None


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def describe_sigkill(peak_rss: int | None, kills_before: int | None,
                     limit: int | None = None) -> str:
    """How a worker ended by SIGKILL is described: as likely out of memory when the
    OOM killer acted meanwhile or its peak RSS (bytes) came near ``limit``
    (``memory_limit()`` unless given)."""
    limit = memory_limit() if limit is None else limit
    kills_after = oom_kills()
    killer = kills_before is not None and kills_after is not None and kills_after > kills_before
    near = peak_rss is not None and limit is not None and peak_rss >= NEAR_LIMIT * limit
    if not (killer or near):
        return "killed by signal SIGKILL"
    peak = f"peak RSS {_mib(peak_rss)}" if peak_rss else "peak RSS unknown"
    details = [peak + (f" of a {_mib(limit)} limit" if limit else "")]
    if killer:
        details.append("the kernel's OOM killer acted")
    return f"killed by SIGKILL — likely out of memory ({'; '.join(details)})"
