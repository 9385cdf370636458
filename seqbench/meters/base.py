"""The meter contract and the helper the pipeline uses to drive every meter."""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["Meter", "run_meters"]


class Meter:
    """A measurement back-end registered through ``register_meters``.

    The harness makes one per run with the run's device, asks ``unavailable()``
    once (a reason string means "record why, measure nothing"), then brackets each
    phase with ``start(phase)`` / ``stop(phase)``; ``close()`` always runs last.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, device: str) -> None:
        self.device = device

    def unavailable(self) -> str | None:
        return None

    def start(self, phase: str) -> None:
        pass

    def stop(self, phase: str) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


class run_meters:
    """All usable meters, started and stopped together; results keyed by meter, then phase."""

    def __init__(self, meter_classes: list[type[Meter]], device: str) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.active: list[Meter] = []
        for cls in meter_classes:
            meter = cls(device)
            reason = meter.unavailable()
            if reason:
                self.results[cls.name] = {"unavailable": reason}
                meter.close()
            else:
                self.active.append(meter)
                self.results[cls.name] = {}

    def start(self, phase: str) -> None:
        for meter in self.active:
            meter.start(phase)

    def stop(self, phase: str) -> None:
        for meter in reversed(self.active):
            self.results[meter.name][phase] = meter.stop(phase)

    def close(self) -> None:
        for meter in self.active:
            meter.close()
