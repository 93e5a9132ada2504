"""Render synthetic street photos with number plates: OUT/images/*.jpg and OUT/annot.csv.

Each photo shows 1-3 plates (white, yellow, blue and other colours; outline fonts found on the
system or given with --fonts, OpenCV Hershey faces and plateocr's own stroke font; 5-8
characters of 0-9A-Z) on a fake car in a cluttered street, with
slight perspective, blur, noise and uneven light. annot.csv has one row per plate:
files,text,xmin,xmax,ymin,ymax, the box tight around the plate as it appears in the photo
(xmax/ymax exclusive), ready for `plateocr crop OUT/annot.csv`. Separators drawn on a plate
('-' or a gap between groups) are NOT part of the label text. The same --seed and --count give
identical files for any --workers.

With --crops, OUT gets plate crops instead, as `plateocr crop` would cut them from photos
(perspective, shadows, glare, dirt, blur, low resolution, JPEG loss, imprecise boxes; some
two-line plates, frames and small state/slogan text that is not in the label; European, North
and South American, British and two-line layouts): OUT/*.png, OUT/labels.csv (files,text) and
OUT/crop.json, ready for `plateocr tfrecords OUT`. --sheet writes a contact sheet of them to
review the renderer by eye beside real crops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from plateocr.commands.progress import progress_bar
from rich.table import Table

from plateocr import defaults

SHEET_MAX = 256


def run(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Output folder (images/ and annot.csv).")],
    count: Annotated[int, typer.Option("--count", min=1, help="Number of photos.")] = 200,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed; photo i uses the seed [SEED, i].")] = 0,
    workers: Annotated[
        Optional[int],
        typer.Option("--workers", min=1, help="Processes; 1 runs in-process.", show_default="number of CPUs"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty OUT.")] = False,
    crops: Annotated[
        bool, typer.Option("--crops", help="Write plate crops (labels.csv, crop.json) instead of photos.")
    ] = False,
    size: Annotated[
        Optional[str],
        typer.Option("--size", help="Crop size HEIGHTxWIDTH (with --crops).", show_default=defaults.CROP_SIZE_TEXT),
    ] = None,
    fonts: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--fonts",
            help="A folder (or file) of .ttf/.otf fonts to draw plates with too, e.g. your "
            "country's plate font; repeatable.",
        ),
    ] = None,
    system_fonts: Annotated[
        bool,
        typer.Option(
            "--system-fonts/--no-system-fonts",
            help="Draw with the openly licensed plate-like fonts installed on this machine "
            "(off: the same output on any machine).",
        ),
    ] = True,
    sheet: Annotated[
        Optional[Path],
        typer.Option(
            "--sheet",
            help="With --crops: also write a contact sheet (PNG) of up to "
            f"{SHEET_MAX} of the crops, to review them by eye.",
        ),
    ] = None,
) -> None:
    from plateocr.workers import cpu_count
    from plateocr.synth.outline_fonts import FontChoice, use_fonts

    console, err = Console(), Console(stderr=True)  # the result on stdout, notes on stderr
    choice = FontChoice(system_fonts, tuple(str(f) for f in fonts or ()))
    font_set = use_fonts(choice)  # a bad --fonts folder fails here, before any output
    fonts_note = f"fonts: {len(font_set.paths)} outline fonts" + (
        " + built-in faces" if font_set else " (built-in faces only)"
    )
    if crops:
        _run_crops(console, err, out, count, seed, workers or cpu_count(), force, size, choice, sheet)
        err.print(fonts_note)
        return
    if size is not None or sheet is not None:
        option = "--size" if size is not None else "--sheet"
        raise typer.BadParameter(f"{option} applies to --crops only", param_hint=option)
    from plateocr.synth import write_dataset

    result = _with_progress(
        "photos",
        count,
        lambda progress: write_dataset(
            out, count, seed, workers=workers or cpu_count(), force=force, progress=progress, fonts=choice
        ),
    )
    table = Table(title=f"synth -> {result.out_dir}")
    for name in ("photos", "plates", "time", "photos/s"):
        table.add_column(name, justify="right")
    table.add_row(
        str(result.photos),
        str(result.plates),
        f"{result.elapsed:.1f} s",
        f"{result.photos / max(result.elapsed, 1e-9):.1f}",
    )
    console.print(table)
    err.print(fonts_note)
    err.print(f"wrote {result.annot}")


def _run_crops(
    console: Console,
    err: Console,
    out: Path,
    count: int,
    seed: int,
    workers: int,
    force: bool,
    size: str | None,
    fonts,
    sheet: Path | None,
):
    from plateocr.defaults import CROP_SIZE
    from plateocr.imaging import parse_size
    from plateocr.outputs import check_can_write
    from plateocr.synth.crop_dataset import write_crops, write_crops_sheet

    if sheet is not None:
        check_can_write(sheet, force, "contact sheet")
    result = _with_progress(
        "crops",
        count,
        lambda progress: write_crops(
            out,
            count,
            seed,
            workers=workers,
            force=force,
            size=parse_size(size) if size else CROP_SIZE,
            progress=progress,
            fonts=fonts,
        ),
    )
    table = Table(title=f"synth --crops -> {result.out_dir}")
    for name in ("crops", "time", "crops/s"):
        table.add_column(name, justify="right")
    table.add_row(str(result.crops), f"{result.elapsed:.1f} s", f"{result.crops / max(result.elapsed, 1e-9):.1f}")
    console.print(table)
    err.print(f"wrote {result.labels}")
    if sheet is not None:
        err.print(f"wrote {write_crops_sheet(result, sheet, SHEET_MAX)}")


def _with_progress(unit: str, count: int, work):
    """work(progress) under a transient progress bar of `count` `unit` on stderr."""
    with progress_bar(
        TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TextColumn(unit), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task("synth", total=count)
        return work(lambda done, total: bar.update(task, completed=done))
