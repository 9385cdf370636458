"""Points: one fully resolved (task, model, run settings, seed) configuration each.

``seqbench.suite`` builds every point of a suite, validated; an executor hands each to
a worker as ``to_json()`` on its stdin, and the worker rebuilds it with ``from_json``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from seqbench.settings import RunSettings

__all__ = ["Point", "config_hash"]


def config_hash(config: dict[str, Any]) -> str:
    """A stable hash of a configuration: canonical JSON, so key order never matters.

    Strict JSON: a NaN or infinity raises ValueError rather than being hashed as the
    text ``NaN``, which the store (holding null for it) could never match again."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Point:
    suite: str
    task: str
    task_params: dict[str, Any]
    model: str
    model_params: dict[str, Any]
    run: RunSettings
    seed: int
    swept: tuple[str, ...] = field(default=(), compare=False)
    # Task.data_version(): None while the task's data never changed.
    task_data_version: int | None = None

    def config(self) -> dict[str, Any]:
        """What identifies the point; the suite's name is not part of it.

        Unset (None) values are left out, so a setting added to a later seqbench
        version does not change the hash of every point stored before it.
        """
        task: dict[str, Any] = {"name": self.task, "params": _set(self.task_params)}
        if self.task_data_version is not None:
            task["data_version"] = self.task_data_version
        return {
            "task": task,
            "model": {"name": self.model, "params": _set(self.model_params)},
            "run": self.run.config(),
            "seed": self.seed,
        }

    @property
    def hash(self) -> str:
        return config_hash(self.config())

    def value(self, dotted: str) -> Any:
        """The value of ``task.<p>``, ``model.<p>`` or ``run.<setting>`` as the suite
        file writes it (a target as its table); None when unset."""
        section, _, key = dotted.partition(".")
        if section == "run":
            return self.run.as_dict().get(key)
        source = {"task": self.task_params, "model": self.model_params}[section]
        return source.get(key)

    def label(self) -> str:
        """A short human label: task, swept values, model, seed."""
        swept = " ".join(
            f"{key.split('.', 1)[1]}={self.value(key)}"
            for key in self.swept
            if self.value(key) is not None
        )
        parts = [self.task, swept, self.model, f"seed={self.seed}"]
        return " ".join(part for part in parts if part)

    def to_json(self) -> str:
        """The point as a worker reads it on its stdin."""
        data: dict[str, Any] = {
            "suite": self.suite,
            "task": self.task,
            "task_params": self.task_params,
            "model": self.model,
            "model_params": self.model_params,
            "run": self.run.as_dict(),
            "seed": self.seed,
            "swept": list(self.swept),
        }
        # Left out while unset, so a point of a task whose data never changed
        # travels as the same bytes it did before data versions existed.
        if self.task_data_version is not None:
            data["task_data_version"] = self.task_data_version
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Point:
        data = json.loads(text)
        return cls(
            suite=data["suite"],
            task=data["task"],
            task_params=data["task_params"],
            model=data["model"],
            model_params=data["model_params"],
            run=RunSettings.from_dict(data["run"]),
            seed=data["seed"],
            swept=tuple(data.get("swept", ())),
            task_data_version=data.get("task_data_version"),
        )
