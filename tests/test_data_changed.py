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


def test_a_data_file_replaced_during_a_point_fails_its_lengths_not_their_data(tmp_path, monkeypatch):
    """eval_lengths builds the task again at each length, which reads the data file
    again: one replaced after the point's test split gave the lengths' results from the
    new file's lines, under the point's data version."""
    from seqbench import pipeline

    data = tmp_path / "lines.txt"
    data.write_text(SAMPLE.read_text())
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[run]\ntrain_size = 8\neval_size = 8\nepochs = 1\neval_lengths = [2, 3]\n'
                     f'[task]\nname = "polynomial"\ndata_file = "{data}"\ndata_file_split = "test"\n'
                     '[[model]]\nname = "oracle"\n')
    (point,) = load_suite(suite).points
    unchanged = run_point(point)
    assert unchanged.ok and [entry.get("error") for entry in unchanged.length_metrics] == [None, None]

    predict = pipeline.predict_split

    def replacing_after_the_test_split(*args, **kwargs):
        answer = predict(*args, **kwargs)
        lines = SAMPLE.read_text().splitlines()
        replacement = tmp_path / "replacement.txt"
        replacement.write_text("\n".join(lines[1:]) + "\n")
        replacement.replace(data)
        return answer

    monkeypatch.setattr(pipeline, "predict_split", replacing_after_the_test_split)
    record = run_point(point)

    assert record.ok and record.metrics == unchanged.metrics  # the point's own data
    assert [entry["length"] for entry in record.length_metrics] == [2, 3]
    for entry in record.length_metrics:
        assert "metrics" not in entry
        assert entry["error"].startswith("DataChanged: task 'polynomial': data version ")
