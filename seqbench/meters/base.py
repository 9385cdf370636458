"""The meter contract, and ``MeterSet``, which the pipeline uses to drive every meter."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

__all__ = ["Meter", "MeterSet", "run_meters"]


class Meter:
    """A measurement back-end registered through ``register_meters``.

    Before the model is built, the harness calls the class's ``prepare(settings)`` (to
    measure what needs a device nobody is using yet, such as idle power). It then makes
    one meter per run with the device the built model runs on (``cpu``, ``cuda:0``, or
    several joined by commas) and the ``[run]`` settings, asks
    ``unavailable()`` once (a reason string means "record why, measure nothing"), then
    brackets each phase with ``start(phase)`` / ``stop(phase)``; ``close()`` always runs
    last. Between them, ``read(phase)`` may be called at any time (after each epoch, to
    find the energy spent until a target was reached): it returns the values
    accumulated since ``start(phase)``, like ``stop`` would but without ending the phase.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, device: str, settings: Mapping[str, Any] | None = None) -> None:
        self.device = device
        self.settings: Mapping[str, Any] = settings or {}

    @classmethod
    def prepare(cls, settings: Mapping[str, Any]) -> None:
        pass

    def unavailable(self) -> str | None:
        return None

    def start(self, phase: str) -> None:
        pass

    def read(self, phase: str) -> dict[str, Any]:
        return {}

    def stop(self, phase: str) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


def _error_text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


class MeterSet:
    """All usable meters, started and stopped together; results keyed by meter, then phase.

    A meter that raises never fails the point or stops the other meters: its error is
    recorded where its figures would have been.
    """

    def __init__(
        self,
        meter_classes: list[type[Meter]],
        device: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.meter_classes = meter_classes
        self.settings = settings
        self.results: dict[str, dict[str, Any]] = {}
        self.active: list[Meter] = []
        self._prepare_errors: dict[str, str] = {}
        if device is not None:
            self.open(device)

    def prepare(self, device: str | None = None) -> None:
        """Each meter class's ``prepare``, before the model is built; errors are kept for
        ``open`` to record. ``device``: where the point will run when that is known
        before the model is built (``cpu`` for a NumPy model), in place of the run
        setting's ``device``."""
        settings = {**(self.settings or {}), **({"device": device} if device else {})}
        for cls in self.meter_classes:
            try:
                cls.prepare(settings)
            except Exception as error:
                self._prepare_errors[cls.name] = _error_text(error)

    def open(self, device: str) -> None:
        """Make each meter for the device the point runs on; a meter that cannot measure
        it records why."""
        for cls in self.meter_classes:
            prepare_error = self._prepare_errors.get(cls.name)
            if prepare_error:
                self.results[cls.name] = {"unavailable": prepare_error}
                continue
            try:
                meter = cls(device, settings=self.settings)
            except Exception as error:
                self.results[cls.name] = {"unavailable": _error_text(error)}
                continue
            try:
                reason = meter.unavailable()
            except Exception as error:
                # It may hold what its constructor opened (an NVML session, a file).
                reason = _error_text(error)
            if reason:
                self.results[cls.name] = {"unavailable": reason}
                _close(meter)
            else:
                self.active.append(meter)
                self.results[cls.name] = {}

    def start(self, phase: str) -> None:
        for meter in self.active:
            try:
                meter.start(phase)
            except Exception as error:
                self.results[meter.name][phase] = {"error": _error_text(error)}

    def read(self, phase: str) -> dict[str, dict[str, Any]]:
        """Each meter's values so far in ``phase`` (meters with nothing to say left out)."""
        values = {}
        for meter in self.active:
            if "error" in self.results[meter.name].get(phase, {}):
                continue
            try:
                reading = meter.read(phase)
            except Exception as error:
                reading = {"error": _error_text(error)}
            if reading:
                values[meter.name] = reading
        return values

    def keep_reading(self, phase: str, as_phase: str) -> None:
        """Store each meter's values so far in ``phase`` as figures of ``as_phase`` (the
        pseudo-phase ``to_target``: the energy until a target was reached)."""
        for name, values in self.read(phase).items():
            self.results[name][as_phase] = values

    def stop(self, phase: str) -> None:
        for meter in reversed(self.active):
            if "error" in self.results[meter.name].get(phase, {}):
                continue  # it failed to start this phase
            try:
                self.results[meter.name][phase] = meter.stop(phase)
            except Exception as error:
                self.results[meter.name][phase] = {"error": _error_text(error)}

    def close(self) -> None:
        for meter in self.active:
            error = _close(meter)
            if error:
                self.results[meter.name]["close_error"] = error


# The class's earlier name, kept for code that imports it.
run_meters = MeterSet


def _close(meter: Meter) -> str | None:
    # Closing must never mask the point's own outcome, nor skip the other meters.
    try:
        meter.close()
    except Exception as error:
        return _error_text(error)
    return None
