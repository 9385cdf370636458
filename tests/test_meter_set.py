"""MeterSet: a meter that raises at any step records its error where its figures would
be, never stops the other meters, and is always closed once it was made."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from seqbench.meters import Meter
from seqbench.meters.base import MeterSet


class Counting(Meter):
    """A meter that measures how many phases it saw and remembers being closed."""

    name: ClassVar[str] = "counting"
    closed: ClassVar[list[str]] = []

    def start(self, phase: str) -> None:
        self.phase = phase

    def stop(self, phase: str) -> dict[str, Any]:
        return {"phase": phase}

    def close(self) -> None:
        type(self).closed.append(self.name)


def failing(step: str, base: type[Counting] = Counting) -> type[Counting]:
    """A Counting meter named after ``step`` that raises RuntimeError there."""

    def boom(self: Any, *args: Any) -> Any:
        raise RuntimeError(f"{step} broke")

    return type(f"Failing_{step}", (base,), {"name": f"fails-{step}", step: boom})


@pytest.fixture(autouse=True)
def no_closes_yet():
    Counting.closed = []


def test_a_meter_whose_unavailable_raises_is_closed_and_says_why():
    meters = MeterSet([failing("unavailable"), Counting], device="cpu")

    assert meters.results["fails-unavailable"] == {"unavailable": "RuntimeError: unavailable broke"}
    assert Counting.closed == ["fails-unavailable"]  # what its constructor opened is released
    assert [meter.name for meter in meters.active] == ["counting"]


def test_a_meter_that_says_unavailable_is_closed_at_once():
    quiet = type("Quiet", (Counting,), {"name": "quiet", "unavailable": lambda self: "no such device"})
    meters = MeterSet([quiet], device="cpu")

    assert meters.results["quiet"] == {"unavailable": "no such device"} and Counting.closed == ["quiet"]


def test_a_meter_whose_constructor_raises_is_recorded_and_the_others_run():
    def refuse(self: Any, device: str, settings: Any = None) -> None:
        raise OSError("no driver")

    broken = type("Broken", (Counting,), {"name": "broken", "__init__": refuse})
    meters = MeterSet([broken, Counting], device="cpu")
    meters.start("train")
    meters.stop("train")
    meters.close()

    assert meters.results == {"broken": {"unavailable": "OSError: no driver"},
                              "counting": {"train": {"phase": "train"}}}
    assert Counting.closed == ["counting"]


@pytest.mark.parametrize("step", ["start", "stop"])
def test_a_phase_that_raises_is_recorded_for_that_meter_only(step):
    meters = MeterSet([failing(step), Counting], device="cpu")
    meters.start("train")
    meters.stop("train")
    meters.close()

    assert meters.results[f"fails-{step}"]["train"] == {"error": f"RuntimeError: {step} broke"}
    assert meters.results["counting"]["train"] == {"phase": "train"}
    assert sorted(Counting.closed) == ["counting", f"fails-{step}"]


def test_a_close_that_raises_is_kept_and_the_other_meters_are_still_closed():
    meters = MeterSet([failing("close"), Counting], device="cpu")
    meters.close()

    assert meters.results["fails-close"]["close_error"] == "RuntimeError: close broke"
    assert Counting.closed == ["counting"]


def test_a_prepare_error_makes_the_meter_unavailable_without_making_it():
    def prepare(cls: Any, settings: Any) -> None:
        raise RuntimeError("idle probe failed")

    made: list[str] = []

    def init(self: Any, device: str, settings: Any = None) -> None:
        made.append(device)

    unprepared = type("Unprepared", (Counting,),
                      {"name": "unprepared", "prepare": classmethod(prepare), "__init__": init})
    meters = MeterSet([unprepared])
    meters.prepare()
    meters.open("cpu")

    assert meters.results == {"unprepared": {"unavailable": "RuntimeError: idle probe failed"}}
    assert made == [] and meters.active == []
