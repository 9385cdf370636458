"""Names the summary page and the figures share: a swept column's short name, which
model is an oracle, what the oracle's line is called."""

from __future__ import annotations

__all__ = ["axis_name", "is_oracle", "floor_label"]


def axis_name(column: str) -> str:
    """``task.seq_len`` -> ``seq_len``."""
    return column.split(".", 1)[1]


def is_oracle(model: str) -> bool:
    return model == "oracle" or model.endswith(":oracle")


def floor_label(direction: str) -> str:
    """The oracle bounds the metric from below when lower is better, else from above."""
    return "floor" if direction == "min" else "ceiling"
