"""`seqbench tasks` marks each task's length parameter and shows its input and target
kinds with the models that serve them; oracles do not list the training parameters
they ignore, and a sweep of one does not multiply their points."""

from __future__ import annotations

from click.testing import CliRunner

from seqbench.cli import main
from seqbench.suite import load_suite


def blocks(command: str) -> dict[str, str]:
    output = CliRunner().invoke(main, [command]).output
    return {block.split("  ", 1)[0]: block for block in output.split("\n\n") if block.strip()}


def test_tasks_mark_the_length_parameter_and_show_kinds_and_models():
    adding = blocks("tasks")["adding"]
    assert "    seq_len: int >= 2 = 100  [length]  T: steps per sequence" in adding
    assert "  inputs -> targets: continuous -> scalar" in adding
    models = adding.split("  models: ", 1)[1].splitlines()[0].split(", ")
    assert "torch:lstm" in models and "numpy:ridge" in models and "oracle" not in models
    assert "[length]" not in blocks("tasks")["adding"].split("placement", 1)[1]


def test_oracles_list_no_training_parameter_and_a_sweep_of_one_does_not_multiply_them(write_suite):
    oracle = blocks("models")["torch:oracle"]
    assert "lr:" not in oracle and "optimizer:" not in oracle and "clip:" not in oracle
    assert "lr:" in blocks("models")["torch:lstm"]
    suite = write_suite("[task]\nname='adding'\nseq_len=5\n[sweep]\nmodel.lr=[1e-3, 1e-2]\n"
                        "[[model]]\nname='torch:lstm'\n[[model]]\nname='torch:oracle'\n")
    models = sorted(point.model for point in load_suite(suite).points)
    assert models == ["torch:lstm", "torch:lstm", "torch:oracle"]
