"""Another Python process to unpickle tasks and models in, as a worker or a data loader would.

The child runs with a different ``PYTHONHASHSEED``, so a task that leans on Python's
``hash()`` of strings, or on state pickling loses, gives itself away. Requests and
answers are length-prefixed pickles over the child's stdin and stdout.

The other process runs ``python -m seqbench.testing.child_main``.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from typing import IO, Any

import numpy as np

__all__ = ["OtherProcess", "ChildError", "send", "receive"]

_LENGTH = struct.Struct("<Q")


class ChildError(Exception):
    """The object could not be used in the other process; the message says why."""


def send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        raise EOFError
    (length,) = _LENGTH.unpack(header)
    return pickle.loads(stream.read(length))


def _other_hash_seed() -> str:
    mine = os.environ.get("PYTHONHASHSEED", "")
    return str(int(mine) + 1) if mine.isdigit() else "12345"


class OtherProcess:
    """A fresh interpreter that unpickles objects sent to it and reports what it sees.

    Use as a context manager; ``generate`` and ``hyper_parameters`` take objects in
    this process and answer what their unpickled copies do in the other one.
    """

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONHASHSEED": _other_hash_seed()}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "seqbench.testing.child_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def __enter__(self) -> "OtherProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def _ask(self, action: str, blob: bytes, *args: Any) -> Any:
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            send(self._process.stdin, (action, blob, args))
            status, answer = receive(self._process.stdout)
        except (BrokenPipeError, EOFError):
            code = self._process.wait()
            raise ChildError(f"the other process died (exit code {code}) while unpickling it") from None
        if status == "error":
            raise ChildError(answer)
        return answer

    def generate(self, blob: bytes, count: int, seed: int, split: str) -> tuple[np.ndarray, ...]:
        """Inputs, targets and solve(inputs) from the unpickled task ``blob``."""
        return self._ask("generate", blob, count, seed, split)

    def hyper_parameters(self, blob: bytes) -> tuple[str, dict[str, Any]]:
        """The class (module:qualname) and hyper-parameters of the unpickled model ``blob``."""
        return self._ask("hyper_parameters", blob)
