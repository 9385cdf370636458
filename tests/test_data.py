"""Deterministic chunked splits and their batches."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench import data
from seqbench.data import CHUNK_SIZE, Split
from seqbench_tasks import Adding


def rows(examples) -> list[bytes]:
    return [row.tobytes() for row in examples.inputs]


def test_a_shuffled_epoch_yields_every_example_exactly_once():
    split = Split(Adding(seq_len=5), "train", 2 * CHUNK_SIZE + 300, seed=0)
    split.prepare()
    seen = [r for batch in split.batches(128, np.random.default_rng(0)) for r in rows(batch)]
    assert sorted(seen) == sorted(rows(split.materialize()))


def test_batches_are_full_except_the_last():
    split = Split(Adding(seq_len=5), "train", 1_000, seed=0)
    sizes = [len(batch) for batch in split.batches(300)]
    assert sizes == [300, 300, 300, 100]


def test_the_data_do_not_depend_on_the_batch_size():
    split = Split(Adding(seq_len=5), "train", 3_000, seed=1)
    small = np.concatenate([b.inputs for b in split.batches(7)])
    large = np.concatenate([b.inputs for b in split.batches(1_000)])
    np.testing.assert_array_equal(small, large)


def test_streamed_splits_equal_cached_ones(monkeypatch):
    task = Adding(seq_len=5)
    cached = Split(task, "test", 2_500, seed=2)
    cached.prepare()
    monkeypatch.setattr(data, "CACHE_LIMIT_BYTES", 0)
    streamed = Split(task, "test", 2_500, seed=2)
    streamed.prepare()
    assert streamed._cache is None
    np.testing.assert_array_equal(streamed.materialize().inputs, cached.materialize().inputs)


def test_shuffling_changes_order_between_epochs():
    split = Split(Adding(seq_len=5), "train", 2_000, seed=3)
    rng = np.random.default_rng(0)
    first = next(iter(split.batches(50, rng))).inputs
    second = next(iter(split.batches(50, rng))).inputs
    assert not np.array_equal(first, second)


def test_an_epoch_over_100_000_sequences_of_length_1000_keeps_memory_bounded():
    # 100,000 x 1,000 adding examples are 800 MB as float32; streamed, a pass must hold
    # only a chunk or two at a time. Measured in a fresh process so nothing else counts,
    # as its own VmHWM: getrusage's ru_maxrss also counts the parent's memory at the
    # fork (here pytest's, with torch and TensorFlow loaded).
    import subprocess
    import sys

    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent (this
    # pytest process, hundreds of MB once torch is loaded) across exec.
    script = """
from seqbench.data import Split
from seqbench_tasks import Adding
split = Split(Adding(seq_len=1000), "train", 100_000, seed=0)
split.prepare()
assert split._cache is None
seen = sum(len(batch) for batch in split.batches(512))
assert seen == 100_000, seen
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    peak_mib = int(result.stdout.strip())
    assert peak_mib < 400, f"peak RSS {peak_mib} MiB"


def test_a_task_sets_how_many_examples_each_generate_call_makes():
    class SmallChunks(Adding):
        chunk_size = 300

    calls: list[int] = []
    task = SmallChunks(seq_len=5)
    original = task.generate
    task.generate = lambda count, rng, split="train": calls.append(count) or original(count, rng, split)
    split = Split(task, "train", 1_000, seed=0)
    assert len(split.materialize()) == 1_000
    assert calls == [300, 300, 300, 100]


def test_a_chunk_size_below_one_is_refused_naming_the_task():
    class NoChunks(Adding):
        chunk_size = 0

    with pytest.raises(ValueError, match="'adding'.*chunk_size"):
        Split(NoChunks(seq_len=5), "train", 10, seed=0)


def test_fresh_training_data_are_new_every_epoch_and_the_first_is_the_fixed_set():
    from seqbench.data import FreshTrain

    task = Adding(seq_len=5)
    fixed = Split(task, "train", 1_500, seed=4).materialize()
    fresh = FreshTrain(task, 1_500, seed=4)
    fresh.prepare()
    first = fresh.materialize()
    fresh.start_epoch(2)
    second, again = fresh.materialize(), fresh.materialize()
    fresh.start_epoch(3)
    third = fresh.materialize()
    np.testing.assert_array_equal(first.inputs, fixed.inputs)
    np.testing.assert_array_equal(second.inputs, again.inputs)  # one epoch, one set
    assert not set(rows(first)) & set(rows(second))
    assert not set(rows(second)) & set(rows(third))
    replay = FreshTrain(task, 1_500, seed=4)
    replay.start_epoch(2)
    np.testing.assert_array_equal(replay.materialize().inputs, second.inputs)


def test_fresh_training_data_never_hold_a_validation_or_test_input():
    # subsequence's inputs are few (a 10-digit code), so only the task's own split
    # assignment keeps them apart: fresh epochs must still be drawn as train.
    from seqbench.data import FreshTrain
    from seqbench_tasks import Subsequence

    task = Subsequence(length=6, max_start=2, min_len=1)
    held_out = set(rows(Split(task, "validation", 2_000, seed=0).materialize()))
    held_out |= set(rows(Split(task, "test", 2_000, seed=0).materialize()))
    fresh = FreshTrain(task, 2_000, seed=0)
    for epoch in (2, 3, 4):
        fresh.start_epoch(epoch)
        assert not set(rows(fresh.materialize())) & held_out


def test_a_run_with_fresh_data_trains_on_new_examples_from_the_second_epoch(tmp_path):
    # The real torch loop, unchanged: the harness moves the train split on after each
    # epoch it hears of. Epoch 1 is the fixed set, so its loss is the same either way.
    from seqbench.pipeline import run_point
    from seqbench.suite import load_suite

    suite = tmp_path / "fresh.toml"
    text = (
        '[suite]\nname = "fresh"\n[run]\nepochs = 3\ntrain_size = 256\neval_size = 64\n'
        'batch_size = 64\ndevice = "cpu"\n[task]\nname = "adding"\nseq_len = 8\n'
        '[[model]]\nname = "torch:lstm"\nhidden = 8\n'
    )
    suite.write_text(text + '[sweep]\nrun.train_data = ["fixed", "fresh"]\n')
    unset = tmp_path / "unset.toml"
    unset.write_text(text)
    # Unset, the setting is not part of a point's identity: stored hashes stay valid.
    assert "train_data" not in load_suite(unset).points[0].config()["run"]
    loss = {}
    for point in load_suite(suite).points:  # in this process: no worker start-up to wait for
        record = run_point(point)
        assert record.status == "ok", record.error
        loss[point.run.train_data] = [row["train_loss"] for row in record.curves]
    assert len(loss["fixed"]) == len(loss["fresh"]) == 3
    assert loss["fixed"][0] == loss["fresh"][0]
    assert loss["fixed"][1] != loss["fresh"][1] and loss["fixed"][2] != loss["fresh"][2]


def _windows_task(mode: str):
    """An adding task serving views of one precomputed pool (legitimate: nothing is
    ever rewritten), or refilling one buffer on every call (not)."""
    from seqbench.task import Examples as TaskExamples
    from seqbench_tasks.adding import Adding

    pool = Adding(seq_len=6).generate(600, np.random.default_rng(0))
    buffer = (np.empty((16, 6, 2), dtype=pool.inputs.dtype), np.empty(16, dtype=pool.targets.dtype))

    class Windows(Adding):
        chunk_size = 16

        def generate(self, count, rng, split="train"):
            if mode == "windows":  # overlapping windows: chunks share memory, values never change
                start = int(rng.integers(0, 600 - count))
                return TaskExamples(pool.inputs[start:start + count], pool.targets[start:start + count])
            if mode == "fixed":  # the same rows on every call
                return TaskExamples(pool.inputs[:count], np.broadcast_to(pool.targets[0], (count,)))
            fresh = super().generate(count, rng, split)
            buffer[0][:count], buffer[1][:count] = fresh.inputs, fresh.targets
            if count == len(buffer[0]):  # the buffer itself, alive as long as the task
                return TaskExamples(*buffer)
            return TaskExamples(buffer[0][:count], buffer[1][:count])

    return Windows(seq_len=6)


@pytest.mark.parametrize("mode", ["windows", "fixed"])
def test_views_of_one_dataset_that_never_change_are_examples_like_any(mode):
    task = _windows_task(mode)
    for seed in range(5):
        for name in ("train", "validation", "test"):
            Split(task, name, 64, seed).prepare()


def test_a_task_refilling_one_buffer_fails_and_a_model_writing_into_its_batches_is_not_its_fault():
    from seqbench.plugin_output import PluginOutputError

    with pytest.raises(PluginOutputError, match="changed the examples it returned before"):
        Split(_windows_task("refill"), "train", 64, 0).prepare()
    # A model that writes into the batches it is given changes them after they were
    # handed on: the task's next generate call (an evaluation length's split) is not blamed.
    task = _windows_task("windows")
    first = Split(task, "validation", 16, 0)
    first.prepare()
    for batch in first.batches(16):
        batch.inputs[...] = 0.0  # the model's doing (views of the task's pool, here)
    Split(task, "test", 16, 1).prepare()


def test_after_a_refilling_task_fails_the_next_tasks_chunks_are_not_blamed_for_it():
    # The refilled buffer stays alive (the task holds it) and changed after it was
    # handed: compared with another task's chunk, it failed every later point in the
    # process (100 tests in one pytest worker).
    from seqbench.plugin_output import PluginOutputError

    refilling = _windows_task("refill")
    with pytest.raises(PluginOutputError):
        Split(refilling, "train", 64, 0).prepare()
    refilling.generate(16, np.random.default_rng(1))  # refilled again, outside any split
    Split(Adding(seq_len=6), "train", 64, 0).prepare()
    Split(_windows_task("windows"), "train", 64, 0).prepare()
