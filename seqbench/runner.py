"""``seqbench run``: validate every suite, skip finished points, run the rest, store each."""

from __future__ import annotations

import inspect
import json
import os
import shlex
import sqlite3
import time
import unicodedata
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, TextIO

import click

from seqbench import registry
from seqbench.claims import Claim, Claimant, Lost
from seqbench.devices import visible_gpu_count
from seqbench.errors import UserError
from seqbench.eta import expected_seconds
from seqbench.executors.base import Executor, ProgressCallback, StartCheck
from seqbench.paths import own_folders, safe_name
from seqbench.plugin_registry import describe_error
from seqbench.plugins import PluginFailure
from seqbench.point import Point
from seqbench.printable import printable
from seqbench.progress import Progress
from seqbench.provenance import collect
from seqbench.read_connection import open_store
from seqbench.record import EpochProgress, Record
from seqbench.smoke_sizes import SMOKE_SUFFIX, is_smoke_name
from seqbench.store import Store
from seqbench.suite import DEFAULT_MAX_POINTS, Suite, load_suite

__all__ = ["RunOptions", "run_suites", "EXIT_OK", "EXIT_SOME_FAILED"]

EXIT_OK = 0
EXIT_SOME_FAILED = 1


@dataclass(frozen=True)
class RunOptions:
    store: Path
    resume: bool = True
    dry_run: bool = False
    executor: str = "local"
    jobs: int | None = None  # None: the executor's default
    ray_address: str | None = None
    device: str | None = None
    smoke: bool = False
    max_points: int | None = DEFAULT_MAX_POINTS  # per suite; None: no limit


def run_suites(paths: list[Path], options: RunOptions, out: TextIO) -> int:
    """Run the suites at ``paths``; returns the exit code. Raises UserError before running
    anything if any suite, name or option is wrong."""
    from seqbench.meters.nvml import idle_seconds_setting

    idle_seconds_setting()  # read by every worker's meter: refused here, before anything runs
    meters = registry.meters()
    for clash in meters.conflicts():  # every point is measured by every meter: all use it
        raise UserError(f"{meters.conflict(clash)}; every point would use both")
    # The local executor runs points on this machine: every run.device is checked
    # against its GPUs. Another executor's machines are not known here.
    gpus = visible_gpu_count() if options.executor == "local" else None
    suites = [
        load_suite(path, smoke=options.smoke, device=options.device, max_points=options.max_points,
                   gpus=gpus)
        for path in paths
    ]
    _check_distinct_names(suites)
    _check_names_in_store(suites, Path(options.store))
    try:
        executor_cls = registry.executors().get(options.executor)
    except UserError as error:
        raise UserError(f"--executor: {error}") from None
    executors, name, settings = registry.executors(), options.executor, _executor_options(options)
    # A third-party executor is plugin code: contained, its failure one line naming it.
    executor = executors.call(name, f"{name}(...)", lambda: executor_cls(jobs=options.jobs, **settings))
    points = [point for suite in suites for point in suite.points]
    executors.call(name, "check()", lambda: executor.check(points))
    if options.dry_run:
        for suite in suites:
            _print_grid(suite, out)
        return EXIT_OK

    failed = 0
    with Store(options.store) as store, executor:
        claimant = Claimant(store.connection, store.path)
        try:
            for suite in suites:
                failed += _run_suite(suite, store, claimant, executor, options, out,
                                     partial(executors.call, name))
        finally:
            claimant.close()
    click.echo(f"results: {options.store}", file=out)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _points(count: int) -> str:
    return f"{count} point" if count == 1 else f"{count} points"


def _check_names_in_store(suites: list[Suite], store: Path) -> None:
    """One suite name, one file, across runs too: a store whose runs of a suite name came
    from another file, still there, would merge the two files' points under one name;
    ``report`` then reads one of the files (the other's points shown as stale) and
    ``prune`` of one deletes the other's runs. A file that moved (the old path gone) is
    the same suite."""
    try:
        if not store.is_file():
            return
    except OSError:
        return  # a name no file can have: opening the store says so
    from seqbench.prune import suite_file_of

    # An empty file, or a database without tables, is the store to create (as Store
    # takes it): it holds no suite's runs.
    connection = open_store(store, ("runs",), to_write=True)
    try:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
            return
        stored = [name for (name,) in connection.execute("SELECT DISTINCT suite FROM runs")]
    finally:
        connection.close()

    composed = {unicodedata.normalize("NFC", name): name for name in stored}
    for suite in suites:
        spelt = composed.get(unicodedata.normalize("NFC", suite.name), suite.name)
        if spelt != suite.name:
            # Stored as typed: one name in two Unicode spellings would be two suites that
            # look alike in every report.
            raise UserError(
                f"{suite.path}: [suite] name {suite.name!r} is {spelt!r} in {store} spelt with other "
                "Unicode characters (composed or decomposed accents); type it as the store has it")
        other = suite_file_of(store, suite.name)
        if other is not None and other.resolve() != suite.path.resolve():
            raise UserError(
                f"{suite.path}: [suite] name {suite.name!r} is the name of {other}'s suite in {store}; "
                "runs of one name are one suite (report and prune read one file): give this file "
                "its own name, or move the other file away if this one replaces it")


def _check_distinct_names(suites: list[Suite]) -> None:
    """One suite name, one file: the store keeps runs by suite name, and a report or
    ``prune`` reads the file of that name, so two suites of one name in one run (the same
    file given twice included) would run points twice or mix two files' points."""
    first: dict[str, Suite] = {}
    for suite in suites:
        # "café" composed and decomposed look alike wherever a name is shown.
        earlier = first.setdefault(unicodedata.normalize("NFC", suite.name), suite)
        if earlier is suite:
            continue
        same = earlier.path.resolve() == suite.path.resolve()
        raise UserError(
            f"{suite.path}: given twice in this run" if same else
            f"{suite.path}: [suite] name {suite.name!r} is also the name of {earlier.path}'s suite "
            "in this run; give each suite file its own name")


def _executor_options(options: RunOptions) -> dict[str, Any]:
    if options.ray_address is None:
        return {}
    if options.executor != "ray":
        raise UserError(
            f"--ray-address is an option of --executor ray, not --executor {options.executor}"
        )
    return {"address": options.ray_address}


def _run_suite(suite: Suite, store: Store, claimant: Claimant, executor: Executor,
               options: RunOptions, out: TextIO, contained: Callable[[str, Callable[[], Any]], Any]) -> int:
    """Run the suite's unfinished points and store each record as it comes;
    ``contained(what, call)`` runs executor code (plugin code) so that whatever it
    raises is one line naming the executor's plugin."""
    done = store.completed(suite.name) if options.resume else set()
    unfinished = [point for point in suite.points if point.hash not in done]
    # Another run of this suite on this store may be running some of them right now.
    claimed, others = claimant.claim(suite.name, [p.hash for p in unfinished], options.resume)
    mine = set(claimed)
    todo = [point for point in unfinished if point.hash in mine]
    skipped = len(suite.points) - len(todo) - len(others)  # stored, before or meanwhile
    click.echo(
        f"suite {printable(suite.name)}: {_points(len(suite.points))}"
        + (f", {skipped} already done (--fresh reruns them)" if skipped else "")
        + (f", {_held_elsewhere(others)}" if others else "")
        + (f", running {len(todo)}" if todo else ", nothing to run"),
        file=out,
    )
    if not todo:
        return 0
    provenance = collect(suite.path, suite.file_hash)
    by_hash = {point.hash: point for point in todo}
    before = expected_seconds(store.connection, todo)  # for the ETA
    progress = Progress(len(todo), out, {point.label(): before.get(point.hash) for point in todo},
                        parallel=options.jobs or 1)

    def heard(point: Point, epoch: EpochProgress) -> None:
        progress.epoch(printable(point.label()), epoch)

    taken: list[Lost] = []

    def may_start(point: Point) -> bool:
        # A run stopped past its lease (Ctrl-Z, SIGSTOP) may have had its points taken.
        lost_to = claimant.keep(suite.name, point.hash, options.resume)
        if lost_to is not None:
            taken.append(lost_to)
        return lost_to is None

    records = contained("run()", lambda: iter(_records(executor, todo, heard, may_start)))
    kept = lost = 0
    try:
        while (yielded := _next_record(records, contained)) is not _END:
            record = Record.coerce(yielded)
            outcome = _store(store, record, provenance)
            kept += outcome == "kept"
            lost += outcome == "lost"
            stored = outcome == "stored"
            point = by_hash[record.point]
            progress.finished(_line(point, record, stored), record.ok and stored, printable(point.label()))
    finally:
        progress.close()
        if taken:
            click.echo(f"suite {printable(suite.name)}: {_taken_over(taken)}", file=out)
    if progress.failed:
        # A point the store would not take is not in it: the report cannot show it.
        not_stored = ((f"; {kept} not stored (kept in {store.path}.unsaved)" if kept else "")
                      + (f"; {lost} not stored and lost (not even kept beside the store)" if lost else "")
                      + ("; a resumed run runs them again" if kept or lost else ""))
        click.echo(
            printable(f"suite {suite.name}: {progress.failed} of {len(todo)} points failed "
                      f"(see `seqbench report {_suite_option(suite.name)}`){not_stored}"),
            file=out,
        )
    return progress.failed


def _held_elsewhere(others: list[Claim]) -> str:
    """``2 being run by another run (pid 41 on host h since 2026-12-07T03:00:00+00:00),
    skipped``."""
    owners = sorted({printable(f"pid {c.pid} on host {c.host} since {c.started_at}") for c in others})
    return (f"{len(others)} being run by another run ({'; '.join(owners[:3])}"
            + ("; ..." if len(owners) > 3 else "") + "), skipped")


def _taken_over(lost: list[Lost]) -> str:
    """``this run's claims lapsed (...) and other runs took 2 points, not started here: 1
    being run by another run (pid 41 on host h since ...), skipped; 1 stored by another run
    meanwhile``."""
    held = [taken.by for taken in lost if taken.by is not None]
    stored = len(lost) - len(held)
    parts = ([_held_elsewhere(held)] if held else []) + ([f"{stored} stored by another run meanwhile"]
                                                         if stored else [])
    return (f"this run's claims lapsed (it was stopped, or could not renew them) and other runs took "
            f"{_points(len(lost))}, not started here: " + "; ".join(parts))


def _suite_option(name: str) -> str:
    """The report options that show suite ``name``, quoted for a shell."""
    if is_smoke_name(name):
        return f"--suite {shlex.quote(name[: -len(SMOKE_SUFFIX)])} --smoke"
    return f"--suite {shlex.quote(name)}"


WRITE_ATTEMPTS = 3
WRITE_RETRY_SECONDS = (0.5, 2.0)


StoreOutcome = Literal["stored", "kept", "lost"]


def _store(store: Store, record: Record, provenance: dict[str, Any]) -> StoreOutcome:
    """Write ``record``, trying again after a pause if the store fails (a lock held past
    the busy timeout, a full disk, an I/O error); a record the store cannot take at all
    (any other error: a value SQLite cannot hold) is not tried again. If it still
    fails, the record is kept as JSON beside the store and one line says where: a
    finished point is never lost, and the sweep goes on. "stored", else "kept" (beside the store) or "lost" (not even
    that); resume runs a point not stored again."""
    tries = 0
    while True:
        tries += 1
        try:
            store.write(record, provenance)
            return "stored"
        except (sqlite3.Error, OSError) as error:
            failure: Exception = error
            if tries == WRITE_ATTEMPTS:
                break
            time.sleep(WRITE_RETRY_SECONDS[min(tries, len(WRITE_RETRY_SECONDS)) - 1])
        except Exception as error:
            # The record itself cannot be written (a value a plugin reported that SQLite
            # cannot hold: an int past 64 bits raises OverflowError); trying again is no use.
            failure = error
            break
    name = f"{safe_name(record.suite)}-{safe_name(record.point)}"
    outcome: StoreOutcome
    try:
        text = json.dumps({"record": record.to_dict(), "provenance": provenance}, default=str)
        # Folder and file of their own: a link planted beside the store (STORE.unsaved ->
        # elsewhere, or a .partial -> ~/.profile) is replaced, never written through.
        folder = own_folders(store.path.parent, store.path.name + ".unsaved")
        kept, partial = folder / f"{name}.json", folder / f"{name}.partial"
        partial.unlink(missing_ok=True)  # a crash's leftover, or a link: made anew below
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.replace(partial, kept)
        where, outcome = f"kept in {kept}", "kept"
    except Exception as error:  # a full disk, or a value even JSON cannot write (an int of 5,000 digits)
        where, outcome = f"and could not be kept beside it either ({_described(error)})", "lost"
    click.echo(
        printable(f"seqbench: could not store {record.suite} point {record.point} in {store.path} "
                  f"after {tries} {'try' if tries == 1 else 'tries'} ({_described(failure)}); {where}; "
                  "the sweep goes on"),
        err=True,
    )
    return outcome


def _described(error: Exception) -> str:
    """``OverflowError: Python int too large ...`` (one line, as a plugin's errors are
    shown); sqlite3's and the OS's errors say what they are without their class's name."""
    if isinstance(error, (sqlite3.Error, OSError)):
        return str(error)
    return describe_error(error)


_END = object()


def _next_record(records: Iterator[Any], contained: Callable[[str, Callable[[], Any]], Any]) -> Any:
    """The executor's next record, or _END. An executor that fails mid-sweep is one
    line that says the records before it are kept (each was stored as it came)."""
    try:
        return contained("run()", lambda: next(records, _END))
    except PluginFailure as failure:
        raise PluginFailure(f"{failure}; the points finished before it are stored, "
                            "run again to resume") from None


def _records(
    executor: Executor, points: list[Point], on_progress: ProgressCallback, may_start: StartCheck
) -> Iterable[Record | Mapping[str, Any]]:
    """``executor.run(points, on_progress=..., may_start=...)``, each keyword passed
    only to a ``run`` that takes it; an executor written before ``run`` took
    ``on_progress`` has the callback set as its ``on_progress`` attribute, as those
    versions did."""
    parameters = inspect.signature(executor.run).parameters.values()
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
    names = {p.name for p in parameters}
    keywords: dict[str, Any] = {}
    if takes_any or "on_progress" in names:
        keywords["on_progress"] = on_progress
    else:
        executor.on_progress = on_progress
    if takes_any or "may_start" in names:
        keywords["may_start"] = may_start
    return executor.run(points, **keywords)


# A failed point's progress line shows its error's first line up to here; the store
# keeps all of it (a framework's error can be a page of C++ stack).
MAX_ERROR_CHARACTERS = 300


def _brief_error(error: str | None) -> str:
    text = str(error)
    first, _, rest = text.strip().partition("\n")
    if len(first) <= MAX_ERROR_CHARACTERS and not rest.strip():
        return first
    return first[:MAX_ERROR_CHARACTERS] + f"... ({len(text):,} characters in the store)"


def _line(point: Point, record: Record, stored: bool = True) -> str:
    """The point's line of output: one line of printable text whatever its names,
    values and error hold (``seqbench.printable``). A point the store did not take is
    not shown as ok, whatever it measured."""
    seconds = record.timings.get("total_s")
    took = f"  {seconds:.2f}s" if isinstance(seconds, (int, float)) else ""
    if not stored:
        return printable(f"UNSAVED {point.label()}  {'ok' if record.ok else _brief_error(record.error)}, "
                         "not in the store")
    if not record.ok:
        return printable(f"FAILED {point.label()}  {_brief_error(record.error)}")
    metric = record.primary_metric
    value = record.primary_value
    shown = f"  {metric}={value:.4g}" if isinstance(value, (int, float)) else ""
    return printable(f"ok     {point.label()}{shown}{took}")


def _print_grid(suite: Suite, out: TextIO) -> None:
    click.echo(printable(f"suite {suite.name}: {_points(len(suite.points))} ({suite.path})"), file=out)
    for point in suite.points:
        click.echo(f"  {point.hash}  {printable(point.label())}", file=out)
