"""Liu et al. 2023's flip-flop language: reads answered with the last bit written,
checked against a plain walk over each sequence, the instruction mix against FFL(p),
and the sparse and dense test splits."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench_tasks.flip_flop import ANSWER_SLOT, BIT_0, BIT_1, IGNORE, READ, WRITE, FlipFlop
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

W, R, I, ZERO, ONE, SLOT = WRITE, READ, IGNORE, BIT_0, BIT_1, ANSWER_SLOT


def _walk(row: list[int]) -> list[int]:
    """The answers by reading the sequence as the paper defines it, one pair at a time."""
    memory, answers = None, []
    for instruction, bit in zip(row[0::2], row[1::2]):
        if instruction == W:
            memory = bit
        answers += [0, memory if instruction == R else 0]
    return answers


def test_a_read_answers_the_last_bit_written_whatever_came_between():
    row = [W, ONE, I, ZERO, R, SLOT, W, ZERO, I, ONE, R, SLOT, R, SLOT]
    targets = FlipFlop(length=len(row)).solve(np.array([row]))
    assert targets.tolist() == [[0, 0, 0, 0, 0, ONE, 0, 0, 0, 0, 0, ZERO, 0, ZERO]]


def test_generated_sequences_are_ffl_sequences_with_their_reads_hidden_and_answered():
    task = FlipFlop(length=40, p_ignore=0.5)
    examples = task.generate(300, np.random.default_rng(0), "train")
    inputs = examples.inputs
    assert inputs.shape == examples.targets.shape == (300, 40)
    instructions, bits = inputs[:, 0::2], inputs[:, 1::2]
    assert (instructions[:, 0] == W).all() and (instructions[:, -1] == R).all()
    assert np.isin(instructions, [W, R, I]).all()
    assert ((bits == SLOT) == (instructions == R)).all()
    assert np.isin(bits[instructions != R], [ZERO, ONE]).all()
    for row, target in zip(inputs.tolist(), examples.targets.tolist()):
        assert target == _walk(row)


@pytest.mark.parametrize("split, expected", [("train", 0.8), ("validation", 0.8), ("test", 0.98)])
def test_instructions_follow_p_ignore_and_the_test_split_takes_its_own(split, expected):
    task = FlipFlop(length=202, p_ignore=0.8, test_p_ignore=0.98)
    inner = task.generate(400, np.random.default_rng(1), split).inputs[:, 2:-2:2]  # neither first nor last
    share_ignore = float(np.mean(inner == I))
    spread = np.sqrt(expected * (1 - expected) / inner.size)
    assert abs(share_ignore - expected) < 5 * spread
    # Write and read share the rest equally.
    writes, reads = np.sum(inner == W), np.sum(inner == R)
    assert abs(writes - reads) < 5 * np.sqrt(writes + reads)


def test_the_written_bits_are_uniform_so_a_constant_answer_scores_one_half():
    task = FlipFlop(length=64, p_ignore=0.1)
    examples = task.generate(500, np.random.default_rng(2), "test")
    constant = np.full_like(examples.targets, ONE)
    scores = task.score(constant, examples.targets)
    reads = np.sum(examples.targets != 0)
    assert abs(scores["accuracy"] - 0.5) < 5 * np.sqrt(0.25 / reads)
    assert task.score(examples.targets, examples.targets) == {"accuracy": 1.0, "exact_match": 1.0}


def test_only_read_positions_are_scored():
    task = FlipFlop(length=16)
    examples = task.generate(50, np.random.default_rng(3), "test")
    # Wrong everywhere but at the reads: still every answer right.
    predictions = np.where(examples.targets != 0, examples.targets, ONE + 1)
    assert task.score(predictions, examples.targets) == {"accuracy": 1.0, "exact_match": 1.0}


@pytest.mark.parametrize("setting, fragments", [
    ("length = 31", ["[task] flip-flop", "length must be even", "got 31"]),
    ("length = 2", ["[task] length: expected int >= 4", "got 2"]),
    ("p_ignore = 1.5", ["[task] p_ignore", "1.5"]),
    ("test_p_ignore = nan", ["[task]", "test_p_ignore", "nan"]),
], ids=["odd-length", "too-short", "not-a-probability", "nan"])
def test_a_bad_parameter_is_one_line_naming_it(tmp_path, store_path, setting, fragments):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "flip-flop"\n{setting}\n' + ORACLE)
    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path), "--dry-run"), store_path, *fragments)
