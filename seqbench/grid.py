"""Points: one fully resolved (task, model, run settings, seed) configuration each."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Point", "config_hash"]


def config_hash(config: dict[str, Any]) -> str:
    """A stable hash of a configuration: canonical JSON, so key order never matters."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
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
    run: dict[str, Any]
    seed: int
    swept: tuple[str, ...] = field(default=(), compare=False)

    def config(self) -> dict[str, Any]:
        """What identifies the point; the suite's name is not part of it.

        Unset (None) values are left out, so a setting added to a later seqbench
        version does not change the hash of every point stored before it.
        """
        return {
            "task": {"name": self.task, "params": _set(self.task_params)},
            "model": {"name": self.model, "params": _set(self.model_params)},
            "run": _set(self.run),
            "seed": self.seed,
        }

    @property
    def hash(self) -> str:
        return config_hash(self.config())

    def value(self, dotted: str) -> Any:
        section, _, key = dotted.partition(".")
        source = {"task": self.task_params, "model": self.model_params, "run": self.run}[section]
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
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Point":
        data = json.loads(text)
        data["swept"] = tuple(data.get("swept", ()))
        return cls(**data)
