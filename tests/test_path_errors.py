"""A path the system cannot take (a name past the file system's 255 bytes, a file where
a folder goes) is one line and exit 2 from every command, whichever check meets it
first, and nothing is written: it was a traceback from `pathlib`'s own checks."""

from __future__ import annotations

import pytest

from seqbench.cli import main
from test_hostile_stores import one_error_line

LONG = "a" * 300


def _commands(store: str, bad: str) -> list[list[str]]:
    return [
        ["report", "--store", bad],
        ["report", "--store", store, "--compare", bad],
        ["report", "--store", store, "--plot", "--out", bad],
        ["report", "--store", store, "--plot", "--tensorboard", bad],
        ["export", "s", "--store", bad, "--out", "x.csv"],
        ["export", "s", "--store", store, "--out", bad],
        ["prune", "s.toml", "--store", bad],
        ["run", "s.toml", "--store", bad],
    ]


@pytest.mark.parametrize("bad, reason", [(f"{LONG}.sqlite", "File name too long"),
                                         ("store.sqlite/inside", None)],  # each command words it
                         ids=["name-too-long", "file-as-folder"])
def test_a_path_the_system_cannot_take_is_one_line_from_every_command(tmp_path, monkeypatch, bad, reason):
    from click.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text('[task]\nname = "adding"\nseq_len = 5\n[[model]]\nname = "oracle"\n')
    assert CliRunner().invoke(main, ["run", "s.toml", "--store", "store.sqlite"]).exit_code == 0
    before = sorted(p.name for p in tmp_path.iterdir())

    for args in _commands("store.sqlite", bad):
        one_error_line(args, *([reason] if reason else []))

    assert sorted(p.name for p in tmp_path.iterdir()) == before
