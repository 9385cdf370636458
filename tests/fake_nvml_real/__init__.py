"""Switching a test onto the second fake ``pynvml`` in this directory (see ``pynvml.py``:
written from nvidia-ml-py's own source, independently of tests/fake_nvml)."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

SIM_DIR = Path(__file__).resolve().parent

__all__ = ["SIM_DIR", "use_sim_nvml"]


@contextlib.contextmanager
def use_sim_nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Put this fake first on sys.path and PYTHONPATH (worker processes import it too);
    yields ``configure(*gpus, **top)``, which sets ``NVML_SIM`` (with ``t0`` now) and
    returns the freshly imported fake module."""
    saved = sys.modules.pop("pynvml", None)
    monkeypatch.syspath_prepend(str(SIM_DIR))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(SIM_DIR), os.environ.get("PYTHONPATH")])))
    importlib.invalidate_caches()

    def configure(*gpus: dict, **top: object) -> Any:
        monkeypatch.setenv("NVML_SIM", json.dumps({"t0": time.time(), **top, "gpus": list(gpus)}))
        sys.modules.pop("pynvml", None)
        import pynvml

        assert Path(pynvml.__file__).parent == SIM_DIR
        return pynvml

    try:
        yield configure
    finally:
        sys.modules.pop("pynvml", None)
        if saved is not None:
            sys.modules["pynvml"] = saved
