"""``seqbench report`` says how many runs drew less GPU energy in a train or eval phase
than their idle figure accounts for (``meter.nvml.<phase>.below_idle``, set by the NVML
meter beside a negative ``energy_above_idle_j``): before, such a figure was stored
without a flag and reported without a word."""

from __future__ import annotations

import pytest

from test_report_caveats import notes, set_gpu_figures, store  # noqa: F401 (a fixture)

BELOW = "tiny: {n} drew less GPU energy in a train or eval phase than the idle figure accounts for"


@pytest.mark.parametrize("extra", [{}, {"mean_power_w": float("inf")}], ids=["sqlite-json", "python-json"])
def test_runs_with_a_phase_below_idle_are_counted(store, extra):  # noqa: F811
    set_gpu_figures(store, {
        0: {"train": {"energy_above_idle_j": -12.5, "below_idle": True, **extra}},
        1: {"train": {"energy_above_idle_j": 3.0, "below_idle": False},
            "eval": {"energy_above_idle_j": -0.4, "below_idle": True, **extra}},
        # Not flagged (noise about zero), and a data phase (shown nowhere): not counted.
        2: {"train": {"energy_above_idle_j": -0.001, "below_idle": False},
            "data": {"energy_above_idle_j": -5.0, "below_idle": True}},
    })

    said = notes(store)

    assert BELOW.format(n="2 runs") in said
    assert "(meter.nvml.<phase>.below_idle)" in said


def test_no_run_below_idle_is_not_said(store):  # noqa: F811
    # Not flagged, unknown (no idle figure), and a number that is not JSON true.
    flags = {0: False, 1: None, 2: 2}
    set_gpu_figures(store, {seed: {"train": {"energy_above_idle_j": 1.0, "below_idle": flag}}
                            for seed, flag in flags.items()})

    assert "than the idle figure accounts for" not in notes(store)
