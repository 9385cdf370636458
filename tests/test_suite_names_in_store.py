"""One suite name, one file, in a store as in one run (seqbench/runner.py)."""

from __future__ import annotations


def test_a_second_file_of_the_same_suite_name_is_refused_before_it_joins_the_store(tmp_path):
    """Copying a suite to edit it and keeping its name merged the copy's points into the
    original's: prune of the copy then deleted the original's runs."""
    from click.testing import CliRunner

    from seqbench.cli import main

    text = '[suite]\nname = "same"\n[task]\nname = "adding"\nseq_len = {}\n[[model]]\nname = "oracle"\n'
    original, copy = tmp_path / "original.toml", tmp_path / "copy.toml"
    original.write_text(text.format(10))
    copy.write_text(text.format(20))
    store = tmp_path / "store.sqlite"
    assert CliRunner().invoke(main, ["run", str(original), "--store", str(store)]).exit_code == 0
    before = store.read_bytes()

    for args in (["run", str(copy)], ["run", str(copy), "--dry-run"]):
        result = CliRunner().invoke(main, [*args, "--store", str(store)])
        assert result.exit_code == 2, result.output
        assert f"name 'same' is the name of {original.resolve()}'s suite" in result.output
    assert store.read_bytes() == before

    original.rename(tmp_path / "moved.toml")  # the old file gone: the copy replaces it
    assert CliRunner().invoke(main, ["run", str(copy), "--store", str(store)]).exit_code == 0


def test_an_empty_file_or_a_database_without_tables_is_the_store_to_create(tmp_path):
    """The name check read an empty store as "not a results store" and refused it, where
    opening the store takes it as the store to create."""
    import sqlite3

    from click.testing import CliRunner

    from seqbench import results
    from seqbench.cli import main

    suite = tmp_path / "s.toml"
    suite.write_text('[task]\nname = "adding"\nseq_len = 5\n[[model]]\nname = "oracle"\n')
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    tableless = tmp_path / "tableless.sqlite"
    connection = sqlite3.connect(tableless)
    connection.executescript("CREATE TABLE t (x); DROP TABLE t;")
    connection.close()
    assert tableless.stat().st_size > 0

    for store in (empty, tableless):
        for args in (["--dry-run"], []):
            result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store), *args])
            assert result.exit_code == 0, result.output
        assert set(results.load(store)["status"]) == {"ok"}
