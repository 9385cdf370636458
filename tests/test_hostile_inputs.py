"""Issue 24: hostile suites and command lines. Each class of bad input is one line on
stderr naming the file (or option) and the key, exit code 2, no traceback, and nothing
written anywhere under the folder the command ran in (no store, no folder, no partial
file). In-process through ``seqbench.cli.main``, in a folder of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from seqbench.cli import main
from seqbench.cli_input import MAX_MESSAGE_CHARACTERS

TASK = '[task]\nname = "adding"\nseq_len = 5\n'
ORACLE = '[[model]]\nname = "oracle"\n'
RIDGE = '[[model]]\nname = "numpy:ridge"\n'
RUN = '[run]\nepochs = 1\ntrain_size = 8\neval_size = 8\nbatch_size = 4\ndevice = "cpu"\n'


def listing(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own working folder, holding ``s.toml`` (a valid suite); default
    stores ($SEQBENCH_STORE unset) would land in it too."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEQBENCH_STORE", raising=False)
    (tmp_path / "s.toml").write_text('[suite]\nname = "s"\n' + RUN + TASK + ORACLE)
    return tmp_path


def refused(here: Path, args: list[str], *fragments: str) -> str:
    """Run ``seqbench ARGS``: exit 2, one ``Error:`` line on stderr holding
    ``fragments``, no traceback, and the folder exactly as it was."""
    before = listing(here)
    result: Result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and result.stderr.strip() == lines[0], result.output
    assert lines[0].startswith("Error: ") and lines[0].isprintable()
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert listing(here) == before
    return lines[0]


def suite(here: Path, text: str | bytes) -> str:
    path = here / "bad.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return "bad.toml"


# Class 1: values TOML can write that no setting can hold. They failed later, each its
# own way: OverflowError from float() or SQLite (after the store was made), ValueError
# from int() past 4,300 digits, a date reaching JSON.
@pytest.mark.parametrize("text, fragments", [
    (RUN + "timeout = " + "9" * 400 + "\n" + TASK + ORACLE,
     ["[run] timeout: an integer of 1,329 bits does not fit in 64 bits", "allowed: -9223372036854775808 to"]),
    (RUN + "eval_lengths = [6, 1180591620717411303424]\n" + TASK + ORACLE,
     ["[run] eval_lengths: 1180591620717411303424 does not fit in 64 bits"]),
    (TASK + RIDGE + "alpha = 18446744073709551616\n", ["[[model]] #1 alpha: 18446744073709551616 does not fit"]),
    (TASK + ORACLE + "[sweep]\ntask.seq_len = [5, " + "9" * 5000 + "]\n",
     ["invalid TOML: an integer too long to read", "allowed: -9223372036854775808 to"]),
    (TASK + ORACLE + "[sweep]\nrun.timeout = [1979-05-27T07:32:00Z]\n",
     ["[sweep] run.timeout: a TOML date or time (1979-05-27T07:32:00+00:00)", "expected a number, string"]),
], ids=["float-from-huge-int", "eval-length-over-64-bits", "model-param", "int-over-4300-digits", "datetime"])
def test_a_value_no_setting_can_hold_is_refused(here, text, fragments):
    refused(here, ["run", suite(here, text), "--dry-run"], "Error: bad.toml: ", *fragments)


# Class 2: suite names that are not names: typed after --suite, printed on every line.
@pytest.mark.parametrize("name, fragment", [
    ("a\\u001b[2Jb", "got 'a\\x1b[2Jb'"),
    ("a\\nb", "got 'a\\nb'"),
    ("a\\u0000b", "got 'a\\x00b'"),
    ("a\\u202eb", "got 'a\\u202eb'"),
    ("x" * 201, "at most 200 characters"),
    ("quick [smoke]", "ends in '[smoke]', which marks the runs of `seqbench run --smoke`"),
], ids=["escape", "newline", "nul", "bidi-override", "too-long", "smoke-suffix"])
def test_a_suite_name_that_is_not_a_name_is_refused(here, name, fragment):
    refused(here, ["run", suite(here, f'[suite]\nname = "{name}"\n' + RUN + TASK + ORACLE)],
            "Error: bad.toml: [suite] name: ", fragment)


def test_a_suite_name_of_any_script_up_to_200_characters_runs(here):
    path = suite(here, '[suite]\nname = "' + "é 中 ../x" + "y" * 191 + '"\n' + TASK + ORACLE)
    assert CliRunner().invoke(main, ["run", path, "--dry-run"]).exit_code == 0


# Class 3: one axis, one spelling, one place. A quoted "task.seq_len" flattened to the
# axis task.seq_len, and with both written one silently replaced the other; seeds
# written where settings go were an unknown key with no word of where they belong.
@pytest.mark.parametrize("text, fragment", [
    ('[sweep]\n"task.seq_len" = [5, 6]\n', "[sweep] 'task.seq_len': a quoted key holding a dot; write it unquoted"),
    ('[sweep]\ntask.seq_len = [5]\n"task.seq_len" = [6]\n', "[sweep] 'task.seq_len': a quoted key holding a dot"),
    ('[sweep]\ntask."seq_len.x" = [5]\n', "[sweep] 'task.seq_len.x': a quoted key holding a dot"),
    ("[sweep]\nrun.seed = [1, 2]\n", "[sweep] run.seed: seeds are not swept; list them in [suite] seeds"),
    ("[run]\nseeds = [1, 2]\n", "[run] seeds: seeds are set in [suite] seeds"),
], ids=["quoted", "both-spellings", "nested", "swept-seed", "seeds-in-run"])
def test_a_key_in_another_spelling_or_place_is_refused(here, text, fragment):
    refused(here, ["run", suite(here, TASK + ORACLE + text), "--dry-run"], "Error: bad.toml: " + fragment)


# Class 4: one suite name, one file per run (the store keeps runs by suite name).
@pytest.mark.parametrize("args, fragment", [
    (["s.toml", "./s.toml"], "Error: s.toml: given twice in this run"),
    (["s.toml", "t.toml", "--smoke"], "Error: t.toml: [suite] name 's [smoke]' is also the name of s.toml's suite"),
], ids=["same-file", "same-name"])
def test_two_suites_of_one_name_in_one_run_are_refused(here, args, fragment):
    (here / "t.toml").write_text((here / "s.toml").read_text())
    refused(here, ["run", *args], fragment)


# Class 5: click's own usage errors were four lines (usage, hint, blank, error).
@pytest.mark.parametrize("args, fragment", [
    (["run", "s.toml", "--jobs", "0"], "Invalid value for '--jobs': 0 is not in the range x>=1"),
    (["run", "s.toml", "--max-points", "many"], "Invalid value for '--max-points': 'many' is not a valid integer"),
    (["run", "s.toml", "--bogus"], "No such option '--bogus'"),
    (["run"], "Missing argument 'SUITES...'"),
    (["report", "--format", "xml"], "'xml' is not one of 'table', 'csv', 'json', 'markdown'"),
    (["reprot"], "No such command 'reprot'"),
    (["--bogus"], "No such option '--bogus'"),
], ids=["jobs-zero", "not-an-int", "unknown-option", "no-suite", "choice", "unknown-command", "group-option"])
def test_a_usage_error_is_one_line_saying_where_the_allowed_values_are(here, args, fragment):
    refused(here, args, fragment, "--help` lists what is allowed")


# Class 6: paths no file can have: a NUL byte (os.stat raised ValueError), a file path
# ending in '/' (a file was made where a folder was named), a name too long for the
# file system (OSError from is_dir), and a store that cannot be opened (its folder was
# made first and left behind).
@pytest.mark.parametrize("args, fragment", [
    (["run", "s\x00.toml"], "'SUITES...': 's\\x00.toml' holds a NUL byte"),
    (["run", "s.toml", "--store", "r\x00.sqlite"], "'--store': 'r\\x00.sqlite' holds a NUL byte"),
    (["run", "s.toml", "--benchmark-json", "b\x00.json"], "'--benchmark-json': 'b\\x00.json' holds a NUL"),
    (["report", "--plot", "--out", "o\x00"], "'--out': 'o\\x00' holds a NUL byte"),
    (["export", "s", "--out", "b\x00.sqlite"], "'--out': 'b\\x00.sqlite' holds a NUL byte"),
    (["prune", "s\x00.toml"], "'SUITE_FILE': 's\\x00.toml' holds a NUL byte"),
    (["run", "s.toml", "--store", "new/"], "'--store': 'new/' ends in '/', so it names a folder"),
    (["export", "s", "--out", "bundle/"], "'--out': 'bundle/' ends in '/', so it names a folder"),
    (["run", "s.toml/"], "'s.toml/' ends in '/', so it names a folder"),
    (["run", "s.toml", "--store", "x" * 300 + "/s.sqlite"], "cannot open the results store (File name too long)"),
    (["run", "s.toml", "--store", "a/b/" + "x" * 300 + ".sqlite"], "cannot open the results store (unable to open"),
    (["run", "s.toml", "--store", "s.toml/x.sqlite"], "cannot open the results store (s.toml is not a folder)"),
    (["run", "s.toml", "--dry-run", "--benchmark-json", "s.toml/b.json"], "--benchmark-json: cannot write"),
    (["run", "s.toml", "--benchmark-json", "x" * 300 + "/b.json"], "(File name too long)"),
    (["run", "s.toml", "--store", "st.sqlite", "--benchmark-json", "./st.sqlite"],
     "--benchmark-json: st.sqlite is the results store of this run"),
    (["run", "s.toml", "--benchmark-json", "s.toml"], "--benchmark-json: s.toml is a suite file of this run"),
], ids=["suite-nul", "store-nul", "benchmark-json-nul", "report-out-nul", "export-out-nul", "prune-nul",
        "store-slash", "export-slash", "suite-slash", "store-folder-too-long", "store-name-too-long",
        "store-under-a-file", "benchmark-json-under-dry-run", "benchmark-json-too-long",
        "benchmark-json-over-the-store", "benchmark-json-over-the-suite"])
def test_a_path_no_file_can_have_is_one_line_and_makes_nothing(here, args, fragment):
    refused(here, args, fragment)


# Class 7: a message is one readable line whatever it quotes: values were printed
# whole (a megabyte string, a 100,000-character name).
@pytest.mark.parametrize("text, fragment", [
    (TASK.replace("seq_len = 5", 'seq_len = "' + "y" * 1_000_000 + '"') + ORACLE,
     "[task] seq_len: expected int >= 2, got 'yyy"),
    (TASK + '[[model]]\nname = "' + "x" * 100_000 + '"\n', "[[model]] #1 name: unknown model 'xxx"),
], ids=["value", "name"])
def test_a_huge_value_makes_a_short_message(here, text, fragment):
    line = refused(here, ["run", suite(here, text)], "Error: bad.toml: ", fragment)
    assert len(line) <= MAX_MESSAGE_CHARACTERS + len("Error: ")


def test_a_huge_length_does_not_hang_validation(here):
    # seqbench-example's reverse computed digits ** length to check its size; now the
    # probe refuses the length from the signature, before any example is made.
    text = '[task]\nname = "reverse"\nlength = 4611686018427387904\n' + ORACLE
    refused(here, ["run", suite(here, text), "--dry-run"], "Error: bad.toml: [task] reverse:",
            "allowed: at most 67,108,864 values an example")


def test_a_store_variable_naming_a_folder_is_refused(here, monkeypatch):
    monkeypatch.setenv("SEQBENCH_STORE", "runs/")
    refused(here, ["run", "s.toml"], "Error: $SEQBENCH_STORE: 'runs/' ends in '/', so it names a folder")


# Class 8: a name read from a store used as a file name. A claim's owner named the lock
# file to judge and then unlink: an owner of '/elsewhere/victim' deleted victim.lock.
def test_a_claim_owner_from_the_store_never_reaches_outside_its_folder(here):
    from seqbench.store import Store
    from seqbench.suite import load_suite

    victim = here / "elsewhere" / "victim"
    victim.parent.mkdir()
    victim.with_suffix(".lock").write_text("not the store's")
    (point,) = load_suite(here / "s.toml").points
    with Store(here / "store.sqlite") as store:
        store.connection.execute("INSERT INTO claims VALUES ('s', ?, ?, 1, 'h', 'then', 1e18)",
                                 (point.hash, str(victim)))

    result = CliRunner().invoke(main, ["run", "s.toml", "--store", "store.sqlite"])

    assert result.exit_code == 0, result.output
    assert victim.with_suffix(".lock").read_text() == "not the store's"
