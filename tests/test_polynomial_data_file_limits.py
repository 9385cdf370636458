"""polynomial's data_file: a byte-order mark, the limits that bound the memory and time
a file takes to validate, and reading an unchanged file once per process."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import seqbench_tasks.polynomial_file as polynomial_file
from seqbench_tasks import Polynomial
from seqbench_tasks.polynomial_file import MAX_LINE_BYTES
from seqbench_tasks.polynomial_tokens import encode_pairs
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

SAMPLE = Path(__file__).resolve().parent / "data" / "polynomial_sample.txt"
BOM = b"\xef\xbb\xbf"


def lines_of(task: Polynomial) -> list[str]:
    """The file's lines as the task holds them."""
    inputs, targets, _ = task._data
    return [f"{f}={e}" for f, e in zip(task.decode(inputs), task.decode(targets))]


def test_a_byte_order_mark_is_skipped_and_keeps_the_data_version(tmp_path):
    """Suites accept the mark some editors write; a data file was refused as "line 1:
    not ASCII text". It says how the text is encoded, not what it says."""
    marked = tmp_path / "marked.txt"
    marked.write_bytes(BOM + SAMPLE.read_bytes())

    task = Polynomial(data_file=str(marked))

    assert lines_of(task) == SAMPLE.read_text().split()
    assert task.data_version() == Polynomial(data_file=str(SAMPLE)).data_version()


def test_a_byte_order_mark_after_the_start_is_not_ascii_text(tmp_path):
    path = tmp_path / "late_mark.txt"
    path.write_bytes(SAMPLE.read_bytes() + BOM + b"x*(x+1)=x**2+x\n")

    with pytest.raises(ValueError, match="line 62: not ASCII text"):
        Polynomial(data_file=str(path))


def test_the_generators_longest_lines_fit_the_line_limit(tmp_path):
    """At its largest settings (factors = 12, the largest numbers 64-bit coefficients
    allow, every variable a function) the generator's lines are all readable back."""
    task = Polynomial(factors=12, max_coefficient=20, max_constant=23, unit_coefficient=0.0)
    examples = task.generate(3_000, np.random.default_rng(0))
    lines = [f"{f}={e}" for f, e in zip(task.decode(examples.inputs), task.decode(examples.targets))]
    path = tmp_path / "long.txt"
    path.write_text("\n".join(lines) + "\n")

    assert max(map(len, lines)) > 450
    assert lines_of(Polynomial(data_file=str(path))) == lines


def test_a_line_at_the_limit_is_read_and_one_byte_over_is_refused_naming_it(tmp_path):
    at_limit = "1" * (MAX_LINE_BYTES - 2) + "=1"
    path = tmp_path / "at_limit.txt"
    path.write_text(SAMPLE.read_text() + at_limit + "\n")
    assert lines_of(Polynomial(data_file=str(path)))[-1] == at_limit

    path.write_text(SAMPLE.read_text() + "1" + at_limit + "\n" + "x*(x+1)\n")
    message = f"line 62 is longer than {MAX_LINE_BYTES:,} bytes; allowed: at most {MAX_LINE_BYTES:,}"
    with pytest.raises(ValueError, match=re.escape(message)):
        Polynomial(data_file=str(path))


def test_a_line_longer_than_a_slice_is_refused_without_tokenising_it(tmp_path):
    """One 4 MB line after 325 short ones asked for 9.7 GiB: every line padded to it."""
    path = tmp_path / "one_long_line.txt"
    path.write_text(SAMPLE.read_text() + "1" * 8_000_000 + "=1\n")

    with pytest.raises(ValueError, match=f"line 62 is longer than {MAX_LINE_BYTES:,} bytes"):
        Polynomial(data_file=str(path))


def test_pairs_padded_past_the_array_limit_are_refused_naming_the_longest_lines(tmp_path, monkeypatch):
    """Short lines padded to one long line multiply: 64 million 4-byte lines padded to
    one of 1,024 bytes would take 128 GiB."""
    monkeypatch.setattr(polynomial_file, "MAX_TOKEN_ARRAY_BYTES", 2**20)
    path = tmp_path / "padded.txt"
    path.write_text(SAMPLE.read_text() * 20)
    assert len(lines_of(Polynomial(data_file=str(path)))) == 1_220  # 0.1 MiB padded

    path.write_text(SAMPLE.read_text() * 20 + "1" * 1_000 + "=1\n")
    with pytest.raises(ValueError) as refused:
        Polynomial(data_file=str(path))

    assert str(refused.value) == (
        f"data_file {str(path)!r}: its 1,221 pairs padded to the longest input (line 1221: 1,000 "
        "tokens) and target (line 55: 23 tokens) would take 3 MiB; allowed: at most 1 MiB (move the "
        "longest lines to a file of their own, or split the file)")


def test_lines_across_slices_parse_as_in_one_and_bad_lines_keep_their_numbers(monkeypatch):
    import seqbench_tasks.polynomial_tokens as polynomial_tokens

    lines = SAMPLE.read_text().split() * 40
    whole = encode_pairs(("\n".join(lines) + "\n").encode(), "f", MAX_LINE_BYTES, 2**30)
    monkeypatch.setattr(polynomial_tokens, "_SLICE_BYTES", 1)  # slices of a line's limit + 2

    sliced = encode_pairs(("\n".join(lines) + "\n").encode(), "f", MAX_LINE_BYTES, 2**30)
    assert len(whole[0]) == 2_440 and all(np.array_equal(a, b) for a, b in zip(whole, sliced))
    lines[2_000] = "x*(x+1)"
    with pytest.raises(ValueError, match="^f: line 2001 is not a factored=expanded pair"):
        encode_pairs("\n".join(lines).encode(), "f", MAX_LINE_BYTES, 2**30)


def test_an_overlong_line_is_one_line_of_error_naming_the_file_and_the_limit(tmp_path, store_path):
    data = tmp_path / "lines.txt"
    data.write_text(SAMPLE.read_text() + "1" * 65_536 + "=1\n")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[task]\nname = "polynomial"\ndata_file = "{data}"\n' + ORACLE)

    result = invoke_run(str(suite), "--store", str(store_path), "--dry-run")

    assert_one_line_error(result, store_path, "[task]", "data_file", str(data),
                          f"line 62 is longer than {MAX_LINE_BYTES:,} bytes")


@pytest.fixture
def reads(monkeypatch):
    """The data files read_regular_file opened, in order."""
    opened: list[str] = []
    real = polynomial_file.read_regular_file
    monkeypatch.setattr(polynomial_file, "read_regular_file",
                        lambda path, limit: opened.append(path) or real(path, limit))
    return opened


def backdate_mtime(path: Path) -> None:
    """Make st_mtime look long past, as ``touch -d`` or ``cp -p`` can; st_ctime stays the kernel's."""
    os.utime(path, ns=(0, 0))


def test_an_unchanged_file_is_read_and_hashed_once(tmp_path, monkeypatch, reads):
    """A 64 MB file was read and hashed again at every grid point validated (0.1 s each)."""
    # Every change counts as long past (raising=False: fails on what it does where it has no slack).
    monkeypatch.setattr(polynomial_file, "_TIMESTAMP_SLACK_NS", -10**12, raising=False)
    path = tmp_path / "lines.txt"
    path.write_text(SAMPLE.read_text())

    versions = {Polynomial(data_file=str(path)).data_version() for _ in range(5)}
    assert len(reads) == 1 and len(versions) == 1

    path.write_text(SAMPLE.read_text().replace("\n", " \n", 1))  # same lines, one byte more
    changed = Polynomial(data_file=str(path)).data_version()
    assert len(reads) == 2 and changed != versions.pop()

    replacement = tmp_path / "replacement.txt"
    replacement.write_text("\n".join(SAMPLE.read_text().split()[::-1]) + "\n")
    os.replace(replacement, path)  # another inode at the same path
    assert Polynomial(data_file=str(path)).data_version() != changed and len(reads) == 3


def test_a_file_changed_within_the_timestamps_coarseness_is_read_every_time(tmp_path, reads):
    """A rewrite in the same clock tick can leave every stat field as it was: a file
    changed that recently is never taken as unchanged."""
    path = tmp_path / "fresh.txt"
    path.write_text(SAMPLE.read_text())
    backdate_mtime(path)

    for _ in range(3):
        Polynomial(data_file=str(path))

    assert len(reads) == 3


def test_a_files_splits_are_hashed_once_per_content(tmp_path, monkeypatch):
    """Each task built hashed every line for its split again: 0.8 s a point for 64 MB."""
    calls = []
    real = polynomial_file.split_of
    monkeypatch.setattr(polynomial_file, "split_of", lambda rows: calls.append(len(rows)) or real(rows))
    path = tmp_path / "lines.txt"
    path.write_text(SAMPLE.read_text() + "\n\n")  # content no other test has parsed

    tasks = [Polynomial(data_file=str(path)) for _ in range(4)]

    assert calls == [61]
    assert all(task._data[2] is tasks[0]._data[2] for task in tasks)


def test_a_line_at_the_limit_is_read_whatever_its_line_ending(tmp_path):
    """The \\r of a CRLF ending counted toward the limit: the same line passed with \\n
    and was refused with \\r\\n."""
    at_limit = "1" * (MAX_LINE_BYTES - 2) + "=1"
    path = tmp_path / "crlf.txt"
    path.write_bytes((SAMPLE.read_text() + at_limit + "\n").replace("\n", "\r\n").encode())

    assert lines_of(Polynomial(data_file=str(path)))[-1] == at_limit


def test_a_path_through_a_link_and_dot_dot_reads_the_file_the_system_opens(tmp_path, monkeypatch):
    """``link/../data.txt`` was normalised as text to ``data.txt`` beside the link: no
    such file, or (worse) another file of that name read without a word."""
    real, work = tmp_path / "real", tmp_path / "work"
    (real / "sub").mkdir(parents=True)
    work.mkdir()
    (real / "data.txt").write_bytes(SAMPLE.read_bytes())
    lines = SAMPLE.read_text().splitlines()
    (work / "data.txt").write_text("\n".join(lines[:30]) + "\n")  # another file, text-path's target
    (work / "link").symlink_to(real / "sub")
    monkeypatch.chdir(work)

    task = Polynomial(data_file="link/../data.txt")

    assert lines_of(task) == SAMPLE.read_text().split()


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", BOM], ids=["empty", "blank", "bom-only"])
def test_an_evaluation_file_without_lines_is_refused_when_the_task_is_built(tmp_path, content):
    """It was accepted, then every point failed generating its test split (IndexError)."""
    path = tmp_path / "none.txt"
    path.write_bytes(content)

    with pytest.raises(ValueError, match="holds no factored=expanded lines to test on"):
        Polynomial(data_file=str(path), data_file_split="test")
