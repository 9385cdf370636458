"""Provenance names the CPU's widest vector extension: kernels built for it round
floating-point sums differently, so one seed's results differ between CPUs."""

from __future__ import annotations

import pytest

from seqbench.provenance import _cpu_simd


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse4_2 avx avx2 avx512f avx512bw", "avx512f"),
    ("fpu sse4_2 avx avx2", "avx2"),
    ("fpu sse2", None),
])
def test_the_widest_vector_extension_listed_is_recorded(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: X\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert _cpu_simd(cpuinfo) == expected


def test_an_arm_cpus_features_line_and_an_unreadable_file(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm\n")
    assert _cpu_simd(cpuinfo) == "asimd"
    assert _cpu_simd(tmp_path / "missing") is None


def test_a_gpu_library_failing_outside_its_own_errors_is_named_not_raised(monkeypatch):
    # Every point's worker records its machine: a broken NVML binding (a driver/library
    # mismatch raised as RuntimeError) must not fail the point, CPU points included.
    import types

    import seqbench.meters.nvml as nvml_meter
    from seqbench.provenance import gpu_provenance

    class Unrelated(Exception):
        pass

    def mismatch():
        raise RuntimeError("driver/library version mismatch")

    broken = types.SimpleNamespace(NVMLError=Unrelated, nvmlDeviceGetCount=mismatch, nvmlShutdown=mismatch)
    monkeypatch.setattr(nvml_meter, "start_nvml", lambda: (broken, None))

    found = gpu_provenance()

    assert found["gpus"] is None
    assert found["gpu_unavailable"] == "reading the GPUs failed: RuntimeError: driver/library version mismatch"


def test_nvml_failing_to_initialise_with_any_error_is_unavailable_with_the_reason(monkeypatch):
    import pynvml

    from seqbench.meters.nvml_lib import start_nvml

    def broken_init():
        raise OSError("undefined symbol: nvmlInit_v2")

    monkeypatch.setattr(pynvml, "nvmlInit", broken_init)

    assert start_nvml() == (None, "NVML failed to initialise: OSError: undefined symbol: nvmlInit_v2")
