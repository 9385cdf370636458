"""TensorFlow as seqbench needs it: known to be there without importing it, imported
without its start-up noise, and asked which device to use.

TensorFlow writes to the process's stderr from C++ while it loads (absl's "before
InitializeLog" lines, CUDA and CPU-feature notices): ``TF_CPP_MIN_LOG_LEVEL`` silences
only some of them, so the import runs with file descriptor 2 pointed at a temporary
file, kept only to explain an import that fails.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import sys
import tempfile
import warnings
from importlib import metadata
from types import ModuleType
from typing import IO, Iterator

__all__ = ["missing_reason", "import_tensorflow", "resolve_device", "DISTRIBUTION"]

DISTRIBUTION = "seqbench-tensorflow"
NOISE_TAIL_CHARS = 2000


@functools.cache
def missing_reason() -> str | None:
    """None when TensorFlow can be found; else the reason and the install command.
    Looks the module up without importing it (an import costs seconds)."""
    try:
        found = importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"TensorFlow is not installed; install it with: pip install '{_requirement()}'"


def _requirement() -> str:
    """This plugin's own TensorFlow requirement, so the advice matches what it needs."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        requirements = []
    for requirement in requirements:
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        if name.lower() == "tensorflow" and ";" not in requirement:
            return requirement.replace(" ", "")
    return "tensorflow"


@contextlib.contextmanager
def _stderr_captured() -> Iterator[IO[bytes]]:
    """File descriptor 2 (C++ writes too, not only Python's sys.stderr) into a file."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield sink
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow() -> ModuleType:
    """``tensorflow``, imported once per process with its start-up noise kept out of
    seqbench's output. A user's own ``TF_CPP_MIN_LOG_LEVEL`` is respected after start-up."""
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _stderr_captured() as captured, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import tensorflow as tf

            # CUDA initialisation prints its own lines (cuInit failures on machines
            # without a driver); memory growth must be set before devices initialise,
            # so TensorFlow takes GPU memory as it needs it, as torch does.
            for gpu in tf.config.list_physical_devices("GPU"):
                with contextlib.suppress(RuntimeError, ValueError):
                    tf.config.experimental.set_memory_growth(gpu, True)
        except Exception as error:
            captured.seek(0)
            noise = captured.read().decode(errors="replace")[-NOISE_TAIL_CHARS:].strip()
            detail = f"; TensorFlow printed:\n{noise}" if noise else ""
            raise ImportError(f"TensorFlow failed to import: {type(error).__name__}: {error}{detail}") from error
    _share_threads(tf)
    tf.get_logger().setLevel("ERROR")
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    return tf


def _share_threads(tf: ModuleType) -> None:
    """Apply the point's thread budget (seqbench.threads; ``run.threads``), else
    OMP_NUM_THREADS, which TensorFlow itself ignores: points running side by side
    (--jobs N) share the cores instead of each starting a thread per core."""
    from seqbench.threads import applied

    threads = applied()
    if threads is None:
        try:
            threads = int(os.environ.get("OMP_NUM_THREADS", ""))
        except ValueError:
            return
    if threads > 0:
        with contextlib.suppress(RuntimeError):  # too late: the runtime already started
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)


def resolve_device(tf: ModuleType, requested: str) -> str:
    """A TensorFlow device name for ``run.device`` (auto | cpu | cuda | cuda:N)."""
    gpus = tf.config.list_physical_devices("GPU")
    if requested == "auto":
        return "/GPU:0" if gpus else "/CPU:0"
    if requested == "cpu":
        return "/CPU:0"
    index = int(requested.partition(":")[2] or 0)
    if not gpus:
        raise RuntimeError(
            f"run.device is {requested!r} but TensorFlow sees no GPU (a pip install needs "
            f"'tensorflow[and-cuda]' for CUDA)"
        )
    if index >= len(gpus):
        raise RuntimeError(f"run.device is {requested!r} but TensorFlow sees only {len(gpus)} GPU(s)")
    return f"/GPU:{index}"
