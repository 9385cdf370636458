"""Issue 18, class 4: validation that could hang or exhaust memory. Duplicate checks are
linear, a grid over --max-points is refused before it is expanded, only a regular file
of bounded size is read, and deep nesting is one line, not a RecursionError."""

from __future__ import annotations

import os
import tomllib

import pytest

from seqbench import suite as suite_module
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

TASK = '[task]\nname = "adding"\n'


class Counted(int):
    """An int that counts how often it is compared for equality."""

    comparisons = 0
    __hash__ = int.__hash__

    def __eq__(self, other: object) -> bool:
        Counted.comparisons += 1
        return int.__eq__(self, other)


def test_duplicate_check_of_a_sweep_list_is_linear(tmp_path, store_path, monkeypatch):
    size = 2_000
    values = [*range(2, size + 2), size + 1]  # the repeat is the last value
    path = tmp_path / "long.toml"
    path.write_text(TASK + ORACLE + f"[sweep]\ntask.seq_len = {values}\n")

    parse = tomllib.loads

    def counted(text: str) -> dict:
        raw = parse(text)
        raw["sweep"]["task"]["seq_len"] = [Counted(v) for v in raw["sweep"]["task"]["seq_len"]]
        return raw

    def counted_load(handle) -> dict:  # the reader before this change read a handle
        return counted(handle.read().decode())

    monkeypatch.setattr(tomllib, "loads", counted)
    monkeypatch.setattr(tomllib, "load", counted_load)
    Counted.comparisons = 0

    result = invoke_run(str(path), "--store", str(store_path))

    assert_one_line_error(result, store_path, "[sweep] task.seq_len: repeated value 2001", "2,001 values")
    assert Counted.comparisons < 10 * size  # a quadratic check makes about size**2


@pytest.mark.parametrize(
    "grid, option, fragment",
    [
        ("task.seq_len = [5, 6, 7]\nrun.batch_size = [1, 2]\n", ["--max-points", "5"],
         "up to 6 points (3 task.seq_len x 2 run.batch_size x 1 models x 1 seeds), more than --max-points 5"),
        (f"task.seq_len = {list(range(2, 1002))}\nrun.epochs = {list(range(1, 1001))}\n", [],
         "up to 1,000,000 points"),
    ],
    ids=["option", "default-100000"],
)
def test_grid_over_max_points_is_refused_before_expanding(tmp_path, store_path, monkeypatch, grid, option, fragment):
    path = tmp_path / "grid.toml"
    path.write_text(TASK + ORACLE + "[sweep]\n" + grid)
    monkeypatch.setattr(suite_module, "Point", None)  # expanding would call it

    result = invoke_run(str(path), "--store", str(store_path), *option)

    assert_one_line_error(result, store_path, f"Error: {path}: [sweep] makes {fragment}", "raise --max-points")


def test_grid_at_max_points_runs(tmp_path, store_path):
    path = tmp_path / "grid.toml"
    path.write_text(TASK + ORACLE + "[sweep]\ntask.seq_len = [5, 6]\n")

    result = invoke_run(str(path), "--store", str(store_path), "--max-points", "2", "--dry-run")

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_only_a_regular_file_is_read(tmp_path, store_path, kind):
    if kind == "fifo":
        path = tmp_path / "suite.toml"
        os.mkfifo(path)  # opening it would wait for a writer forever
    else:
        path = tmp_path / "zero.toml"
        path.symlink_to("/dev/zero")  # reading it would never end

    result = invoke_run(str(path), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {path}: not a regular file")


def test_an_oversized_suite_file_is_refused(tmp_path, store_path):
    path = tmp_path / "huge.toml"
    path.write_bytes(TASK.encode() + ORACLE.encode() + b"# padding\n" * 500_000)

    result = invoke_run(str(path), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {path}: over 4 MiB")


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 50_000 + "]" * 50_000 + "\n" + TASK + ORACLE,
        TASK + ORACLE + "[sweep]\ntask." + "a." * 5_000 + "b = [1]\n",
    ],
    ids=["nested-arrays", "nested-sweep-tables"],
)
def test_deep_nesting_is_one_line(tmp_path, store_path, text):
    path = tmp_path / "deep.toml"
    path.write_text(text)

    result = invoke_run(str(path), "--store", str(store_path))

    assert_one_line_error(result, store_path, f"Error: {path}: ")
