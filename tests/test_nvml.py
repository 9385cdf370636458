"""The NVML meter: GPU energy per phase by counter or by integrated power samples, idle
power, the background sampler, device selection, and an honest record without a driver.

This machine has no NVIDIA GPU: the GPU paths run against ``tests/fake_nvml/pynvml.py``,
which follows nvidia-ml-py's interface (checked against it below); the no-driver path
runs against the real nvidia-ml-py.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import threading
import time

import pytest
from click.testing import CliRunner

from fake_nvml import FAKE_DIR, use_fake_nvml, use_real_nvml
from seqbench.cli import main
from seqbench.meters.idle import CACHE_VARIABLE
from seqbench.meters.nvml import CPU_REASON, SAMPLER_THREAD, NvmlMeter, Unavailable, select_gpus
from seqbench.meters.sampler import Sampler
from seqbench.pipeline import run_point
from seqbench.results import load
from seqbench.suite import load_suite

NO_DRIVER = "NVML library not found: no NVIDIA driver"


@pytest.fixture(autouse=True)
def idle_cache(tmp_path, monkeypatch):
    """Each test's own idle cache (the fake GPUs' UUIDs repeat between tests)."""
    path = tmp_path / "idle.json"
    monkeypatch.setenv(CACHE_VARIABLE, str(path))
    monkeypatch.setenv("SEQBENCH_GPU_IDLE_SECONDS", "0.2")  # worker processes
    monkeypatch.setattr(NvmlMeter, "idle_seconds", 0.2)  # this one
    return path


@pytest.fixture
def fake_gpu(monkeypatch):
    """``fake_gpu(*gpus, **top)`` configures fake GPUs and returns the fake pynvml."""
    with use_fake_nvml(monkeypatch) as configure:
        yield configure


@pytest.fixture
def short_idle(monkeypatch):
    monkeypatch.setattr(NvmlMeter, "idle_seconds", 0.2)


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == SAMPLER_THREAD and t.is_alive()]


def measure(meter: NvmlMeter, phase: str, seconds: float) -> dict:
    meter.start(phase)
    time.sleep(seconds)
    return meter.stop(phase)


# --- the fake is faithful to nvidia-ml-py -------------------------------------------


def test_fake_pynvml_has_the_real_functions_signatures_and_error_classes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fake_pynvml", FAKE_DIR / "pynvml.py")
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    with use_real_nvml() as real:
        functions = [name for name in dir(fake) if name.startswith("nvml")]
        assert "nvmlDeviceGetTotalEnergyConsumption" in functions
        for name in functions:
            assert list(inspect.signature(getattr(fake, name)).parameters) == list(
                inspect.signature(getattr(real, name)).parameters
            ), name
        errors = [name for name in dir(fake) if name.startswith("NVMLError_")]
        for needed in ("LibraryNotFound", "NotSupported", "InvalidArgument", "DriverNotLoaded"):
            assert f"NVMLError_{needed}" in errors
        for name in errors:
            fake_class, real_class = getattr(fake, name), getattr(real, name)
            assert issubclass(real_class, real.NVMLError)
            assert fake_class(0).value == real_class(0).value, name
        for code in (real.NVML_ERROR_NOT_SUPPORTED, real.NVML_ERROR_LIBRARY_NOT_FOUND):
            assert type(fake.NVMLError(code)).__name__ == type(real.NVMLError(code)).__name__
        constants = [name for name in dir(fake) if name.startswith(("NVML_FI_", "NVML_VALUE_TYPE_", "NVML_ERROR_"))]
        assert "NVML_FI_DEV_POWER_INSTANT" in constants
        for name in constants:
            assert getattr(fake, name) == getattr(real, name), name
        for structure in ("c_nvmlFieldValue_t", "c_nvmlValue_t"):
            real_fields = {field for field, *_ in getattr(real, structure)._fields_}
            assert real_fields <= set(vars(getattr(fake, structure)(0))), structure


# --- energy: counter and integration ------------------------------------------------


def test_counter_energy_is_power_times_time_in_joules(fake_gpu, short_idle):
    fake_gpu({"idle_w": 250.0})
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    try:
        figures = measure(meter, "train", 0.4)
    finally:
        meter.close()

    assert figures["energy_method"] == "counter"
    assert figures["energy_j"] == pytest.approx(250.0 * figures["seconds"], rel=0.005)
    assert figures["mean_power_w"] == pytest.approx(250.0, rel=0.005)
    assert figures["peak_power_w"] == pytest.approx(250.0, abs=0.01)


def test_without_an_energy_counter_power_samples_are_integrated_to_the_analytic_energy(
    fake_gpu, short_idle
):
    # P(t) = 200 + 100 sin(pi t) W. At 10 Hz (h = 0.1 s) the trapezoid rule's error is at
    # most T h^2 max|P''| / 12 = 1.5 * 0.01 * 100 pi^2 / 12 = 1.2 J, 0.4 % of ~300 J; the
    # window's edges add at most a few ms at <= 300 W. Tolerance: 1 %.
    nvml = fake_gpu({"idle_w": 200.0, "amp_w": 100.0, "period_s": 2.0, "energy_counter": False})
    nvml.nvmlInit()
    with pytest.raises(nvml.NVMLError_NotSupported):
        nvml.nvmlDeviceGetTotalEnergyConsumption(nvml.nvmlDeviceGetHandleByIndex(0))
    nvml.nvmlShutdown()
    meter = NvmlMeter("cuda", {"sample_hz": 10})
    assert meter.unavailable() is None
    try:
        measure(meter, "data", 0.0)  # the idle window comes before the first phase
        before = time.monotonic()
        figures = measure(meter, "train", 1.5)
        after = time.monotonic()
    finally:
        meter.close()

    omega = math.pi
    wave = math.cos(omega * before) - math.cos(omega * after)
    exact = 200.0 * (after - before) + 100.0 / omega * wave
    assert figures["energy_method"] == "integrated"
    assert figures["energy_j"] == pytest.approx(exact, rel=0.01)
    assert figures["integrated_energy_j"] == figures["energy_j"]


def test_with_a_counter_the_integrated_figure_is_kept_beside_it_and_agrees(fake_gpu, short_idle):
    fake_gpu({"idle_w": 200.0, "amp_w": 100.0, "period_s": 2.0})
    meter = NvmlMeter("cuda", {"sample_hz": 10})
    assert meter.unavailable() is None
    try:
        figures = measure(meter, "train", 1.0)
    finally:
        meter.close()

    assert figures["energy_method"] == "counter"
    assert figures["integrated_energy_j"] == pytest.approx(figures["energy_j"], rel=0.01)


def test_idle_power_is_measured_once_before_the_first_phase_and_subtracted(fake_gpu, short_idle):
    nvml = fake_gpu({"idle_w": 60.0})
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    try:
        meter.start("train")
        nvml._fake_set_state(0, load_w=140.0)  # the work starts
        time.sleep(0.4)
        train = meter.stop("train")
        evaluation = measure(meter, "eval", 0.2)
    finally:
        meter.close()

    assert train["idle_power_w"] == pytest.approx(60.0, rel=0.001)
    assert train["energy_above_idle_j"] == pytest.approx(140.0 * train["seconds"], rel=0.01)
    idle_part = train["energy_j"] - train["energy_above_idle_j"]
    assert idle_part == pytest.approx(60.0 * train["seconds"], rel=0.001)
    # Not re-measured under load: still the idle figure.
    assert evaluation["idle_power_w"] == train["idle_power_w"]
    above = evaluation["energy_above_idle_j"]
    assert above == pytest.approx(140.0 * evaluation["seconds"], rel=0.01)


def test_a_phase_drawing_less_than_the_idle_figure_is_flagged_below_idle(fake_gpu, short_idle):
    """Power falling below the measured idle (a GPU idled in a higher power state than
    the phase ran in) left a negative energy above idle stored without a flag."""
    nvml = fake_gpu({"idle_w": 60.0})
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    try:
        at_idle = measure(meter, "train", 0.2)
        meter.start("eval")
        nvml._fake_set_state(0, load_w=-30.0)  # 30 W, half the idle figure
        time.sleep(0.2)
        low = meter.stop("eval")
    finally:
        meter.close()

    # A phase at idle, read with noise either side of zero, is not flagged.
    assert at_idle["below_idle"] is False and at_idle["energy_above_idle_j"] == pytest.approx(0.0, abs=0.5)
    assert low["energy_above_idle_j"] == pytest.approx(-30.0 * low["seconds"], rel=0.05)
    assert low["below_idle"] is True


def test_peak_memory_and_utilisation_come_from_the_samples(fake_gpu, short_idle):
    nvml = fake_gpu({"idle_w": 60.0, "memory_used": 1_000_000_000, "utilization": [5, 1]})
    meter = NvmlMeter("cuda", {"sample_hz": 20})
    assert meter.unavailable() is None
    try:
        meter.start("train")
        nvml._fake_set_state(0, memory_used=7_000_000_000, utilization=[95, 60])
        time.sleep(0.3)
        nvml._fake_set_state(0, memory_used=2_000_000_000, utilization=[5, 1])
        time.sleep(0.2)
        figures = meter.stop("train")
    finally:
        meter.close()

    assert figures["memory_peak_bytes"] == 7_000_000_000
    assert figures["utilization_gpu_peak_pct"] == 95
    assert 5 < figures["utilization_gpu_mean_pct"] < 95
    assert figures["peak_power_w"] == pytest.approx(60.0)


# --- the sampler --------------------------------------------------------------------


def test_sampler_thread_runs_during_a_phase_and_is_gone_after_stop(fake_gpu, short_idle):
    fake_gpu({})
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    try:
        meter.start("train")
        assert len(sampler_threads()) == 1
        assert sampler_threads()[0].daemon
        meter.stop("train")
        assert sampler_threads() == []
    finally:
        meter.close()


def test_close_stops_a_sampler_whose_phase_was_never_stopped(fake_gpu, short_idle):
    fake_gpu({})
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    meter.start("train")
    meter.close()

    assert sampler_threads() == []


def test_sampler_takes_samples_at_its_rate_counted_not_timed():
    calls = []
    sampler = Sampler(lambda: calls.append(None) or len(calls), hz=50)
    sampler.start()
    time.sleep(0.6)
    samples = sampler.stop()

    span = samples[-1].t - samples[0].t
    due = span * 50  # ticks in the span; plus the first and last samples
    assert len(samples) == len(calls)
    assert 0.6 * due <= len(samples) <= due + 2
    assert [s.value for s in samples] == sorted(s.value for s in samples)


def test_meter_records_as_many_samples_as_its_sample_rate_asks(fake_gpu, short_idle):
    fake_gpu({})
    meter = NvmlMeter("cuda", {"sample_hz": 40})
    assert meter.unavailable() is None
    try:
        figures = measure(meter, "train", 0.5)
    finally:
        meter.close()

    due = 40 * figures["seconds"]
    assert 0.6 * due <= figures["samples"] <= due + 2


def test_a_failing_probe_costs_its_tick_only_and_its_first_error_is_kept():
    """A probe that fails once (a transient driver error) used to end the thread: the
    rest of the window had no samples."""
    calls = []

    def probe() -> int:
        calls.append(None)
        if len(calls) in (3, 4):
            raise RuntimeError(f"transient {len(calls)}")
        return len(calls)

    sampler = Sampler(probe, hz=100)
    sampler.start()
    deadline = time.monotonic() + 5
    while len(calls) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sampler.running
    samples = sampler.stop(final_sample=False)

    assert str(sampler.error) == "transient 3" and sampler.failures == 2
    assert len(samples) == len(calls) - 2 >= 8


RAISING_MODEL = """
import time
from dataclasses import dataclass

from seqbench import Model, hookimpl


@dataclass
class RaisesMidTraining(Model):
    name = "bad:raises-mid-training"
    serves = frozenset({("continuous", "scalar")})

    def devices(self):
        return ["cuda:0"]

    def fit(self, train, settings, on_epoch):
        time.sleep(0.2)
        raise RuntimeError("out of memory")


@hookimpl
def register_models(register):
    register(RaisesMidTraining)
"""

GPU_SUITE = """
[suite]
name = "gpu"

[run]
epochs = 1
train_size = 32
eval_size = 16
batch_size = 16
device = "{device}"

[task]
name = "adding"
seq_len = 3

[[model]]
name = "{model}"
"""


def test_no_sampler_thread_is_left_when_training_raises(
    fake_gpu, short_idle, install_plugin, write_suite
):
    fake_gpu({"idle_w": 80.0})
    install_plugin("seqbench-raising", RAISING_MODEL)
    suite = write_suite(GPU_SUITE.format(device="cuda", model="bad:raises-mid-training"))
    (point,) = load_suite(suite).points

    record = run_point(point)

    assert record.status == "failed"
    assert record.error == "RuntimeError: out of memory"
    assert sampler_threads() == []
    train = record.measurements["nvml"]["train"]
    assert train["energy_method"] == "counter"
    assert train["energy_j"] == pytest.approx(80.0 * train["seconds"], rel=0.01)


# --- which GPUs a run's device means ------------------------------------------------


@pytest.mark.parametrize(
    "device, count, expected",
    [
        ("cuda:1", 2, ["G1"]),
        ("cuda", 2, ["G0"]),
        ("auto", 3, ["G0"]),  # CUDA's default device, not every visible GPU
        ("cuda:1,cuda:0", 2, ["G1", "G0"]),
        ("cpu,cuda:1", 4, ["G1"]),
        ("/job:localhost/replica:0/task:0/device:GPU:1", 2, ["G1"]),
    ],
)
def test_run_device_selects_the_gpus_cuda_would_use(device, count, expected):
    # CUDA_VISIBLE_DEVICES's own rules: tests/test_nvml_real_api.py.
    assert select_gpus(device, [f"G{i}" for i in range(count)], None) == expected


@pytest.mark.parametrize(
    "device, visible, count, reason",
    [
        ("cpu", None, 2, "point ran on cpu"),
        ("/device:CPU:0", None, 2, "point ran on cpu"),
        ("mps", None, 2, "point ran on mps, not on an NVIDIA GPU"),
        ("auto", None, 0, "NVML finds no GPU"),
        ("cuda:2", None, 2, "device cuda:2 but NVML finds 2 GPU(s)"),
        ("cuda:1", "0", 1, "device cuda:1 but CUDA_VISIBLE_DEVICES='0' gives CUDA 1 GPU(s)"),
        ("auto", "-1", 0, "CUDA_VISIBLE_DEVICES='-1' hides every GPU"),
        ("cuda", "", 0, "CUDA_VISIBLE_DEVICES='' hides every GPU"),
    ],
)
def test_a_device_with_no_gpu_to_measure_says_why(device, visible, count, reason):
    with pytest.raises(Unavailable, match=f"^{re.escape(reason)}$"):
        select_gpus(device, [f"G{i}" for i in range(count)], visible)


TWO_GPUS = ({"idle_w": 100.0, "uuid": "GPU-aaaa"}, {"idle_w": 300.0, "uuid": "GPU-bbbb"})


@pytest.mark.parametrize(
    "device, visible",
    [("cuda:1", None), ("cuda", "1"), ("auto", "GPU-bbbb"), ("cuda:0", "1,0")],
)
def test_the_meter_measures_the_gpu_the_run_uses(
    fake_gpu, short_idle, monkeypatch, device, visible
):
    fake_gpu(*TWO_GPUS)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    meter = NvmlMeter(device)
    assert meter.unavailable() is None
    try:
        figures = measure(meter, "train", 0.1)
    finally:
        meter.close()

    assert figures["idle_power_w"] == pytest.approx(300.0, rel=0.001)


def test_cpu_device_makes_the_meter_unavailable_even_with_a_gpu(fake_gpu):
    fake_gpu({})
    meter = NvmlMeter("cpu")

    assert meter.unavailable() == CPU_REASON
    meter.close()


def test_a_gpu_with_neither_energy_nor_power_is_unavailable_naming_it(fake_gpu):
    fake_gpu({"name": "NVIDIA Fake", "uuid": "GPU-f", "energy_counter": False, "power": False})
    meter = NvmlMeter("cuda")

    assert meter.unavailable() == (
        "GPU GPU-f (NVIDIA Fake) reports neither energy nor power (energy counter: Not Supported; "
        "instant power: Not Supported; average power: Not Supported)"
    )
    meter.close()


# --- no driver ----------------------------------------------------------------------


@pytest.fixture
def no_driver():
    """The real nvidia-ml-py, on a machine without an NVIDIA driver (like CI)."""
    with use_real_nvml() as nvml:
        try:
            nvml.nvmlInit()
        except nvml.NVMLError_LibraryNotFound:
            yield nvml
            return
        nvml.nvmlShutdown()
        pytest.skip("this machine has an NVIDIA driver")


def test_without_a_driver_the_meter_is_unavailable_with_the_reason(no_driver):
    meter = NvmlMeter("auto")

    assert meter.unavailable() == NO_DRIVER
    meter.close()


def test_driver_not_loaded_is_the_reason_when_nvml_says_so(fake_gpu):
    fake_gpu(library="driver_not_loaded")
    meter = NvmlMeter("auto")

    assert meter.unavailable() == "NVIDIA driver not loaded"


ON_A_GPU = """
from dataclasses import dataclass

from seqbench import hookimpl
from seqbench.default_plugins.oracle import Oracle


@dataclass
class OnAGpu(Oracle):
    name = "fake:on-a-gpu"

    def devices(self):
        return ["cuda:0"]


@hookimpl
def register_models(register):
    register(OnAGpu)
"""


def test_without_a_driver_a_point_succeeds_and_the_store_says_why(
    no_driver, install_plugin, write_suite, store_path
):
    install_plugin("seqbench-on-a-gpu", ON_A_GPU)
    suite = write_suite(GPU_SUITE.format(device="auto", model="fake:on-a-gpu"))

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 0, result.output
    assert "nvml" not in result.output.lower() and "warning" not in result.output.lower()
    (row,) = load(store_path).to_dict("records")
    assert row["status"] == "ok"
    assert row["meter.nvml.unavailable"] == NO_DRIVER
    assert not [column for column in row if column.startswith("meter.nvml.train")]
    provenance = json.loads(row["provenance"])
    assert provenance["gpus"] is None and provenance["gpu_unavailable"] == NO_DRIVER


# --- end to end with a fake GPU -----------------------------------------------------

GPU_MODEL = """
import time
from dataclasses import dataclass

import pynvml

from seqbench import Model, hookimpl


@dataclass
class GpuWorker(Model):
    name = "fake:gpu-worker"
    serves = frozenset({("continuous", "scalar")})

    def build(self, task, settings):
        self._task = task

    def devices(self):
        return ["cuda:0"]

    def fit(self, train, settings, on_epoch):
        pynvml._fake_set_state(0, load_w=240, utilization=[90, 40], memory_used=6_000_000_000)
        time.sleep(0.5)
        pynvml._fake_set_state(0, load_w=0, utilization=[0, 0], memory_used=500_000_000)
        on_epoch(1, 0.0, len(train))

    def predict(self, inputs):
        return self._task.solve(inputs)


@hookimpl
def register_models(register):
    register(GpuWorker)
"""


def test_seqbench_run_records_gpu_energy_power_memory_and_provenance(
    fake_gpu, install_plugin, write_suite, store_path
):
    fake_gpu(
        {"name": "NVIDIA Fake H100", "idle_w": 60.0, "memory_used": 500_000_000},
        driver="550.54.15",
        cuda=12040,
    )
    install_plugin("seqbench-gpu-model", GPU_MODEL)
    suite = write_suite(GPU_SUITE.format(device="cuda", model="fake:gpu-worker"))

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 0, result.output
    (row,) = load(store_path).to_dict("records")
    assert row["status"] == "ok"
    for phase in ("data", "train", "eval"):
        assert row[f"meter.nvml.{phase}.energy_method"] == "counter"
        assert row[f"meter.nvml.{phase}.idle_power_w"] == pytest.approx(60.0, rel=0.001)
    # Data and evaluation ran at idle: their energy is idle power x their duration.
    data_seconds = row["meter.nvml.data.seconds"]
    assert row["meter.nvml.data.energy_j"] == pytest.approx(60.0 * data_seconds, rel=0.01, abs=0.01)
    assert row["meter.nvml.train.peak_power_w"] == pytest.approx(300.0)
    assert row["meter.nvml.train.memory_peak_bytes"] == 6_000_000_000
    assert row["meter.nvml.train.utilization_gpu_peak_pct"] == 90
    # 240 W above idle for the 0.5 s of work, and nothing else in the phase.
    assert row["meter.nvml.train.energy_above_idle_j"] == pytest.approx(240.0 * 0.5, rel=0.1)
    assert row["meter.nvml.train.seconds"] >= row["time.train_s"]
    provenance = json.loads(row["provenance"])
    assert provenance["gpus"] == ["NVIDIA Fake H100"]
    assert provenance["gpu_driver"] == "550.54.15"
    assert provenance["cuda_driver"] == "12.4"
    assert provenance["gpu_unavailable"] is None


def test_sample_rate_below_10_hz_is_refused_in_one_line(write_suite, store_path):
    text = GPU_SUITE.format(device="cuda", model="oracle")
    suite = write_suite(text.replace("[task]", "sample_hz = 5\n\n[task]"))

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {suite}: [run] sample_hz: expected float between 10 and 100, got 5"
    ]
    assert not store_path.exists()


# --- the device a point ran on, and only its GPUs -----------------------------------

UUID_A, UUID_B = "GPU-aaaaaaaa-1111-2222-3333-444444444444", "GPU-bbbbbbbb-1111-2222-3333-444444444444"

PLACED_MODEL = """
import time
from dataclasses import dataclass

import pynvml

from seqbench import Model, hookimpl, param


@dataclass
class Placed(Model):
    name = "fake:placed"
    serves = frozenset({("continuous", "scalar")})
    framework = "fake"
    gpu: int = param(1, help="the CUDA device this model says it runs on")

    def build(self, task, settings):
        self._task = task

    def devices(self):
        return [f"cuda:{self.gpu}"]

    def fit(self, train, settings, on_epoch):
        # Its own 200 W on its GPU, and another process's 150 W on the other one.
        other = 1 - self.gpu
        pynvml._fake_set_state(self.gpu, load_w=200)
        pynvml._fake_set_state(other, load_w=150)
        time.sleep(0.4)
        pynvml._fake_set_state(self.gpu, load_w=0)
        pynvml._fake_set_state(other, load_w=0)
        on_epoch(1, 0.0, len(train))

    def predict(self, inputs):
        return self._task.solve(inputs)


@hookimpl
def register_models(register):
    register(Placed)
"""


def test_a_cpu_point_records_no_gpu_figures_even_with_gpus_there(fake_gpu, write_suite, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    fake_gpu({"uuid": UUID_A}, {"uuid": UUID_B})
    suite = write_suite(GPU_SUITE.format(device="auto", model="oracle"))
    (point,) = load_suite(suite).points

    record = run_point(point)

    assert record.ok, record.error
    assert record.measurements["nvml"] == {"unavailable": "point ran on cpu"}
    assert record.provenance["device"] == "cpu"  # what it ran on, not "auto"


def test_a_one_gpu_point_among_several_is_billed_only_its_gpu(
    fake_gpu, install_plugin, write_suite, monkeypatch
):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    fake_gpu({"uuid": UUID_A, "idle_w": 50.0}, {"uuid": UUID_B, "idle_w": 70.0})
    install_plugin("seqbench-placed-model", PLACED_MODEL)
    suite = write_suite(GPU_SUITE.format(device="cuda", model="fake:placed"))
    (point,) = load_suite(suite).points

    record = run_point(point)

    assert record.ok, record.error
    train = record.measurements["nvml"]["train"]
    assert record.provenance["device"] == "cuda:1"
    assert train["gpus"] == UUID_B
    assert train["idle_power_w"] == pytest.approx(70.0, rel=0.01)
    # Its own 200 W for 0.4 s; none of the other GPU's idle or load.
    assert train["energy_above_idle_j"] == pytest.approx(200.0 * 0.4, rel=0.1)
    assert train["energy_j"] == pytest.approx(70.0 * train["seconds"] + 200.0 * 0.4, rel=0.05)


def test_other_processes_on_the_points_gpu_during_a_phase_are_counted_and_named(fake_gpu):
    nvml = fake_gpu({"idle_w": 60.0, "power_instant": True})
    meter = NvmlMeter("cuda", {"sample_hz": 50})
    assert meter.unavailable() is None
    try:
        alone = measure(meter, "train", 0.15)
        meter.start("eval")
        time.sleep(0.1)
        nvml._fake_set_state(0, others=[4343, 4242])  # two jobs arrive mid-phase, one leaves
        time.sleep(0.2)
        nvml._fake_set_state(0, others=[4343])
        time.sleep(0.1)
        shared = meter.stop("eval")
        after = measure(meter, "test", 0.15)
    finally:
        meter.close()

    assert (alone["other_processes"], alone["other_pids"], alone["other_processes_note"]) == (0, None, None)
    assert alone["fallbacks"] is None
    assert (shared["other_processes"], shared["other_pids"]) == (2, "4242,4343")
    assert (after["other_processes"], after["other_pids"]) == (1, "4343")


@pytest.mark.parametrize("gpu, others, said", [
    ({"own": "host_id", "others": [4242]}, 1, "counted, not named"),
    ({"own": "host_id"}, 0, "counted, not named"),
    ({"own": "hidden"}, None, "whether other processes shared it is unknown"),
    ({"processes": False}, None, "compute processes: NVMLError_NotSupported: Not Supported"),
])
def test_where_nvml_cannot_name_this_worker_other_processes_are_counted_or_unknown(fake_gpu, gpu, others, said):
    fake_gpu(gpu)
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    try:
        figures = measure(meter, "train", 0.15)
    finally:
        meter.close()

    assert (figures["other_processes"], figures["other_pids"]) == (others, None)
    assert said in figures["other_processes_note"]
    assert "processes" not in (figures["fallbacks"] or "")  # the energy figures' own fallbacks
    assert figures["energy_j"] > 0


@pytest.mark.parametrize("compute, said", [
    (lambda handle: [object()], "compute processes: AttributeError"),  # entries without a pid
    (None, "compute processes: AttributeError"),  # an nvidia-ml-py without the function
    (lambda handle: (_ for _ in ()).throw(TypeError("a library shaped otherwise")),
     "compute processes: TypeError: a library shaped otherwise"),
])
def test_a_process_list_that_fails_costs_the_phase_nothing_else(fake_gpu, monkeypatch, compute, said):
    nvml = fake_gpu({"idle_w": 60.0, "power_instant": True, "others": [4242]})
    if compute is None:
        monkeypatch.delattr(nvml, "nvmlDeviceGetComputeRunningProcesses")
    else:
        monkeypatch.setattr(nvml, "nvmlDeviceGetComputeRunningProcesses", compute)
    meter = NvmlMeter("cuda", {"sample_hz": 50})
    assert meter.unavailable() is None
    try:
        figures = measure(meter, "train", 0.2)
    finally:
        meter.close()

    assert "sampler_error" not in figures and figures["samples"] >= 5
    assert figures["energy_j"] == pytest.approx(60.0 * figures["seconds"], rel=0.05)
    assert figures["fallbacks"] is None
    # The graphics list still answers, empty: without this worker in any list, whether
    # others were there is unknown, and said.
    assert (figures["other_processes"], figures["other_pids"]) == (None, None)
    assert said in figures["other_processes_note"] and "unknown" in figures["other_processes_note"]


def test_idle_power_is_the_counter_rate_not_the_lagging_average(fake_gpu, monkeypatch):
    monkeypatch.setattr(NvmlMeter, "idle_seconds", 0.5)
    # The previous point worked the GPU at 130 W above idle until now; NVML's power
    # reading still averages over the last second, as on Ampere and Hopper.
    nvml = fake_gpu({"idle_w": 60.0, "power_window_s": 1.0})
    nvml.nvmlInit()
    gpu = nvml._state["gpus"][0]
    now = time.monotonic()
    gpu.set_load(now - 1.0, 130.0)
    gpu.set_load(now, 0.0)
    nvml.nvmlShutdown()
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    try:
        figures = measure(meter, "train", 0.05)
    finally:
        meter.close()

    assert figures["idle_method"] == "counter_rate"
    assert figures["idle_power_w"] == pytest.approx(60.0, rel=0.01)
    assert figures["idle_window_s"] == pytest.approx(0.5, abs=0.1)


def test_without_a_counter_idle_falls_back_to_power_samples_and_says_so(fake_gpu, short_idle):
    fake_gpu({"idle_w": 60.0, "energy_counter": False})
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    try:
        figures = measure(meter, "train", 0.05)
    finally:
        meter.close()

    assert figures["idle_method"] == "power_samples (average)"
    assert figures["idle_power_w"] == pytest.approx(60.0, rel=0.01)


def test_idle_is_measured_once_per_gpu_per_sweep(fake_gpu, short_idle, idle_cache):
    nvml = fake_gpu({"idle_w": 60.0, "uuid": UUID_A})
    first = NvmlMeter("cuda")
    assert first.unavailable() is None
    try:
        figures = measure(first, "train", 0.0)
    finally:
        first.close()
    nvml.nvmlInit()
    nvml._fake_set_state(0, load_w=100.0)  # the next point finds the GPU busy: not idle
    second = NvmlMeter("cuda")
    assert second.unavailable() is None
    try:
        again = measure(second, "train", 0.0)
    finally:
        second.close()
        nvml.nvmlShutdown()

    assert again["idle_power_w"] == figures["idle_power_w"] == pytest.approx(60.0, rel=0.01)
    assert list(json.loads(idle_cache.read_text())) == [UUID_A]


def test_a_phase_shorter_than_a_few_counter_updates_is_flagged(fake_gpu, monkeypatch):
    monkeypatch.setattr(NvmlMeter, "idle_seconds", 0.4)
    fake_gpu({"idle_w": 100.0, "counter_interval_s": 0.05})
    meter = NvmlMeter("cuda")
    assert meter.unavailable() is None
    try:
        short = measure(meter, "data", 0.08)
        long = measure(meter, "train", 0.5)
    finally:
        meter.close()

    assert short["counter_interval_s"] == pytest.approx(0.05, rel=0.1)
    assert short["short_phase"] is True and short["counter_updates"] < 5
    assert long["short_phase"] is False and long["counter_updates"] >= 5


@pytest.mark.parametrize("instant", [True, False])
def test_instantaneous_power_is_preferred_where_the_driver_has_it(fake_gpu, short_idle, instant):
    nvml = fake_gpu({"idle_w": 60.0, "power_window_s": 1.0, "power_instant": instant})
    meter = NvmlMeter("cuda", {"sample_hz": 50})
    assert meter.unavailable() is None
    try:
        meter.start("train")
        nvml._fake_set_state(0, load_w=200.0)
        time.sleep(0.3)
        figures = meter.stop("train")
    finally:
        meter.close()

    if instant:
        assert figures["power_source"] == "instant"
        assert figures["peak_power_w"] == pytest.approx(260.0, abs=0.01)
        assert figures["integrated_energy_j"] == pytest.approx(figures["energy_j"], rel=0.05)
    else:
        # The one-second average has climbed less than a third of the way after 0.3 s.
        assert figures["power_source"] == "average"
        assert figures["peak_power_w"] < 60.0 + 200.0 * 0.35


def test_instant_power_that_stops_mid_phase_falls_back_to_the_average_and_says_so(fake_gpu, short_idle):
    # Averaged power with no window reads what the instant field did, so the integrated
    # energy can only agree with the counter's if the samples after the switch kept power.
    nvml = fake_gpu({"idle_w": 60.0, "power_window_s": 0.0, "power_instant": True})
    meter = NvmlMeter("cuda", {"sample_hz": 50})
    assert meter.unavailable() is None
    try:
        meter.start("train")
        nvml._fake_set_state(0, load_w=200.0)
        time.sleep(0.2)
        nvml._fake_set_state(0, power_instant=False)
        time.sleep(0.4)
        figures = meter.stop("train")
    finally:
        meter.close()

    assert figures["power_source"] == "instant, then average"
    assert "instant power" in figures["fallbacks"]
    assert figures["integrated_energy_j"] == pytest.approx(figures["energy_j"], rel=0.05)
    assert figures["peak_power_w"] == pytest.approx(260.0, abs=0.01)


def test_a_report_says_which_runs_shared_their_gpu_or_had_too_short_a_phase(
        fake_gpu, install_plugin, write_suite, store_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    # Another process on the GPU; a counter updated every 50 ms, against phases of
    # milliseconds (the oracle's).
    fake_gpu({"uuid": UUID_A, "others": [4242], "counter_interval_s": 0.05})
    install_plugin("seqbench-on-a-gpu", ON_A_GPU)
    on_gpu = write_suite(GPU_SUITE.format(device="auto", model="fake:on-a-gpu"))
    on_cpu = write_suite(GPU_SUITE.format(device="cpu", model="oracle").replace('"gpu"', '"cpu"'), "cpu.toml")
    for suite in (on_gpu, on_cpu):
        assert CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)]).exit_code == 0

    gpu = CliRunner().invoke(main, ["report", "--store", str(store_path), "--suite", "gpu"])
    cpu = CliRunner().invoke(main, ["report", "--store", str(store_path), "--suite", "cpu"])
    exported = CliRunner().invoke(main, ["report", "--store", str(store_path), "--suite", "gpu", "--format", "json"])

    assert gpu.exit_code == 0, gpu.output
    shared = ("gpu: 1 run shared a GPU with other processes during training or evaluation (meter.nvml.<phase>.other_processes): "
              "their GPU energy, power and utilisation include the others' work")
    short = "gpu: 1 run has a train or eval phase shorter than a few updates of the GPU's energy counter"
    assert shared in gpu.stderr and short in gpu.stderr
    assert shared in exported.stderr
    (row,) = json.loads(exported.stdout)
    assert row["meter.nvml.train.other_processes"] == 1 and row["meter.nvml.train.other_pids"] == "4242"
    assert "shared a GPU" not in cpu.stderr and "energy counter" not in cpu.stderr
