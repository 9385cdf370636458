"""A suite file is read again, by report and prune, in the folder its runs started in
(seqbench/prune.py): a relative path in it (polynomial's data_file) means what it meant
to the run."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from seqbench import results
from seqbench.cli import main

SAMPLE = Path(__file__).resolve().parent / "data" / "polynomial_sample.txt"
SUITE = ('[suite]\nname = "poly"\n[run]\ntrain_size = 8\neval_size = 8\nepochs = 1\n'
         '[task]\nname = "polynomial"\ndata_file = "pairs.txt"\n[[model]]\nname = "oracle"\n')


def _folders(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """A suite file on its own, the folder its run starts in, another folder holding
    another file of the same name, and the store."""
    suites, ran, other = tmp_path / "suites", tmp_path / "ran", tmp_path / "other"
    for folder in (suites, ran, other):
        folder.mkdir()
    lines = SAMPLE.read_text().splitlines(keepends=True)
    (ran / "pairs.txt").write_text("".join(lines))
    (other / "pairs.txt").write_text("".join(reversed(lines)))  # another data version
    suite = suites / "poly.toml"
    suite.write_text(SUITE)
    return suite, ran, other, tmp_path / "store.sqlite"


def _invoke(monkeypatch, folder: Path, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_prune_and_report_from_another_folder_read_the_data_file_the_run_read(tmp_path, monkeypatch):
    """From a folder holding another pairs.txt, prune listed every run as stale (and
    would have deleted them) and report hid them all."""
    suite, ran, other, store = _folders(tmp_path)
    code, _, err = _invoke(monkeypatch, ran, "run", str(suite), "--store", str(store))
    assert code == 0, err
    runs = len(results.load(store))
    assert runs and results.load_provenance(store)[0][0]["cwd"] == str(ran)

    code, out, err = _invoke(monkeypatch, other, "prune", str(suite), "--store", str(store), "--dry-run")
    assert code == 0, err
    assert f"0 of {runs} stored points are no longer in" in out
    assert f"reading {suite} in {ran}, the folder its runs started in" in out

    code, out, err = _invoke(monkeypatch, other, "report", "--suite", "poly", "--store", str(store))
    assert code == 0, err
    assert "not shown" not in err and "no longer in" not in err
    assert out.count("oracle") == runs

    # Run again from the other folder: its points are the other file's, and the runs'
    # folder is the one most of them started in.
    code, _, err = _invoke(monkeypatch, other, "run", str(suite), "--store", str(store))
    assert code == 0, err
    code, out, err = _invoke(monkeypatch, ran, "prune", str(suite), "--store", str(store), "--dry-run")
    assert code == 0, err
    assert f"{runs} of {2 * runs} stored points are no longer in" in out


def test_a_run_folder_that_is_gone_is_said_and_the_file_read_here(tmp_path, monkeypatch):
    suite, ran, other, store = _folders(tmp_path)
    code, _, err = _invoke(monkeypatch, ran, "run", str(suite), "--store", str(store))
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    ran.rename(tmp_path / "moved")

    code, out, err = _invoke(monkeypatch, other, "report", "--suite", "poly", "--store", str(store))
    assert code == 0, err
    assert f"the folder the suite ran in, {ran}, cannot be entered" in err
    assert "not shown: 1 stored point is no longer in" in err  # this folder's file is another

    code, out, err = _invoke(monkeypatch, other, "prune", str(suite), "--store", str(store), "--dry-run")
    assert code == 0, err
    assert f"the folder the suite ran in, {ran}, cannot be entered" in err
    assert "1 of 1 stored points are no longer in" in out


def test_a_run_folder_this_user_may_not_enter_is_read_here_without_a_traceback(tmp_path, monkeypatch):
    """A store from another user names a folder that exists but is closed to us (a
    bundle made by root records /root): os.chdir raised PermissionError, a traceback."""
    import os

    from seqbench import prune

    suite, ran, other, store = _folders(tmp_path)
    code, _, err = _invoke(monkeypatch, ran, "run", str(suite), "--store", str(store))
    assert code == 0, err
    access = os.access
    monkeypatch.setattr(prune.os, "access", lambda path, mode: Path(path) != ran and access(path, mode))

    for args in (("report", "--suite", "poly"), ("prune", str(suite), "--dry-run")):
        code, out, err = _invoke(monkeypatch, other, *args, "--store", str(store))
        assert code == 0, err
        assert f"the folder the suite ran in, {ran}, cannot be entered" in err


def test_a_working_folder_deleted_under_report_and_prune_is_no_traceback(tmp_path, monkeypatch):
    """os.getcwd() raised FileNotFoundError in a deleted folder: report --suite and prune
    ended in a traceback where they had printed the table."""
    suite, ran, other, store = _folders(tmp_path)
    code, _, err = _invoke(monkeypatch, ran, "run", str(suite), "--store", str(store))
    assert code == 0, err
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()

    for args in (("report", "--suite", "poly"), ("prune", str(suite), "--dry-run")):
        result = CliRunner().invoke(main, [*args, "--store", str(store)])
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
    assert "0 of 1 stored points are no longer in" in result.stdout  # read where the run started
