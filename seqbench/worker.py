"""``python -m seqbench.worker RESULT_PATH``: run one point (JSON on stdin) in this fresh
process and write its record (JSON) to RESULT_PATH.

The record is written to a temporary name and renamed, so the parent sees either a
whole record or none (a process that died). After each epoch the worker writes the
epoch's progress (``seqbench.pipeline.run_point``'s ``on_epoch``) to
``RESULT_PATH.progress`` the same way, for the parent's progress display.
"""

from __future__ import annotations

import time

_PROCESS_STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from seqbench.record import EpochProgress


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m seqbench.worker RESULT_PATH < point.json", file=sys.stderr)
        return 2
    result_path = argv[0]
    text = sys.stdin.read()
    # Before NumPy, torch or TensorFlow load: their thread pools read the environment once.
    from seqbench.threads import prepare_worker

    prepare_worker(json.loads(text).get("run", {}))
    from seqbench.pipeline import run_point
    from seqbench.point import Point

    point = Point.from_json(text)
    record = run_point(
        point, process_started=_PROCESS_STARTED, on_epoch=lambda progress: _report(progress, result_path)
    )
    _write_text(record.to_json(), result_path)
    return 0


def _write_text(text: str, path: str) -> None:
    temporary = f"{path}.partial"
    with open(temporary, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def progress_path(result_path: str) -> str:
    """Where the worker writing ``result_path`` leaves its latest epoch's progress."""
    return f"{result_path}.progress"


def _report(progress: EpochProgress, result_path: str) -> None:
    try:
        _write_text(json.dumps(progress), progress_path(result_path))
    except OSError:
        pass  # progress is for display only; the point carries on without it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
