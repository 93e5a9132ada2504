"""Write FSNS TFRecord shards, the charset and the dataset spec that `train` reads.

CROPS: the folder `plateocr crop` wrote, or any files,text CSV of crop images (paths relative to it).

Splits: train, val (what training chooses its best checkpoint on) and test (what `eval` scores); one plate text, and the crops of one photo, stay in one split. Crops of another size are fitted; bad rows are skipped and listed in records/skipped.csv.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from plateocr import defaults


def run(
    crops: Path = typer.Argument(
        Path(defaults.CROPS_DIR), help="Crops folder (with labels.csv) or a files,text CSV of crops."
    ),
    out: Path = typer.Option(Path(defaults.RECORDS_DIR), "--out", "-o", help="Records folder to write."),
    split: float = typer.Option(
        0.83, "--split", help="Fraction of the rows for training, val included (0..1); the rest is the test split."
    ),
    val: float = typer.Option(
        0.1,
        "--val",
        help="Fraction of the training part held out as the val split, on which training chooses its best "
        "checkpoint and stops early (at least a few plates when there are enough; 0: none).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random split and shuffle."),
    shards: Optional[int] = typer.Option(
        None, "--shards", help="Shards per split.", show_default="one per 1,000 examples"
    ),
    max_length: Optional[int] = typer.Option(
        None, "--max-length", help="Label length to pad to; longer labels are skipped.", show_default="longest label"
    ),
    charset: Optional[Path] = typer.Option(
        None, "--charset", help="Reuse this charset file (fine-tuning); rows with other characters are skipped."
    ),
    size: Optional[str] = typer.Option(
        None, "--size", help="Image size HxW.", show_default=f"crop.json's, else {defaults.CROP_SIZE_TEXT}"
    ),
    keep_aspect: Optional[bool] = typer.Option(
        None,
        "--keep-aspect/--stretch",
        help="How crops of other sizes are fitted.",
        show_default="crop.json's, else stretch",
    ),
    group_by_text: bool = typer.Option(
        True,
        "--group-by-text/--no-group-by-text",
        help="Keep rows with the same plate text (ignoring case, spaces and separators) in one split; "
        "the crops of one photo always are.",
    ),
    workers: Optional[int] = typer.Option(
        None,
        "--workers",
        min=1,
        help="Processes that verify and encode crops.",
        show_default="CPUs, 1 for small inputs",
    ),
    fix_labels: bool = typer.Option(
        True,
        "--fix-labels/--keep-labels",
        help="Labels that look like O/0 or I/1 slips (their format is rare, and swapping one or two of "
        "those characters gives a format ten times as many labels follow) are listed in label_checks.csv; "
        "train and val take the suggested text, test keeps your label. --keep-labels: train on them as given.",
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail (no dataset spec) if any row is skipped."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing records folder."),
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from plateocr.commands.progress import progress_bar

    from plateocr.imaging import parse_size
    from plateocr.records import NoUsableRowsError, RecordsOptions, write_records

    console = Console(stderr=True)
    opts = RecordsOptions(
        split=split,
        val=val,
        seed=seed,
        shards=shards,
        max_length=max_length,
        charset_file=charset,
        size=parse_size(size) if size else None,
        keep_aspect=keep_aspect,
        group_by_text=group_by_text,
        fix_labels=fix_labels,
        strict=strict,
        workers=workers,
    )
    columns = (TextColumn("records"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        # No auto-refresh thread: worker processes are forked while the bar is shown.
        with progress_bar(*columns, console=console, auto_refresh=False) as bar:
            task = bar.add_task("records", total=None)
            shown = [0.0]

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)
                now = time.monotonic()
                if now - shown[0] > 0.1 or done == total:
                    shown[0] = now
                    bar.refresh()

            result = write_records(crops, out, opts, force=force, progress=advance)
    except NoUsableRowsError as e:
        _print_problems(console, e.problems, None)
        raise

    _print_problems(console, result.problems, result.out)
    from rich.table import Table

    table = Table(title=f"FSNS records in {result.out}")
    for col in ("split", "examples", "shards", "max length", "charset size"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for s in result.splits:
        table.add_row(s.name, str(s.size), str(s.shards), str(result.max_length), str(result.charset.num_classes))
    Console().print(table)
    _print_label_checks(console, result.label_checks, result.out)
    for note in result.notes:
        console.print(f"note: {note}")
    h, w, _ = result.spec.image_shape
    console.print(
        f"{result.rows_read} rows read, {sum(s.size for s in result.splits)} written, "
        f"{len(result.problems)} skipped; images {h}x{w}; spec {result.out / defaults.SPEC_FILE}"
    )


def _print_problems(console, problems, out: Path | None, shown: int = 20) -> None:
    if not problems:
        return
    from rich.table import Table

    from plateocr.problems import summarise
    from plateocr.records import SKIPPED_FILE

    table = Table(title=f"{len(problems)} row(s) skipped")
    for col in ("line", "crop", "reason"):
        table.add_column(col)
    for p in problems[:shown]:
        table.add_row("" if p.line is None else str(p.line), p.image, p.reason)
    if len(problems) > shown:
        table.add_row("...", f"{len(problems) - shown} more", "")
    console.print(table)
    kinds = ", ".join(f"{n} {kind}" for kind, n in summarise(problems))
    where = f"; all in {out / SKIPPED_FILE}" if out is not None else ""
    console.print(f"skipped: {kinds}{where}")


def _print_label_checks(console, checks, out: Path, shown: int = 20) -> None:
    if not checks:
        return
    from rich.table import Table

    from plateocr.records import LABEL_CHECKS_FILE

    table = Table(title=f"{len(checks)} label(s) look like O/0 or I/1 slips: check them")
    for col in ("line", "split", "label", "looks like", "formats", "records hold"):
        table.add_column(col)
    for c in checks[:shown]:
        formats = f"{c.slip.own_format} -> {c.slip.suggested_format}"
        table.add_row(str(c.line), c.split, c.label, c.suggested, formats, c.written)
    if len(checks) > shown:
        table.add_row("...", f"{len(checks) - shown} more", *[""] * 4)
    console.print(table)
    fixed = sum(c.written != c.label for c in checks)
    console.print(
        f"labels: {fixed} fixed in train/val, test keeps its labels (--keep-labels: train on them as given); "
        f"all in {out / LABEL_CHECKS_FILE}"
    )
