"""The NVML meter when the GPU misbehaves: read errors during a phase (a lost GPU, a
transient error in an optional reading), a broken GPU elsewhere in the machine, a
stuck energy counter, an idle window another process shares, implausible power
readings, a failing field-values call, and a point whose model runs on the CPU.

Each case was found by an audit with its own fake NVML; here it runs against
``tests/fake_nvml`` (its fault injection: ``fail``, ``energy_counter_stuck``,
``power_mw``, ``_fake_fail``). Windows are long enough for a loaded machine; no test
asserts on elapsed time.
"""

from __future__ import annotations

import json
import time
from typing import Callable

import pytest

from fake_nvml import use_fake_nvml
from seqbench.executors.gpus import needs_gpu, visible_gpus
from seqbench.meters.idle import CACHE_VARIABLE
from seqbench.meters.nvml import GpuError, NvmlMeter
from seqbench.suite import load_suite

UUID_A = "GPU-aaaaaaaa-0000-0000-0000-00000000000a"
UUID_B = "GPU-bbbbbbbb-0000-0000-0000-00000000000b"
UUID_C = "GPU-cccccccc-0000-0000-0000-00000000000c"
GPU_IS_LOST, UNKNOWN = 15, 999


@pytest.fixture(autouse=True)
def idle_cache(tmp_path, monkeypatch):
    path = tmp_path / "idle.json"
    monkeypatch.setenv(CACHE_VARIABLE, str(path))
    monkeypatch.setenv("SEQBENCH_GPU_IDLE_SECONDS", "0.2")
    monkeypatch.setattr(NvmlMeter, "idle_seconds", 0.2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return path


@pytest.fixture
def fake_gpu(monkeypatch):
    with use_fake_nvml(monkeypatch) as configure:
        yield configure


def opened(device: str = "cuda", hz: float = 50) -> NvmlMeter:
    """An open meter whose idle window is behind it (as after the pipeline's prepare)."""
    meter = NvmlMeter(device, {"sample_hz": hz})
    assert meter.unavailable() is None
    meter.start("data")
    meter.stop("data")
    return meter


def train_phase(*during: Callable[[], object] | float, device: str = "cuda",
                meter: NvmlMeter | None = None) -> dict:
    """A training phase of ``meter`` (else one opened now for ``device``), closed after
    it; ``during`` it each step in turn: a number of seconds to wait, or a call (a fault
    or load set on the fake)."""
    meter = opened(device) if meter is None else meter
    try:
        meter.start("train")
        for step in during:
            if callable(step):
                step()
            else:
                time.sleep(step)
        return meter.stop("train")
    finally:
        meter.close()


def true_energy(nvml, index: int, start: float, end: float) -> float:
    """The fake GPU's exact energy (J) between two monotonic instants."""
    gpu = nvml._state["gpus"][index]
    return gpu.energy_j(end) - gpu.energy_j(start)


# --- F1: a GPU without a counter lost mid-phase -------------------------------------


def test_a_gpu_without_a_counter_lost_mid_phase_has_no_energy_and_says_why(fake_gpu):
    nvml = fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "energy_counter": False, "power_instant": True})
    meter = opened()
    try:
        meter.start("train")
        nvml._fake_set_state(0, load_w=500.0)
        time.sleep(0.2)
        nvml._fake_fail(0, "*", GPU_IS_LOST)  # it falls off the bus while still working
        time.sleep(0.3)
        train = meter.stop("train")
        with pytest.raises(GpuError, match="GpuIsLost"):  # the next phase cannot start
            meter.start("eval")
    finally:
        meter.close()

    # Before: 2/5 of the phase's samples integrated as if they were all of it, no
    # gpu_error (the end counter read, which marked a lost GPU, is skipped without a counter).
    assert train["gpu_error"] == f"GPU {UUID_A}: NVMLError_GpuIsLost: GPU is lost"
    assert train["energy_j"] is None and train["energy_method"] is None
    assert train["mean_power_w"] is None and train["integrated_energy_j"] is None
    assert train["energy_above_idle_j"] is None


# --- F2: one transient error in an optional reading ---------------------------------


@pytest.mark.parametrize("counter", [False, True])
def test_one_transient_utilisation_error_neither_stops_sampling_nor_cuts_the_energy(fake_gpu, counter):
    nvml = fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "energy_counter": counter, "power_instant": True,
                     "utilization": [90, 40]})
    meter = opened(hz=50)
    try:
        before = time.monotonic()
        meter.start("train")
        time.sleep(0.1)
        nvml._fake_fail(0, "nvmlDeviceGetUtilizationRates", UNKNOWN, times=1)
        time.sleep(0.1)
        nvml._fake_set_state(0, load_w=500.0)  # the work starts after the error
        time.sleep(0.5)
        train = meter.stop("train")
        after = time.monotonic()
    finally:
        meter.close()

    exact = true_energy(nvml, 0, before, after)
    # Before: the sampler died at the error; without a counter the energy was one
    # trapezoid from 80 W to 580 W across the gap (a third low in the audit), and the
    # integrated figure beside a counter was as short.
    assert "sampler_error" not in train and "gpu_error" not in train
    assert train["samples"] >= 0.5 * 50 * train["seconds"]
    assert train["energy_method"] == ("counter" if counter else "integrated")
    assert train["energy_j"] == pytest.approx(exact, rel=0.05)
    assert train["integrated_energy_j"] == pytest.approx(exact, rel=0.05)
    assert f"GPU {UUID_A}: utilization: 1 of {train['samples']} samples without it" in train["missing_readings"]
    assert "NVMLError_Unknown" in train["missing_readings"]
    assert train["utilization_gpu_peak_pct"] == 90


def test_power_failing_mid_phase_on_a_gpu_with_a_counter_nulls_its_energy(fake_gpu):
    nvml = fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "power_instant": False})
    train = train_phase(0.15, lambda: nvml._fake_fail(0, "nvmlDeviceGetPowerUsage", UNKNOWN, times=1), 0.2)

    assert train["gpu_error"] == f"GPU {UUID_A}: NVMLError_Unknown: Unknown Error"
    assert train["energy_j"] is None and train["integrated_energy_j"] is None


# --- F3: a broken GPU elsewhere in the machine --------------------------------------


@pytest.mark.parametrize("function", ["nvmlDeviceGetHandleByIndex", "nvmlDeviceGetUUID"])
def test_a_broken_gpu_elsewhere_is_left_out_named_and_the_others_kept(fake_gpu, function):
    fake_gpu({"uuid": UUID_A, "idle_w": 60.0}, {"uuid": UUID_B, "idle_w": 80.0},
             {"uuid": UUID_C, "fail": {function: [GPU_IS_LOST, None]}})
    skipped: list[str] = []

    # Before: the sweep's pool was empty (so --jobs N points shared a GPU) and every
    # point's meter said "NVML: NVMLError_GpuIsLost".
    assert visible_gpus(skipped=skipped) == [UUID_A, UUID_B]
    assert skipped == ["GPU at NVML index 2: NVMLError_GpuIsLost: GPU is lost"]
    train = train_phase(0.1, device="cuda:1")
    assert train["gpus"] == UUID_B
    assert train["energy_j"] == pytest.approx(80.0 * train["seconds"], rel=0.02)


def test_with_jobs_the_pool_keeps_the_healthy_gpus_and_notes_the_broken_one(fake_gpu, capsys):
    from seqbench.executors.local import LocalExecutor

    fake_gpu({"uuid": UUID_A}, {"uuid": UUID_B}, {"uuid": UUID_C, "fail": {"*": [GPU_IS_LOST, None]}})
    executor = LocalExecutor(jobs=2)
    executor.check([])

    assert executor.gpus == [UUID_A, UUID_B]
    assert executor._env(UUID_A)["CUDA_VISIBLE_DEVICES"] == UUID_A
    assert "note: GPU(s) left out of the pool: GPU at NVML index 2: NVMLError_GpuIsLost" in capsys.readouterr().err


def test_a_point_whose_own_gpu_is_broken_says_which_gpus_nvml_could_not_open(fake_gpu):
    fake_gpu({"uuid": UUID_A, "fail": {"nvmlDeviceGetHandleByIndex": [UNKNOWN, None]}})
    meter = NvmlMeter("cuda")
    try:
        reason = meter.unavailable()
    finally:
        meter.close()
    assert reason == "NVML finds no GPU (NVML could not open: GPU at NVML index 0: NVMLError_Unknown: Unknown Error)"


# --- F4: a counter that never advances ----------------------------------------------


def test_a_stuck_counter_is_not_trusted_in_the_phase_nor_in_the_idle_window(fake_gpu):
    nvml = fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "energy_counter_stuck": True, "power_instant": True})
    meter = opened()
    try:
        before = time.monotonic()
        meter.start("train")
        nvml._fake_set_state(0, load_w=500.0)
        time.sleep(0.4)
        train = meter.stop("train")
        after = time.monotonic()
    finally:
        meter.close()

    # Before: energy_j 0 J by "counter", idle 0 W by "counter_rate", nothing said.
    assert train["energy_method"] == "integrated"
    assert train["energy_j"] == pytest.approx(true_energy(nvml, 0, before, after), rel=0.05)
    assert "energy counter did not advance during the phase" in train["fallbacks"]
    assert train["idle_method"] == "power_samples (instant)"
    assert train["idle_power_w"] == pytest.approx(80.0, rel=0.01)
    assert "energy counter did not advance in the" in train["idle_note"]


def test_a_counter_that_does_not_update_within_a_short_phase_is_still_trusted(fake_gpu, monkeypatch):
    # A counter updated every 0.1 s, and a phase shorter than two updates: no update
    # in it is what a working counter does.
    monkeypatch.setattr(NvmlMeter, "idle_seconds", 0.5)
    fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "counter_interval_s": 0.1})
    meter = opened()
    try:
        measure = [meter.start("data"), meter.stop("data")][1]
    finally:
        meter.close()
    assert measure["energy_method"] == "counter"


# --- F5: an idle window another process shares --------------------------------------


def test_an_idle_window_shared_with_another_process_is_flagged_and_not_cached(fake_gpu, idle_cache):
    nvml = fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "others": [4242]})
    meter = opened()  # its idle window, with 4242 there
    nvml._fake_set_state(0, others=[])  # which leaves before the work
    train = train_phase(0.05, meter=meter)

    # Before: no column said so (the phases' other_processes were 0), and the figure
    # was cached for the sweep's other points.
    assert train["other_processes"] == 0
    assert (train["idle_other_processes"], train["idle_other_pids"]) == (1, "4242")
    assert "other processes on the GPU during the window (4242): not idle" in train["idle_note"]
    assert UUID_A not in json.loads(idle_cache.read_text() or "{}")


def test_an_idle_window_alone_is_cached_and_says_no_one_else_was_there(fake_gpu, idle_cache):
    fake_gpu({"uuid": UUID_A, "idle_w": 80.0})
    meter = opened()
    try:
        train = [meter.start("train"), meter.stop("train")][1]
    finally:
        meter.close()
    assert (train["idle_other_processes"], train["idle_other_pids"], train["idle_note"]) == (0, None, None)
    assert UUID_A in json.loads(idle_cache.read_text())


# --- F6: implausible power readings -------------------------------------------------


@pytest.mark.parametrize("milliwatts", [0, 0xFFFFFFFF])
def test_implausible_power_readings_are_dropped_and_said(fake_gpu, milliwatts):
    fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "energy_counter": False, "power_instant": True,
              "power_mw": milliwatts})
    train = train_phase(0.2)

    # Before: 0 J at 0 W, or 4.3 MJ at 4.3 MW, stored as figures.
    assert train["energy_j"] is None and train["peak_power_w"] is None
    assert train["idle_power_w"] is None and train["energy_above_idle_j"] is None
    assert f"GPU {UUID_A}: no plausible power readings to integrate" in train["fallbacks"]
    assert f"GPU {UUID_A}: power: {train['samples']} of {train['samples']} samples without it" in train["missing_readings"]
    assert "implausible reading" in train["missing_readings"]
    assert "no plausible power reading" in train["idle_note"]


def test_with_a_counter_zero_power_readings_cost_only_the_power_figures(fake_gpu):
    fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "power_instant": True, "power_mw": 0})
    train = train_phase(0.2)

    assert train["energy_method"] == "counter"
    assert train["energy_j"] == pytest.approx(80.0 * train["seconds"], rel=0.02)
    assert train["peak_power_w"] is None and train["integrated_energy_j"] is None
    assert "implausible reading of 0 W" in train["missing_readings"]


# --- F7: the field-values call failing otherwise than "not supported" ---------------


def test_field_values_failing_with_another_error_falls_back_to_average_power(fake_gpu):
    fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "power_instant": True,
              "fail": {"nvmlDeviceGetFieldValues": [UNKNOWN, None]}})
    meter = NvmlMeter("cuda")
    try:
        # Before: "GPU GPU-…: NVMLError_Unknown: Unknown Error", nothing measured.
        assert meter.unavailable() is None
        meter.start("train")
        time.sleep(0.1)
        train = meter.stop("train")
    finally:
        meter.close()

    assert train["power_source"] == "average"
    assert train["fallbacks"] == f"GPU {UUID_A}: instant power: NVMLError_Unknown: Unknown Error"
    assert train["energy_method"] == "counter"
    assert train["peak_power_w"] == pytest.approx(80.0)


def test_field_values_failing_mid_run_goes_on_with_average_power(fake_gpu):
    nvml = fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "power_instant": True})
    train = train_phase(0.1, lambda: nvml._fake_fail(0, "nvmlDeviceGetFieldValues", UNKNOWN, times=1), 0.2)

    assert train["power_source"] == "instant, then average"
    assert "gpu_error" not in train
    assert train["integrated_energy_j"] == pytest.approx(train["energy_j"], rel=0.05)


# --- F8: a point whose model runs on the CPU ----------------------------------------

SUITE = """
[suite]
name = "cpu-model"

[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "{device}"

[task]
name = "adding"
seq_len = 2

[[model]]
name = "{model}"
"""

ON_GPU_MODEL = """
from dataclasses import dataclass

from seqbench import hookimpl
from seqbench.default_plugins.oracle import Oracle


@dataclass
class OnGpu(Oracle):
    name = "fake:torch-oracle"
    framework = "torch"


@hookimpl
def register_models(register):
    register(OnGpu)
"""


@pytest.mark.parametrize("model, device, needs", [
    ("oracle", "auto", False),  # a NumPy model keeping Model.devices: the CPU, known before build
    ("oracle", "cuda", False),
    ("fake:torch-oracle", "auto", True),  # only its built model can say
    ("fake:torch-oracle", "cpu", False),
])
def test_a_point_known_to_run_on_the_cpu_takes_no_gpu_from_the_pool(install_plugin, write_suite, model, device, needs):
    install_plugin("seqbench-torch-oracle", ON_GPU_MODEL)
    (point,) = load_suite(write_suite(SUITE.format(device=device, model=model))).points

    assert needs_gpu(point) is needs


def test_a_busy_idle_window_from_prepare_is_the_points_own_and_not_measured_again(fake_gpu, idle_cache):
    nvml = fake_gpu({"uuid": UUID_A, "idle_w": 80.0, "others": [4242]})
    NvmlMeter.prepare({})  # before the model is built: 4242 is there
    nvml.nvmlInit()
    nvml._fake_set_state(0, others=[])  # and leaves
    meter = NvmlMeter("cuda")
    try:
        assert meter.unavailable() is None
        train = [meter.start("train"), meter.stop("train")][1]
    finally:
        meter.close()
        nvml.nvmlShutdown()

    # Not cached, yet not measured again at the first phase, with the model on the GPU.
    assert train["idle_other_pids"] == "4242"
    assert UUID_A not in json.loads(idle_cache.read_text() or "{}")


@pytest.mark.parametrize("value", ["abc", "nan", "0", "-1", "1e9"])
def test_a_bad_idle_window_setting_is_one_line_from_run_and_no_traceback_elsewhere(tmp_path, monkeypatch, value):
    """$SEQBENCH_GPU_IDLE_SECONDS was read with float() when the meter's module was
    imported: `abc` made `seqbench run --dry-run`, `tasks` and `plugins` a traceback."""
    import subprocess
    import sys

    from click.testing import CliRunner

    from seqbench.cli import main

    suite = tmp_path / "s.toml"
    suite.write_text('[task]\nname = "adding"\nseq_len = 5\n[[model]]\nname = "oracle"\n')
    monkeypatch.setenv("SEQBENCH_GPU_IDLE_SECONDS", value)
    for args in ([], ["--dry-run"]):
        result = CliRunner().invoke(main, ["run", str(suite), "--store", str(tmp_path / "s.sqlite"), *args])
        assert result.exit_code == 2, result.output
        assert result.output == (f"Error: $SEQBENCH_GPU_IDLE_SECONDS: expected seconds from 0.1 to 60, "
                                 f"got {value!r}\n")
    assert not (tmp_path / "s.sqlite").exists()
    listed = subprocess.run([sys.executable, "-m", "seqbench", "tasks"], capture_output=True, text=True)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr and "adding" in listed.stdout


def test_a_numpy_point_pays_no_idle_window_under_one_job(fake_gpu, idle_cache, tmp_path):
    """A NumPy model runs on the CPU whatever the device asked, known before it is
    built; with --jobs 1 its point still measured every GPU's idle window (3 s)."""
    from seqbench.pipeline import run_point
    from seqbench.suite import load_suite

    fake_gpu({"uuid": UUID_A, "idle_w": 80.0})
    suite = tmp_path / "s.toml"
    suite.write_text('[run]\ntrain_size = 16\neval_size = 16\nepochs = 1\n[task]\nname = "adding"\n'
                     'seq_len = 3\n[[model]]\nname = "numpy:ridge"\n')
    (point,) = load_suite(suite, gpus=1).points

    record = run_point(point)

    assert record.ok and record.measurements["nvml"] == {"unavailable": "point ran on cpu"}
    assert not idle_cache.exists() or UUID_A not in json.loads(idle_cache.read_text() or "{}")
