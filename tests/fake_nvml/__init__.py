"""Switching a test onto the fake ``pynvml`` in this directory (see ``pynvml.py``), or
making sure it sees the real one."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

FAKE_DIR = Path(__file__).resolve().parent

__all__ = ["FAKE_DIR", "use_fake_nvml", "use_real_nvml"]


@contextlib.contextmanager
def use_fake_nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., object]]:
    """Put the fake first on sys.path and on PYTHONPATH (so worker processes import it
    too); yields ``configure(*gpus, **top)``, which sets ``FAKE_NVML`` and returns the
    fake module."""
    saved = sys.modules.pop("pynvml", None)
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(FAKE_DIR), os.environ.get("PYTHONPATH")]))
    )
    importlib.invalidate_caches()

    def configure(*gpus: dict, **top: object):
        monkeypatch.setenv("FAKE_NVML", json.dumps({**top, "gpus": list(gpus)}))
        import pynvml

        assert Path(pynvml.__file__).parent == FAKE_DIR
        return pynvml

    try:
        yield configure
    finally:
        sys.modules.pop("pynvml", None)
        if saved is not None:
            sys.modules["pynvml"] = saved


@contextlib.contextmanager
def use_real_nvml() -> Iterator[object]:
    """The installed nvidia-ml-py, whatever an earlier test imported."""
    saved = sys.modules.get("pynvml")
    if saved is not None and Path(saved.__file__).parent == FAKE_DIR:
        del sys.modules["pynvml"]
    import pynvml

    assert Path(pynvml.__file__).parent != FAKE_DIR
    try:
        yield pynvml
    finally:
        if saved is not None:
            sys.modules["pynvml"] = saved
