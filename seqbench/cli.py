"""The ``seqbench`` command: a thin click group over runner, report and the registries."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, TextIO, cast

import click

from seqbench import __version__
from seqbench.cli_input import UserPath, capped, one_line
from seqbench.errors import UserError

EXIT_USAGE = 2


class SeqbenchUsageError(click.ClickException):
    """One line on stderr, exit code 2, never a traceback; the message printed safely
    (names and values in it come from suite files, stores and plugins)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        from seqbench.printable import printable

        super().__init__(capped(printable(message)))


# ``seqbench`` alone prints its help: a usage error of click's that is no mistake.
_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Group(click.Group):
    """Every error a user can cause leaves here as one line and exit code 2: seqbench's
    own (UserError) and click's usage errors, from the group's options and from every
    command's (a subcommand's options are parsed inside ``invoke``)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _HELP:
            raise
        except click.UsageError as error:
            raise SeqbenchUsageError(one_line(error)) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as error:
            raise SeqbenchUsageError(str(error)) from None
        except _HELP:
            raise
        except click.UsageError as error:
            raise SeqbenchUsageError(one_line(error)) from None
        except OSError as error:
            # A path the user gave that the system cannot take (a name past the file
            # system's limit, a loop of links, a file where a folder goes), met by
            # whichever check looked at it first: the user's to fix, not a traceback.
            if error.errno not in _PATH_ERRORS or error.filename is None:
                raise
            raise SeqbenchUsageError(f"{error.filename}: {error.strerror}") from None


_PATH_ERRORS = frozenset({errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR})


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="seqbench")
def main() -> None:
    """Benchmark sequence models: accuracy, time and energy against sequence length and batch size.

    Suites are TOML files (docs/suites.md); results land in a SQLite store
    (default results/seqbench.sqlite, or $SEQBENCH_STORE).
    """


def _store_option(function):
    return click.option(
        "--store",
        type=UserPath(dir_okay=False),
        default=None,
        help="Results store (SQLite). Default: $SEQBENCH_STORE or results/seqbench.sqlite.",
    )(function)


def _store_path(store: Path | None) -> Path:
    from seqbench.store import STORE_ENV, default_store_path

    if store is not None:
        return store
    # --store's own checks (UserPath), for the variable that stands in for it.
    named = os.environ.get(STORE_ENV, "")
    if named.endswith(("/", os.sep)):
        raise SeqbenchUsageError(f"${STORE_ENV}: {named!r} ends in '/', so it names a folder; give a file path")
    return default_store_path()


@contextmanager
def _store_damage(store: Path) -> Iterator[None]:
    """A store that opens but fails a query later (a damaged page): one line naming it."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        raise SeqbenchUsageError(
            f"{store}: the results store is damaged or unreadable ({error}); "
            f"`sqlite3 {store} 'PRAGMA integrity_check'` says where") from None


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwinds the sweep as Ctrl-C does (workers killed, the
    store closed, nothing half-written), then exits 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    received: list[int] = []

    def stop(signum: int, frame: object) -> None:
        for number in STOP_SIGNALS:  # a second signal must not break off the cleanup
            signal.signal(number, signal.SIG_IGN)
        received.append(signum)
        raise Stopped(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (seqbench called as a library)
        return
    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    except BaseException as error:
        # Code the Stopped was raised in may put another exception in its place: Ray's
        # wait raises a plain KeyboardInterrupt (a SIGTERM would read as Ctrl-C, exit
        # 130), a C extension a SystemError, a plugin boundary a broken-plugin error.
        # Once a stop signal arrived, the signal is why the sweep ended.
        if received and not isinstance(error, Stopped):
            raise Stopped(received[0]) from error
        raise
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _is_terminal(err: bool = False) -> bool:
    stream = sys.stderr if err else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def show(text: str, err: bool = False, data: bool = False) -> None:
    """Print ``text``, which holds names and values from suites and stores: each line
    made printable (seqbench.printable: no escape sequence reaches the terminal), except
    ``data`` (CSV) sent to a file or a pipe, which must stay exactly what the store holds."""
    exact = data and not _is_terminal(err)
    if not exact:
        from seqbench.printable import printable

        text = "\n".join(printable(line) for line in text.split("\n"))
    # color=True: click would otherwise strip what looks like a colour code from data.
    click.echo(text, err=err, color=True if exact else None)


def _say(line: str) -> None:
    """A line on stderr, which may be gone (SIGHUP: the terminal closed)."""
    try:
        click.echo(line, err=True)
    except OSError:
        pass


def _what_was_kept(store: Path, dry_run: bool) -> str:
    """The end of the line a stopped run prints: a stop during validation, or of a dry
    run, has written nothing (the store is made when the first point is about to run)."""
    if dry_run or not Path(store).exists():
        return "nothing was run or written"
    return "finished points are stored; run again to resume"


@main.command()
@click.argument("suites", nargs=-1, required=True, type=UserPath(file=True))
@_store_option
@click.option("--resume/--fresh", default=True, show_default=True,
              help="Skip points the store already has as succeeded, or rerun every point.")
@click.option("--dry-run", is_flag=True, help="Validate and print the grid of points; run nothing.")
@click.option("--executor", default="local", show_default=True,
              help="Executor that runs the points: local, ray (pip install 'seqbench[ray]'), "
                   "or a plugin's (see `seqbench plugins`).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Points run at once, each in its own process (one GPU each where GPUs "
                   "exist). Default: 1 locally; on Ray, every CPU of the local instance, "
                   "or as many as the cluster schedules. At most 4 per usable core locally, "
                   "4096 on Ray.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="With --executor ray: the cluster to join (host:port or ray://host:port). "
                   "Default: $RAY_ADDRESS, else a new local Ray instance. See docs/scaling.md.")
@click.option("--device", default=None, help="Override every point's run.device: auto, cpu, cuda or cuda:N.")
@click.option("--smoke", is_flag=True,
              help="Shrink sizes and epochs, and run the first seed only, so any suite runs in seconds on a CPU.")
@click.option("--benchmark-json", type=UserPath(dir_okay=False), default=None,
              help="Then write the suites' succeeded points to this file as pytest-benchmark "
                   "JSON (phase seconds per point; `pytest-benchmark compare FILE...` reads it).")
@click.option("--max-points", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Refuse a suite whose grid has more points than this, before expanding it.")
def run(suites, store, resume, dry_run, executor, jobs, ray_address, device, smoke, benchmark_json,
        max_points) -> None:
    """Run the points of one or more SUITES (TOML files).

    Every suite is validated before any point runs. Each point runs in a fresh
    process; a failing point is stored as failed and the sweep goes on. Exit code
    0 when every point succeeded, 1 when some failed, 2 for a usage or suite error.
    """
    from seqbench.runner import RunOptions, run_suites

    options = RunOptions(
        store=_store_path(store), resume=resume, dry_run=dry_run, executor=executor,
        jobs=jobs, ray_address=ray_address, device=device, smoke=smoke, max_points=max_points,
    )
    if benchmark_json is not None:
        from seqbench.benchmark_json import check_writable

        check_writable(benchmark_json)  # before the run, not after hours of it; --dry-run checks it too
        # Written over whatever the path holds: never the store the run fills, nor a suite.
        for taken, what in [(options.store, "the results store"), *((path, "a suite file") for path in suites)]:
            if os.path.realpath(taken) == os.path.realpath(benchmark_json):
                raise SeqbenchUsageError(f"--benchmark-json: {benchmark_json} is {what} of this run; "
                                         "name another file")
    from seqbench.output import SurvivingOutput

    try:
        with _store_damage(options.store), _stopped_by_signals():
            code = run_suites(list(suites), options, cast(TextIO, SurvivingOutput(sys.stdout)))
    except Stopped as stop:
        _say(f"\nstopped by {signal.Signals(stop.signum).name}: {_what_was_kept(options.store, dry_run)}")
        sys.exit(128 + stop.signum)
    except KeyboardInterrupt:
        _say(f"\ninterrupted: {_what_was_kept(options.store, dry_run)}")
        sys.exit(130)
    if benchmark_json is not None and not dry_run:
        from seqbench.benchmark_json import write_for_run

        count = write_for_run(benchmark_json, list(suites), options.store, smoke, device)
        click.echo(f"benchmark json: {benchmark_json} ({count} benchmarks)")
    sys.exit(code)


@main.command()
@_store_option
@click.option("--suite", default=None, help="Only this suite's runs.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "markdown"]),
              default="table", show_default=True,
              help="How the table of runs is printed (not printed with --plot or --tensorboard "
                   "unless --format is given). csv, json and markdown carry every column: "
                   "parameters, every metric, timings, meters (docs/results-format.md).")
@click.option("--per", type=click.Choice(["run", "config", "position", "length", "epoch"]), default="run",
              show_default=True,
              help="One row per run; per configuration (model and swept setting: means over "
                   "seeds with their 95% intervals); or per target position (per-position "
                   "metrics), per evaluation length (run.eval_lengths) or per epoch (training curves).")
@click.option("--plot", is_flag=True,
              help="Write figures (PNG) and a summary page (report.md, report.html) to --out.")
@click.option("--out", type=UserPath(file_okay=False), default=None,
              help="Folder for --plot. Default: report/ beside the store (results/report).")
@click.option("--svg", is_flag=True, help="With --plot, also write every figure as SVG.")
@click.option("--compare", metavar="STORE_OR_SUITE", default=None,
              help="Put a second result set beside the first: another store file, or another "
                   "suite of this store.")
@click.option("--tensorboard", "tensorboard_dir", type=UserPath(file_okay=False),
              default=None, help="Write the per-epoch curves as TensorBoard event files under this folder.")
@click.option("--band", type=click.Choice(["ci", "minmax"]), default="ci", show_default=True,
              help="With --plot, the spread over seeds the figures draw: the mean's 95% interval, "
                   "or the lowest to the highest seed.")
@click.option("--smoke", is_flag=True,
              help="Report smoke runs (`run --smoke`, stored as 'NAME [smoke]'): with --suite NAME, "
                   "NAME's smoke runs; without, every suite's, smoke and full-size.")
@click.option("--include-stale", is_flag=True,
              help="With --suite: also the stored points its suite file no longer holds.")
@click.pass_context
def report(ctx, store, suite, fmt, per, plot, out, svg, compare, tensorboard_dir, band, smoke,
           include_stale) -> None:
    """Print the runs in the results store; --plot writes figures and a summary page.

    Figures adapt to what the suite swept: the primary metric, wall time and GPU
    energy against sequence length and batch size, achieved FLOP/s and (on GPUs
    whose peak is known) model FLOPs utilisation, training curves per length,
    metric against cost with the Pareto front, and length generalisation when
    run.eval_lengths was used. With several seeds, means carry their 95%
    interval; --compare ends with a verdict table (docs/suites.md, "Reading the
    intervals").
    """
    store = _store_path(store)
    if include_stale and suite is None:
        raise SeqbenchUsageError("--include-stale works with --suite (the suite whose file is compared)")
    import numpy as np

    # NumPy's floating-point warnings (a store's 1e300 overflows a variance) would print
    # on stderr mid-report; the figures say what is infinite or missing.
    with _store_damage(store), np.errstate(all="ignore"):
        _report(ctx, store, suite, fmt, per, plot, out, svg, compare, tensorboard_dir, band, smoke,
                include_stale)


def _report(ctx: click.Context, store: Path, suite: str | None, fmt: str, per: str, plot: bool,
            out: Path | None, svg: bool, compare: str | None, tensorboard_dir: Path | None,
            band: str = "ci", smoke: bool = False, include_stale: bool = False) -> None:
    if out is not None and not plot:
        raise SeqbenchUsageError("--out is where --plot writes; add --plot")
    if svg and not plot:
        raise SeqbenchUsageError("--svg changes what --plot writes; add --plot")
    if band != "ci" and not plot:
        raise SeqbenchUsageError("--band changes what --plot draws; add --plot")
    notes: list[str] = []  # what the report leaves out and how to see it: on stderr
    if not plot and tensorboard_dir is None:
        _print_table(store, suite, compare, fmt, per, smoke, include_stale, notes)
        for note in notes:
            show(note, err=True)
        return
    if plot and out is None:
        out = store.parent / "report"
        if out.is_symlink():
            # The folder beside a store came with it (a bundle's folder): a link there
            # was not named by the user, and is not followed.
            raise SeqbenchUsageError(f"--out: the default, {out}, is a symbolic link; name --out")
    from seqbench.report.files import prepare_files, write_files

    groups = prepare_files(store, suite, compare, out, tensorboard_dir, smoke, include_stale, notes)
    for note in notes:
        show(note, err=True)
    if any(ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT for name in ("fmt", "per")):
        _print_table(store, suite, compare, fmt, per, smoke, include_stale)
    try:
        write_files(groups, out, ["png", "svg"] if svg else ["png"], tensorboard_dir, show, band)
    except OSError as error:  # a folder that cannot be written, a full disk
        where = error.filename or out or tensorboard_dir
        option = "--tensorboard" if tensorboard_dir and Path(str(where)).is_relative_to(tensorboard_dir) else "--out"
        raise SeqbenchUsageError(
            f"{option}: cannot write {where} ({error.strerror or error})") from None


def _print_table(store: Path, suite: str | None, compare: str | None, fmt: str, per: str, smoke: bool,
                 include_stale: bool, notes: list[str] | None = None) -> None:
    """The table ``--format`` and ``--per`` ask for; with ``--compare`` in a table or
    Markdown, then the verdict table (CSV and JSON stay one table each; the verdicts
    are in verdicts.csv beside --plot's page). ``notes`` gets what was left out."""
    from seqbench.report.runs import render, report_table

    show(render(report_table(store, suite, compare, fmt, per, smoke, include_stale, notes), fmt).rstrip("\n"),
         data=fmt == "csv")
    if compare is not None and fmt in ("table", "markdown") and per == "run":
        from seqbench.report.compare import printed_verdicts

        show(printed_verdicts(store, suite, compare, fmt, smoke, include_stale))


@main.command()
@click.argument("suites", nargs=-1, required=True)
@_store_option
@click.option("--out", type=UserPath(dir_okay=False), required=True,
              help="The bundle to write: a standalone results store (SQLite) of these suites.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def export(suites, store, out, force) -> None:
    """Write the runs of SUITES (names, as `seqbench report` lists them) to one file.

    The bundle is a results store of its own, with every run's curves, per-length and
    per-position metrics and provenance: `seqbench report --store OUT` and
    `--compare OUT` read it like any store. Written whole or not at all.
    """
    import shlex

    from seqbench.bundle import write_bundle

    store = _store_path(store)
    with _store_damage(store):
        written = write_bundle(store, list(suites), out, force)
    show(f"exported {written} run{'' if written == 1 else 's'} of {', '.join(suites)} from {store} to {out} "
               f"(seqbench report --store {shlex.quote(str(out))})")


@main.command()
@click.argument("suite_file", type=UserPath(file=True))
@_store_option
@click.option("--dry-run", is_flag=True, help="List the stored points that would be deleted; delete nothing.")
def prune(suite_file, store, dry_run) -> None:
    """Delete the stored runs of SUITE_FILE's suite that the file no longer holds.

    The file is read as it is now (it must validate), in the folder its runs started
    in (where a relative data_file points); a stored point of its suite
    (full-size or smoke) that it no longer makes is deleted with its curves and
    metrics. There is no prompt: the command itself is the request, and --dry-run
    lists what it would delete.
    """
    from seqbench.paths import working_folder
    from seqbench.prune import prune as delete_stale, stale_in_store

    store = _store_path(store)
    with _store_damage(store):
        found = stale_in_store(store, suite_file)
        folder = found[0].folder
        if gone := folder.note():
            show(gone, err=True)
        elif folder.used is not None and folder.used != working_folder():
            show(f"reading {suite_file} in {folder.used}, the folder its runs started in "
                 "(relative paths in it, a data_file, as the run read them)")
        verb = "would delete" if dry_run else "deleting"
        for staleness in found:
            show(f"suite {staleness.suite}: {len(staleness.stale)} of {staleness.stored} stored "
                       f"points are no longer in {suite_file}")
            for run in staleness.stale:
                show(f"  {verb} {run.point}  {run.label}")
        if dry_run:
            click.echo("dry run: nothing deleted")
            return
        deleted = delete_stale(store, found)
        show(f"deleted {deleted} run{'' if deleted == 1 else 's'} from {store}")


@main.command()
def tasks() -> None:
    """List installed tasks with their parameters, defaults and metrics."""
    from seqbench.listing import describe_tasks

    click.echo(describe_tasks())


@main.command()
def models() -> None:
    """List installed models with their hyper-parameters and the tasks they serve."""
    from seqbench.listing import describe_models

    click.echo(describe_models())


@main.command()
def plugins() -> None:
    """List installed plugins, their versions and what each registered."""
    from seqbench.listing import describe_plugins

    click.echo(describe_plugins())
