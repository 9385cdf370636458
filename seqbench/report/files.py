"""``seqbench report --plot`` and ``--tensorboard``: load the chosen result sets, draw
every figure they support, and write the summary page (report.md, report.html) and its
CSV tables; or the runs' curves as TensorBoard event files."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

from seqbench.errors import UserError
from seqbench.paths import distinct_safe_names, own_file, own_folders
from seqbench.plots import Figures, figures, save
from seqbench.report.page import Block, Heading, Image, Text, html_page, markdown
from seqbench.report.selection import SetRef, load_shown, select
from seqbench.report.sets import ResultSet
from seqbench.report.summary import blocks, results_table, runs_frame, verdict_table
from seqbench.report.tensorboard import write_runs

__all__ = ["prepare_files", "write_files", "write_report", "check_out", "load_groups"]


def prepare_files(
    store: Path, suite: str | None, compare: str | None, out: Path | None, tensorboard: Path | None,
    smoke: bool = False, include_stale: bool = False, notes: list[str] | None = None,
) -> list[list[ResultSet]]:
    """Check every option and load the result sets: a mistake is a UserError before any
    file is written."""
    groups = select(store, suite, compare, smoke, include_stale, notes)
    if out is not None:
        check_out(out)
    if tensorboard is not None:
        check_out(tensorboard, "--tensorboard")
    return load_groups(groups, smoke)


def write_files(
    groups: list[list[ResultSet]], out: Path | None, formats: Sequence[str],
    tensorboard: Path | None, echo: Callable[[str], None], band: str = "ci",
) -> None:
    """``--plot`` (figures and the summary page under ``out``) and ``--tensorboard``."""
    if out is not None:
        # A folder that cannot be made fails here (OSError: one line from the CLI), not
        # after the report has been announced.
        made = _make_folders(out)
        echo(f"writing the report to {out}")
        try:
            write_report(groups, out, formats, echo, band)
        except BaseException:
            # A store refused while drawing (its curves are read only then), or Ctrl-C:
            # a report that failed leaves no half-written folder of its own behind.
            _remove_made(made)
            raise
    if tensorboard is not None:
        written = write_runs([s for group in groups for s in group], tensorboard)
        echo(f"tensorboard: {written} runs' curves in {tensorboard} (view with: tensorboard --logdir {tensorboard})")


def _make_folders(out: Path) -> list[Path]:
    """Make ``out`` and the folders above it that are missing, one at a time; the ones
    this call made, outermost first. Only a folder whose own ``mkdir`` succeeded here
    counts as made: ``new/..`` names the working folder, which a test of the path's
    text (``Path("new/..").exists()`` is False while ``new`` is missing) would count,
    and so would a folder another process made meanwhile."""
    made: list[Path] = []
    for depth in range(1, len(out.parts) + 1):
        folder = Path(*out.parts[:depth])
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder)) from None
            continue
        made.append(folder)
    return made


def _remove_made(made: list[Path]) -> None:
    """Remove the folders ``_make_folders`` made (outermost first): the deepest with
    what this report wrote in it, the others only while empty (another report may have
    put its own folder in one since: ``--out shared/a`` beside ``--out shared/b``). A
    folder that was there before is left as it is, with whatever was written into it."""
    if not made:
        return
    shutil.rmtree(made[-1], ignore_errors=True)
    for folder in reversed(made[:-1]):
        try:
            folder.rmdir()
        except OSError:  # not empty: someone else's now
            return


def check_out(out: Path, option: str = "--out") -> None:
    """Refuse an output folder that cannot be one, before anything is written."""
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{option}: {parent} is a file, not a folder")
            # The nearest folder that exists must let us write (make the rest, or files):
            # said now, not after the report has been computed and announced.
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"{option}: cannot write {out} ({parent} is not writable)")
            return


def load_groups(groups: list[list[SetRef]], smoke: bool = False) -> list[list[ResultSet]]:
    loaded = [[load_shown(ref, smoke) for ref in group] for group in groups]
    for group in loaded:
        tasks = {result_set.task for result_set in group}
        if len(tasks) > 1:
            described = ", ".join(f"{s.label} ran task {s.task!r}" for s in group)
            raise UserError(f"--compare: {described}; compare result sets of the same task")
    return loaded


def _title(group: list[ResultSet]) -> str:
    if len(group) == 1:
        return f"suite {group[0].suite}"
    return " vs ".join(s.label for s in group)


def write_report(
    groups: list[list[ResultSet]], out: Path, formats: Sequence[str], echo: Callable[[str], None],
    band: str = "ci",
) -> Path:
    """Write figures, CSV tables and the summary page under ``out``; returns report.html.
    With several groups (several suites, no --compare) each gets its own folder.
    ``band``: the spread over seeds the figures draw ("ci" or "minmax")."""
    out.mkdir(parents=True, exist_ok=True)
    page: list[Block] = []
    folders = distinct_safe_names(group[0].suite for group in groups)
    for group in groups:
        folder = own_folders(out, folders[group[0].suite]) if len(groups) > 1 else out
        drawn = figures(group, band)
        images = _draw(drawn, folder, formats, echo)
        csv_names = _tables(drawn, folder, out)
        if len(groups) > 1:
            page.append(Heading(_title(group).capitalize(), 2))
        page += blocks(drawn, images, csv_names, level=3 if len(groups) > 1 else 2)
    title = "seqbench report: " + ("; ".join(_title(g) for g in groups) if len(groups) <= 3
                                    else f"{len(groups)} suites")
    if not page:
        page.append(Text("Nothing to report."))
    own_file(out / "report.md").write_text(markdown(page, title, out))
    html = out / "report.html"
    own_file(html).write_text(html_page(page, title))
    echo(f"summary: {out / 'report.md'}")
    echo(f"summary: {html} (figures embedded)")
    return html


def _draw(drawn: Figures, folder: Path, formats: Sequence[str], echo: Callable[[str], None]) -> list[Image]:
    images = []
    for number, plot in enumerate(drawn.plots, start=1):
        paths = save(plot, folder, formats)
        echo(f"[{number}/{len(drawn.plots)}] {paths[0]}" + "".join(f", {p.suffix[1:]}" for p in paths[1:]))
        png = next((p for p in paths if p.suffix == ".png"), paths[0])
        images.append(Image(png, plot.title, plot.caption, [p for p in paths if p != png]))
    return images


def _tables(drawn: Figures, folder: Path, out: Path) -> dict[str, str]:
    """Every run, every configuration's means and intervals, and the verdicts as CSV
    beside the page."""
    names = {}
    for key, frame in (("runs", runs_frame(drawn)), ("summary", results_table(drawn)),
                       ("verdicts", verdict_table(drawn))):
        path = folder / f"{key}.csv"
        frame.to_csv(own_file(path), index=False)
        names[key] = path.relative_to(out).as_posix()
    return names
