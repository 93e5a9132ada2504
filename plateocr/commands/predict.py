"""Read plates with a trained model: one row per image (text, confidence, per-character confidences).

IMAGES are files, globs (expanded here too), folders (the images inside, sorted) or - to read
paths from stdin. With --annotations, the plates are cut in memory from the photos the CSV names
(as `crop` cuts them) and rows also show the line and true text. Images of any size are fitted
to the model's input the way its training crops were. An unreadable image gives an error row;
the exit status is non-zero only if nothing could be read.

Formats (--formats): among the readings the model finds likely, prefer one that follows the
formats of your plates: `plateocr train` learns them from your labels into the model folder's
formats.json, read by default. Without training, state your country's formats in a file:
{"formats": {"LLNNNLL": 40, "LLLNNN": 35}} (L a letter, N a digit, ? any character; the counts
weigh them), optionally with "unseen" (default 0.05: the prior of a format not listed) and
"weight" (default 1). It is a prior, not a filter: a confident reading of another format stays.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from plateocr import defaults
from plateocr.detection.geometry import THRESHOLD
from plateocr.formats import FORMATS_HELP

OutputFormat = Enum("OutputFormat", {name: name for name in defaults.PREDICT_FORMATS}, type=str)
Backend = Enum("Backend", {name: name for name in defaults.READ_BACKENDS}, type=str)


def run(
    images: Optional[List[str]] = typer.Argument(
        None, help="Image files, globs, folders, or - for a list of paths on stdin.", show_default=False
    ),
    model_dir: Optional[Path] = typer.Option(
        None,
        "--model-dir",
        help="Model folder `plateocr train` wrote. \\[default: model/ if it exists, else the bundled base model]",
    ),
    annotations: Optional[Path] = typer.Option(
        None,
        "--annotations",
        help="Annotation CSV (files,text,xmin,xmax,ymin,ymax): read the boxed plates of its photos.",
    ),
    images_dir: Optional[Path] = typer.Option(
        None, "--images", help="Folder of the annotated photos. \\[default: images/ beside the CSV, else its folder]"
    ),
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", help="best, latest, or a checkpoint path. \\[default: best, else latest]"
    ),
    batch_size: int = typer.Option(defaults.READ_BATCH_SIZE, "--batch-size", help=defaults.READ_BATCH_HELP),
    fmt: Optional[OutputFormat] = typer.Option(
        None, "--format", case_sensitive=False, help="Output format. \\[default: from --out's extension, else table]"
    ),
    output: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the rows to this file instead of stdout."),
    old_output: Optional[Path] = typer.Option(None, "--output", hidden=True),  # renamed --out, as elsewhere
    attention: Optional[Path] = typer.Option(
        None, "--attention", help="Write a picture of each plate's per-character attention into this folder."
    ),
    tta: bool = typer.Option(True, "--tta/--no-tta", help=defaults.TTA_HELP, show_default=False),
    formats: str = typer.Option("auto", "--formats", help=FORMATS_HELP, show_default=False),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out file or --attention folder."),
    backend: Optional[Backend] = typer.Option(
        None,
        "--backend",
        case_sensitive=False,
        help=defaults.READ_BACKEND_HELP,
    ),
    detect: bool = typer.Option(
        False,
        "--detect",
        help="The images are whole photos: find their plates, then read each (one row per plate found, with "
        "its box). With --annotations, compare with the annotated boxes. --attention then draws the boxes.",
    ),
    detection_threshold: float = typer.Option(
        THRESHOLD,
        "--detection-threshold",
        help="With --detect: the least detection score that counts as a plate (lower: more found, more false).",
    ),
    reading_threshold: float = typer.Option(
        defaults.READING_THRESHOLD,
        "--reading-threshold",
        help="With --detect: keep a found box only where its reading's confidence per character (geometric "
        "mean) is at least this: boxes on badges, grilles and lamps read as noise. 0 keeps every box.",
    ),
    detector: Optional[Path] = typer.Option(
        None,
        "--detector",
        help="Detector folder `plateocr train-detector` wrote. \\[default: detector/ if it exists, else the bundled one]",
    ),
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from plateocr.commands.progress import progress_bar

    from plateocr.commands.renamed import renamed
    from plateocr.outputs import check_can_write
    from plateocr.prediction import check_arguments, predict
    from plateocr.prediction_formats import choose_format, render, to_table, write_result

    err = Console(stderr=True)
    output = renamed(output, old_output, "--output", "--out", err)
    chosen = choose_format(fmt and fmt.value, output)
    if output is not None:
        check_can_write(output, force, "prediction output", folder=False)
    check_arguments(images or [], annotations, batch_size, attention, force)  # before the model loads
    columns = (TextColumn("predict"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    from plateocr.base_model import bundled_base_model, default_model_dir

    model_dir = default_model_dir(model_dir)
    if model_dir == bundled_base_model():
        err.print(
            f"no {defaults.MODEL_DIR}/ here: reading with the bundled base model (synthetic plates only; "
            "fine-tune it on your plates with `plateocr train`)"
        )
    with err.status("loading the model"):
        from plateocr.inference.reader import PlateReader

        reader = PlateReader(model_dir, checkpoint, tta=tta, formats=formats, backend=backend and backend.value)
    if reader.backend_note:
        err.print(f"note: {reader.backend_note}")
    if reader.formats is not None:
        err.print(f"formats: {reader.formats.describe()} ({reader.formats.source})")
        if reader.unreadable_formats:
            err.print(
                f"note: {len(reader.unreadable_formats)} format(s) this model cannot read (longer than its "
                f"{reader.config.max_sequence_length} characters, or of characters its charset lacks) are ignored: "
                + ", ".join(reader.unreadable_formats[:5])
            )
    if detect:
        from plateocr.errors import PlateOCRError

        for flag, value in (("--detection-threshold", detection_threshold), ("--reading-threshold", reading_threshold)):
            if not 0.0 <= value <= 1.0:
                raise PlateOCRError(f"{flag} {value:g}: must lie between 0 and 1")
        result = _predict_photos(
            reader,
            detector,
            (detection_threshold, reading_threshold),
            images,
            annotations,
            images_dir,
            attention,
            err,
            columns,
        )
    else:
        with reader, progress_bar(*columns, console=err) as bar:
            task = bar.add_task("predict", total=None)
            result = predict(
                images or [],
                annotations=annotations,
                images_dir=images_dir,
                batch_size=batch_size,
                attention_dir=attention,
                force=force,
                stdin=sys.stdin,
                reader=reader,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )

    if output is not None:
        write_result(result, output, chosen, force)
        err.print(f"{len(result.rows)} row(s) written to {output} ({chosen})")
    elif chosen == "table":
        Console().print(to_table(result))
    else:
        typer.echo(render(result, chosen), nl=False)
    failed = result.failed
    if failed and (output is not None or chosen != "table"):
        err.print(
            f"[yellow]{len(failed)} of {len(result.rows)} could not be read[/yellow]; first: {failed[0].path}: {failed[0].error}"
        )
    if result.detection is not None:
        d = result.detection
        err.print(
            f"detection: {d['found']} of {d['annotated']} annotated plates found (recall {d['recall'] or 0:.3f}), "
            f"precision {d['precision'] or 0:.3f}; read exactly: {d['read_exactly']} of {d['annotated']} "
            f"({d['read_rate'] or 0:.3f})"
        )
    elif result.sequence_accuracy is not None:
        err.print(f"sequence accuracy on the annotated plates: {result.sequence_accuracy:.4f}")
    if attention is not None and result.read:
        err.print(f"{'photos with their boxes' if detect else 'attention pictures'} in {attention}")
    if not (any(r.ok for r in result.rows) if detect else result.read):
        err.print("[red]error: no image could be read[/red]")
        raise typer.Exit(1)


def _predict_photos(reader, detector_dir, thresholds, images, annotations, images_dir, attention, err, columns):
    """predict --detect: the detector loaded, the photos found and read with a progress bar.
    thresholds: (detection, reading)."""
    import sys

    from plateocr.commands.progress import progress_bar
    from plateocr.detection.detector import PlateDetector, bundled_base_detector, default_detector_dir
    from plateocr.prediction import predict_photos

    detector_dir = default_detector_dir(detector_dir)
    if detector_dir == bundled_base_detector():
        err.print(
            "no detector/ here: finding plates with the bundled base detector (rendered scenes only; "
            "train one on your photos with `plateocr train-detector`)"
        )
    with err.status("loading the detector"):
        detector = PlateDetector(detector_dir, threshold=thresholds[0])
    with reader, detector, progress_bar(*columns, console=err) as bar:
        task = bar.add_task("predict", total=None)
        return predict_photos(
            reader,
            detector,
            images or [],
            annotations=annotations,
            images_dir=images_dir,
            attention_dir=attention,
            stdin=sys.stdin,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            reading_threshold=thresholds[1],
        )
