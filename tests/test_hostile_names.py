"""Issue 18, class 2: names become paths. Suite, model and metric names, seeds and
point hashes come from suite files and stores, which may be hostile; every file the
report writes stays under the folder it was told to write to, and no name crashes it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqbench.cli import main
from seqbench.paths import MAX_NAME_BYTES, safe_name
from seqbench.store import Store
from test_store import record


@pytest.mark.parametrize(
    "text", ["../../x", "/etc/passwd", "a/b\\c", "nul\x00byte", ".", "..", "", "é" * 300, "x" * 1000]
)
def test_safe_name_is_one_harmless_component(text):
    name = safe_name(text)

    assert name and name not in (".", "..")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert Path(name).name == name


def test_long_names_stay_distinct():
    assert safe_name("x" * 1000) != safe_name("x" * 1001)
    assert safe_name("seq_len=10,batch_size=4") == "seq_len=10,batch_size=4"


def hostile_store(path: Path, escape: Path) -> Path:
    """Two suites named to escape (by ``..`` and by an absolute path). (Text where a
    number belongs is refused: test_hostile_stores.py.)"""
    with Store(path) as store:
        store.write(record("p1", suite="s", epochs=2), {})
        store.write(record("p2", suite="s", epochs=2), {})
    climb = "../" * len(path.parent.relative_to(escape.parent).parts) + escape.name
    connection = sqlite3.connect(path)
    connection.execute(
        "UPDATE runs SET suite = ?, model = ?, point = ?, primary_metric = ? WHERE point = 'p1'",
        (climb + "/suite", climb + "/model", climb + "/point", climb + "/metric"),
    )
    connection.execute(
        "UPDATE runs SET suite = ?, model = ?, point = ? WHERE point = 'p2'",
        (str(escape / "suite"), "n\x00ul/" + "y" * 300, str(escape / "point")),
    )
    connection.commit()
    connection.close()
    return path


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


def test_hostile_store_writes_only_under_out(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    escape = tmp_path / "escaped"
    store = hostile_store(deep / "hostile.sqlite", escape)
    other = hostile_store(deep / "other.sqlite", escape)
    out, board = deep / "out", deep / "board"
    before = files_under(tmp_path)

    runs = [
        ["report", "--store", str(store), "--plot", "--out", str(out), "--tensorboard", str(board)],
        ["report", "--store", str(store), "--suite", str(escape / "suite"),
         "--compare", str(other), "--tensorboard", str(board)],
    ]
    for args in runs:
        result = CliRunner().invoke(main, args)
        assert "Traceback" not in result.output
        assert result.exit_code == 0, (result.output, result.exception)

    # SQLite's own -wal and -shm files beside the stores it reads are not the report's.
    written = {p for p in files_under(tmp_path) - before if p.parent != deep}
    outside = [p for p in written if not (p.is_relative_to(out) or p.is_relative_to(board))]
    assert outside == []
    assert not escape.exists()
    assert (out / "report.html").is_file()
    assert len([p for p in written if p.name.startswith("events.out")]) >= 4


def test_suites_whose_names_make_the_same_folder_name_get_folders_of_their_own(tmp_path):
    """"x y" and "x/y" are both x_y as a folder name (and "X_Y" is the same folder on
    macOS): the second suite's figures and tables overwrote the first's, and report.md
    linked both sections to them."""
    from seqbench.paths import distinct_safe_names

    names = ["x y", "x/y", "X_Y", "plain"]
    folders = distinct_safe_names(names)
    assert len({folder.casefold() for folder in folders.values()}) == 4
    assert folders["plain"] == "plain"  # a name no other shares keeps its plain form

    store = tmp_path / "store.sqlite"
    with Store(store) as writing:
        for index, suite in enumerate(names):
            writing.write(record(f"p{index}", suite=suite, epochs=2), {})
    out, board = tmp_path / "out", tmp_path / "board"
    result = CliRunner().invoke(main, ["report", "--store", str(store), "--plot", "--out", str(out),
                                       "--tensorboard", str(board)])
    assert result.exit_code == 0, result.output

    made = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert made == sorted(folders.values())
    assert all(any(out.joinpath(folder).glob("*.png")) for folder in made)
    page = (out / "report.md").read_text()
    assert all(f"]({folder}/" in page for folder in made)
    assert len([p for p in board.iterdir() if p.is_dir()]) == 4
