"""Issue 18, class 7: store identity. Only a seqbench store is written: another
application's SQLite database and a store of a newer schema are refused with one line
and left byte for byte as they were (not even switched to WAL); a damaged file is one
line; a store in a folder nobody may write is still reported."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main
from seqbench.errors import UserError
from seqbench.store import Store
from test_store import record
from test_suite_validation import GOOD


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(args: list[str], *fragments: str) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def refused_untouched(tmp_path: Path, path: Path, *fragments: str) -> None:
    """``seqbench run`` and ``seqbench report`` both refuse ``path`` and change nothing."""
    suite = tmp_path / "good.toml"
    suite.write_text(GOOD)
    before = digest(path), sorted(tmp_path.iterdir())
    one_error_line(["run", str(suite), "--store", str(path)], str(path), *fragments)
    one_error_line(["report", "--store", str(path)], str(path), *fragments)
    with pytest.raises(UserError):
        Store(path)
    assert (digest(path), sorted(tmp_path.iterdir())) == before


def test_another_applications_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "app.db"
    connection = sqlite3.connect(path)
    connection.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);"
                             "INSERT INTO notes (text) VALUES ('mine');")
    connection.close()

    refused_untouched(tmp_path, path, "not a seqbench results store", "another application", "notes")

    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert [n for (n,) in connection.execute("SELECT name FROM sqlite_master")] == ["notes"]
    connection.close()


def test_a_database_claiming_another_application_id_is_refused(tmp_path):
    path = tmp_path / "app.db"
    with Store(path) as store:
        store.write(record(), {})
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA application_id = 1234")
    connection.close()

    refused_untouched(tmp_path, path, "not a seqbench results store")


def test_a_store_of_a_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "future.sqlite"
    with Store(path) as store:
        store.write(record(), {})
    connection = sqlite3.connect(path)
    connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()

    refused_untouched(tmp_path, path, "newer seqbench", "store schema 2")


def damage(path: Path, page: int) -> None:
    size = 4096
    data = bytearray(path.read_bytes())
    start = (page - 1) * size + (100 if page == 1 else 0)  # page 1 begins with the file header
    data[start:page * size] = b"\xa5" * (page * size - start)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("what", ["schema", "runs"])
def test_a_damaged_store_is_one_line(tmp_path, what):
    path = tmp_path / "damaged.sqlite"
    with Store(path) as store:
        store.write(record(), {})
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA page_size").fetchone() == (4096,)
    runs_page = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    connection.close()
    damage(path, 1 if what == "schema" else runs_page)
    suite = tmp_path / "good.toml"
    suite.write_text(GOOD)

    one_error_line(["report", "--store", str(path)], str(path))
    if what == "schema":
        one_error_line(["run", str(suite), "--store", str(path)], str(path))
        return
    # The schema reads, so the point runs; its record cannot be written, and is kept.
    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "malformed" in errors[0] and "kept in" in errors[0]
    assert len(list((tmp_path / "damaged.sqlite.unsaved").iterdir())) == 1


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write: its mode for a user, immutable for root."""
    folder = tmp_path / "ro"
    folder.mkdir()
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def make_read_only(folder: Path) -> None:
    folder.chmod(0o555)
    if os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("root here, and chattr +i is not allowed: no folder is read-only to us")


def test_a_store_in_a_read_only_folder_is_reported(read_only_folder):
    path = read_only_folder / "store.sqlite"
    with Store(path) as store:  # WAL mode: reading needs a -shm file beside it
        store.write(record("p1"), {})
    assert sorted(p.name for p in read_only_folder.iterdir()) == ["store.sqlite"]
    make_read_only(read_only_folder)

    result = CliRunner().invoke(main, ["report", "--store", str(path), "--format", "csv"])

    assert result.exit_code == 0, result.output
    assert "p1" in result.output or "adding" in result.output
    assert list(results.load(path)["point"]) == ["p1"]


def test_a_new_store_is_marked_as_seqbench(tmp_path):
    path = tmp_path / "new.sqlite"
    Store(path).close()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA application_id").fetchone() == (0x5371426E,)
    connection.close()
    Store(path).close()  # and opened again
