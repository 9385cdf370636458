"""A point whose task makes other data in the worker than when its suite validated (a
data file replaced in between) fails, rather than storing the new data's results under
the old data's identity, which a resumed run would then take as done."""

from __future__ import annotations

from pathlib import Path

from seqbench.pipeline import run_point
from seqbench.suite import load_suite

SAMPLE = Path(__file__).resolve().parent / "data" / "polynomial_sample.txt"


def test_a_data_file_replaced_after_validation_fails_its_points(tmp_path):
    data = tmp_path / "lines.txt"
    data.write_text(SAMPLE.read_text())
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[run]\ntrain_size = 8\neval_size = 8\nepochs = 1\n[task]\nname = "polynomial"\n'
                     f'data_file = "{data}"\n[[model]]\nname = "oracle"\n')
    (point,) = load_suite(suite).points
    assert run_point(point).ok

    lines = SAMPLE.read_text().splitlines()
    replacement = tmp_path / "replacement.txt"
    replacement.write_text("\n".join(lines[1:]) + "\n")
    replacement.replace(data)  # as `mv` does: another file at the same path
    record = run_point(point)

    assert not record.ok
    assert record.error.startswith("DataChanged: task 'polynomial': data version ")
    assert f", {point.task_data_version} when the suite was validated" in record.error
    assert not record.metrics
