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
