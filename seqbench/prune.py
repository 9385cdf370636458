"""Stored points a suite file no longer holds: found for ``report --suite`` (which leaves
them out unless ``--include-stale``) and deleted by ``seqbench prune``.

A stored run is *stale* when its suite file, read now, no longer makes its point: a
length taken out of a sweep, a model removed, a parameter changed. Points are matched
on their configuration without ``run.device``, since ``seqbench run --device`` changes
where a point runs, not which point it is.

The file is read in the folder its runs started in (provenance ``cwd``), as the run read
it: a task reads a relative path (polynomial's ``data_file``) from the working folder,
so read from another folder holding another file of that name, every point would look
stale and ``prune`` would delete them.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench.errors import UserError
from seqbench.paths import working_folder
from seqbench.point import Point, config_hash
from seqbench.read_connection import open_store
from seqbench.smoke_sizes import is_smoke_name

__all__ = ["StoredRun", "Staleness", "RunFolder", "stale_in_store", "stale_for_report", "suite_file_of", "prune"]


@dataclass(frozen=True)
class StoredRun:
    id: int
    suite: str
    point: str
    label: str


@dataclass(frozen=True)
class Staleness:
    """What a suite file holds now against what a store holds of it."""

    suite_file: Path
    suite: str
    stale: list[StoredRun]
    stored: int  # the suite's stored runs, stale ones included
    not_run: int  # points of the file the store has no run of
    folder: RunFolder


@dataclass(frozen=True)
class RunFolder:
    """Where the suite file's relative paths were read from: the folder its runs
    started in (``recorded``) when it is still there, else the working folder."""

    recorded: Path | None  # None: runs from before provenance recorded it
    used: Path | None  # None: the working folder was deleted under this process

    def note(self) -> str | None:
        """The caveat when the folder cannot be entered: relative paths were read here."""
        if self.recorded is None or self.recorded == self.used:
            return None
        here = self.used if self.used is not None else "the working folder, which is gone"
        return (f"the folder the suite ran in, {self.recorded}, cannot be entered (gone, or closed "
                f"to this user): relative paths in the suite file (a data_file) were read from {here}")


Provenances = list[tuple[dict[str, Any], int]]  # results.load_provenance: each with its run count


def _most_recorded(provenances: Provenances, keys: tuple[str, ...],
                   accept: Callable[[str], bool] = bool) -> str | None:
    """The text most runs record under the first of ``keys`` each holds (``accept``ed)."""
    named: Counter[str] = Counter()
    for provenance, count in provenances:
        value = next((provenance[key] for key in keys if provenance.get(key)), None)
        if isinstance(value, str) and accept(value):
            named[value] += count
    return named.most_common(1)[0][0] if named else None


def _run_folder(provenances: Provenances) -> RunFolder:
    """The folder most of the runs started in, as their provenance records it."""
    here = working_folder()
    folder = _most_recorded(provenances, ("cwd",), os.path.isabs)
    if folder is None:
        return RunFolder(None, here)
    recorded = Path(folder)
    return RunFolder(recorded, recorded if _enterable(recorded) else here)


def _enterable(folder: Path) -> bool:
    """Whether the process can make ``folder`` its working folder: a store from another
    user or machine may name one that is not there, or not open to us (``/root``)."""
    try:
        return folder.is_dir() and os.access(folder, os.X_OK)
    except OSError:
        return False


@contextlib.contextmanager
def _reading_in(folder: RunFolder, suite_file: Path) -> Iterator[Path]:
    """``suite_file`` as it can be read in ``folder`` (absolute there, unless that is
    where we are, where messages name it as typed), with the working folder there."""
    if folder.used is None or folder.used == working_folder():
        yield suite_file
        return
    absolute = suite_file.resolve()
    # A task resolves a relative path against the process's working folder, which only
    # a change of folder reaches; the CLI reads one suite at a time, in one thread.
    # Back by descriptor, not by path: the folder we are in may have been deleted (its
    # path then names nothing, but the descriptor still opens it).
    try:
        back = os.open(".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield suite_file
        return
    try:
        os.chdir(folder.used)
    except OSError:  # gone or closed since _run_folder looked: read here, as for one gone
        os.close(back)
        yield suite_file
        return
    try:
        yield absolute
    finally:
        os.fchdir(back)
        os.close(back)


def _identity(config: dict[str, Any]) -> str:
    run = {key: value for key, value in config.get("run", {}).items() if key != "device"}
    return config_hash({**config, "run": run})


def _label(config: dict[str, Any], seed: Any) -> str:
    task, model = config.get("task") or {}, config.get("model") or {}
    params = task.get("params") if isinstance(task, dict) else None
    params = " ".join(f"{k}={v}" for k, v in sorted(params.items())) if isinstance(params, dict) else ""
    task = task if isinstance(task, dict) else {}
    model = model if isinstance(model, dict) else {}
    return f"{task.get('name')} {params} {model.get('name')} seed={seed}".replace("  ", " ")


def _current(points: list[Point]) -> set[str]:
    return {_identity(point.config()) for point in points}


def _stored(connection: Any, suite: str) -> list[tuple[int, str, dict[str, Any], Any]]:
    """The suite's runs with their configuration; a run whose configuration cannot be
    read as one (a hand-edited store) is left out: whether it is stale cannot be told."""
    rows = connection.execute("SELECT id, point, config, seed FROM runs WHERE suite = ?", (suite,))
    stored = []
    for run_id, point, text, seed in rows:
        try:
            config = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            continue
        if isinstance(config, dict) and isinstance(config.get("run", {}), dict):
            stored.append((run_id, point, config, seed))
    return stored


def _staleness(connection: Any, suite_file: Path, suite: str, points: list[Point],
               folder: RunFolder) -> Staleness:
    current = _current(points)
    stored = _stored(connection, suite)
    held = {_identity(config) for _, _, config, _ in stored}
    stale = [StoredRun(run_id, suite, point, _label(config, seed))
             for run_id, point, config, seed in stored if _identity(config) not in current]
    return Staleness(suite_file, suite, stale, len(stored), len(current - held), folder)


def _runs_of_file(store: Path, suite_file: Path) -> Provenances:
    """The provenance of the runs made from ``suite_file`` (by its absolute path): its
    suite's name is not known before the file is read, and reading it needs the folder."""
    from seqbench.results import load_provenance

    path = str(suite_file.resolve())
    return [(provenance, count) for provenance, count in load_provenance(store)
            if provenance.get("suite_path") == path]


def stale_in_store(store: Path, suite_file: Path) -> list[Staleness]:
    """The suite file's full-size and smoke runs in ``store`` against the file as it is
    now, read in the folder its runs started in. The file must validate (a UserError
    otherwise)."""
    from seqbench.suite import load_suite

    folder = _run_folder(_runs_of_file(store, suite_file))
    with _reading_in(folder, suite_file) as readable:
        suite = load_suite(readable, max_points=None)
        smoke = load_suite(readable, smoke=True, max_points=None)
    connection = open_store(store)
    try:
        found = [_staleness(connection, suite_file, s.name, s.points, folder) for s in (suite, smoke)]
    finally:
        connection.close()
    if not any(found_one.stored for found_one in found):
        raise UserError(
            f"{store}: no runs of suite {suite.name!r} (from {suite_file}); nothing to prune")
    return [found_one for found_one in found if found_one.stored]


def suite_file_of(store: Path, suite: str) -> Path | None:
    """The suite file the suite's runs came from, as their provenance records it (the
    one most runs name), when it is still at that path: the absolute ``suite_path``
    where recorded, else ``suite_file`` as typed (stores before suite_path existed;
    relative to where the report runs)."""
    from seqbench.results import load_provenance

    return _suite_file(load_provenance(store, suite))


def _suite_file(provenances: Provenances) -> Path | None:
    recorded = _most_recorded(provenances, ("suite_path", "suite_file"))
    path = Path(recorded) if recorded is not None else None
    return path if path is not None and path.is_file() else None


def stale_for_report(store: Path, suite: str) -> Staleness | None:
    """``suite``'s stale runs in ``store`` when its suite file is at hand and still makes
    a suite of that name; None when it cannot be told (no file, or it no longer
    validates: then every stored run is shown, as before)."""
    from seqbench.results import load_provenance
    from seqbench.suite import load_suite

    provenances = load_provenance(store, suite)  # the file and its folder, from one reading
    path = _suite_file(provenances)
    if path is None:
        return None
    folder = _run_folder(provenances)
    try:
        with _reading_in(folder, path) as readable:
            # The file is one the store names, not one the user did: a grid past the
            # usual limit is not expanded for a note (it cannot be told then).
            loaded = load_suite(readable, smoke=is_smoke_name(suite))
    except UserError:
        return None
    if loaded.name != suite:  # the file was renamed to another suite: not this one's file
        return None
    connection = open_store(store)
    try:
        return _staleness(connection, path, suite, loaded.points, folder)
    finally:
        connection.close()


def prune(store: Path, found: list[Staleness]) -> int:
    """Delete the stale runs (their curves and per-length and per-position metrics go
    with them); returns how many runs were deleted."""
    from seqbench.store import Store

    ids = [run.id for staleness in found for run in staleness.stale]
    if not ids:
        return 0
    with Store(store) as opened:
        connection = opened.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in ids])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return len(ids)
