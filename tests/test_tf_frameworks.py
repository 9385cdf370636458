"""torch and TensorFlow points in one sweep: the shipped parity suite (narrowed to one
length and one seed, in --smoke) runs both frameworks two points at a time, every point
succeeds, and each point's results equal those of the same point run on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main

pytest.importorskip("torch")
pytest.importorskip("seqbench_tensorflow")

FRAMEWORKS = Path(__file__).resolve().parent.parent / "suites" / "frameworks.toml"
ALONE = ("torch:lstm", "tf:lstm")  # trained models, deterministic for a seed


def narrowed(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"suites/frameworks.toml no longer has {old!r}"
        text = text.replace(old, new)
    return text


def split_models(text: str) -> tuple[str, dict[str, str]]:
    """The suite's settings, and each [[model]] block by model name."""
    header, *blocks = text.split("[[model]]\n")
    by_name = {block.split('"')[1]: "[[model]]\n" + block for block in blocks}
    return header, by_name


def run_suite(path: Path, store: Path, *options: str):
    result = CliRunner().invoke(main, ["run", str(path), "--smoke", "--store", str(store), *options])
    assert result.exit_code == 0, result.output
    return results.load(store).set_index("point"), results.load_curves(store)


def learning_curve(curves, model: str) -> list[tuple[int, str, float]]:
    """(epoch, quantity, value) of a run's loss and validation curve (not its timings)."""
    rows = curves[(curves["model"] == model) & curves["name"].isin(["train_loss", "val_mse", "val_mae"])]
    return list(rows[["epoch", "name", "value"]].itertuples(index=False, name=None))


def test_torch_and_tensorflow_points_in_one_sweep_do_not_disturb_each_other(tmp_path, monkeypatch):
    # The same thread settings for the sweep and the lone runs (--jobs 2 would otherwise
    # give each point one thread, and a different summation order than a lone run's).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    text = narrowed(FRAMEWORKS.read_text(), {"seeds = [0, 1, 2]": "seeds = [0]", "task.seq_len = [25, 100]": "task.seq_len = [25]"})
    header, models = split_models(text)
    assert {"torch:lstm", "tf:lstm", "torch:attention", "tf:attention", "torch:oracle", "tf:oracle"} <= set(models)
    mixed = tmp_path / "mixed.toml"
    mixed.write_text(text)
    together, together_curves = run_suite(mixed, tmp_path / "mixed.sqlite", "--jobs", "2")

    assert set(together["status"]) == {"ok"}
    assert set(together["model"]) == set(models)
    for oracle in ("torch:oracle", "tf:oracle"):
        assert together.loc[together["model"] == oracle, "metric.mse"].item() < 1e-12

    for name in ALONE:
        alone_suite = tmp_path / f"{name.replace(':', '-')}.toml"
        alone_suite.write_text(narrowed(header, {'name = "frameworks"': f'name = "alone-{name}"'}) + models[name])
        alone, alone_curves = run_suite(alone_suite, tmp_path / f"{alone_suite.stem}.sqlite")
        (point,) = alone.index  # the same configuration, so the same point hash
        assert together.loc[point, "model"] == name
        metrics = [c for c in alone.columns if c.startswith("metric.")]
        assert alone.loc[point, metrics].tolist() == together.loc[point, metrics].tolist()
        assert learning_curve(alone_curves, name) == learning_curve(together_curves, name)
        assert len(learning_curve(alone_curves, name)) == 2 * 3  # two epochs under --smoke
