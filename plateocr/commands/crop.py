"""Cut each annotated plate out of its photo: crops/*.png, crops/labels.csv (for `tfrecords`).

ANNOT.csv has the columns files,text,xmin,xmax,ymin,ymax (one row per plate; several plates per
photo are fine). Bad rows are skipped and listed in crops/skipped.csv.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from plateocr.commands.progress import progress_bar
from rich.table import Table

from plateocr import defaults
from plateocr.errors import PlateOCRError

_DEFAULT_SIZE = f"{defaults.CROP_SIZE[0]}x{defaults.CROP_SIZE[1]}"


def run(
    annotations: Annotated[
        Path, typer.Argument(metavar="ANNOT.csv", help="Annotation CSV: files,text,xmin,xmax,ymin,ymax.")
    ],
    images: Annotated[
        Optional[Path],
        typer.Option(
            "--images", help="Folder of the photos.", show_default="images/ beside the CSV, else the CSV's folder"
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for crops and labels.csv.")] = Path(
        defaults.CROPS_DIR
    ),
    size: Annotated[str, typer.Option("--size", help="Crop size HEIGHTxWIDTH.")] = _DEFAULT_SIZE,
    keep_aspect: Annotated[
        bool,
        typer.Option("--keep-aspect/--stretch", help="Keep the plate's aspect (pad) or stretch it to the size."),
    ] = defaults.KEEP_ASPECT,
    margin: Annotated[
        float, typer.Option("--margin", help="Fraction of the box's width/height added on each side.")
    ] = defaults.MARGIN,
    workers: Annotated[
        Optional[int],
        typer.Option("--workers", min=1, help="Processes; 1 runs in-process.", show_default="number of CPUs"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the crops of an earlier run.")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep crops an interrupted run with the same settings already made.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (no manifest) if any row has to be skipped.")] = False,
) -> None:
    # Imported here: OpenCV would otherwise load for every plateocr command.
    from plateocr.cropping import CropError, crop_annotations
    from plateocr.imaging import parse_size

    console, err = Console(), Console(stderr=True)  # the result on stdout, notes and skipped rows on stderr
    crop_size = parse_size(size)
    # No auto-refresh thread: the worker processes are forked while the bar is shown.
    with progress_bar(
        TextColumn("cropping"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("photos"),
        TimeRemainingColumn(),
        auto_refresh=False,
    ) as bar:
        task = bar.add_task("crop", total=None)
        last = [0.0]

        def show(done: int, total: int) -> None:
            now = time.monotonic()
            bar.update(task, completed=done, total=total)
            if now - last[0] > 0.1 or done == total:
                last[0] = now
                bar.refresh()

        try:
            result = crop_annotations(
                annotations,
                images_dir=images,
                out_dir=out,
                size=crop_size,
                keep_aspect=keep_aspect,
                margin=margin,
                workers=workers,
                force=force,
                resume=resume,
                strict=strict,
                progress=show,
            )
        except CropError as e:
            bar.stop()
            _summary(console, err, e.result)
            raise
        except OSError as e:  # disk full, permissions: one line, not a traceback
            raise PlateOCRError(f"{e.filename or out}: {e.strerror or e}") from None
    _summary(console, err, result)
    err.print(f"wrote {result.manifest}")


def _summary(console: Console, err: Console, result) -> None:
    for note in result.notes:
        err.print(f"note: {note}")
    if result.problems:
        from plateocr.commands.skipped_rows import skipped_rows_table

        err.print(skipped_rows_table(result.problems, result.report))
    table = Table(title=f"crop {result.settings.describe()} -> {result.out_dir}")
    table.add_column("rows read", justify="right")
    table.add_column("crops written", justify="right")
    table.add_column("skipped", justify="right")
    table.add_column("time", justify="right")
    table.add_column("crops/s", justify="right")
    written = str(result.written)
    if result.reused:
        written += f" ({result.reused} resumed)"
    table.add_row(
        str(result.rows), written, str(len(result.problems)), f"{result.elapsed:.1f} s", f"{result.crops_per_s:.0f}"
    )
    console.print(table)
