"""Train a plate detector on the photos and boxes of an annotation CSV (for `predict --detect`).

ANNOT.csv is the one `crop` reads (files,text,xmin,xmax,ymin,ymax). A new detector starts from
the bundled base detector; a val share of the photos chooses the best checkpoint (kept in
DETECTOR_DIR/best/) and stops training when it no longer improves. Run it again to resume.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from plateocr.detection.options import FINE_TUNE_LEARNING_RATE, DetectorTrainOptions
from plateocr.detection.detector_dir import SKIPPED_FILE

_D = DetectorTrainOptions()


def run(
    annotations: Path = typer.Argument(
        ..., metavar="ANNOT.csv", help="Annotation CSV: files,text,xmin,xmax,ymin,ymax."
    ),
    images: Optional[Path] = typer.Option(
        None, "--images", help="Folder of the photos.", show_default="images/ beside the CSV, else the CSV's folder"
    ),
    detector_dir: Path = typer.Option(
        Path("detector"), "--detector-dir", "--model-dir", help="Detector folder to create or resume."
    ),
    steps: Optional[int] = typer.Option(
        None, "--steps", help=f"Total training steps to reach. \\[default: {_D.steps}]"
    ),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", help=f"Photos per training step. \\[default: {_D.batch_size}]"
    ),
    learning_rate: Optional[float] = typer.Option(
        None,
        "--learning-rate",
        help=f"Learning rate (cosine decay to 0 at --steps). \\[default: {FINE_TUNE_LEARNING_RATE:g} from the base "
        f"detector, {_D.learning_rate:g} --from-scratch]",
    ),
    scene_share: Optional[float] = typer.Option(
        None,
        "--scene-share",
        help=f"Share of each batch that is rendered street scenes. \\[default: {_D.scene_share:g}]",
    ),
    paste: Optional[float] = typer.Option(
        None,
        "--paste",
        help=f"Chance that a training photo gets rendered plates pasted in (new places, sizes, angles). "
        f"\\[default: {_D.paste:g}]",
    ),
    val: Optional[float] = typer.Option(
        None, "--val", help=f"Share of the photos that chooses the best checkpoint. 0: none. \\[default: {_D.val:g}]"
    ),
    eval_every: Optional[int] = typer.Option(
        None, "--eval-every", help=f"Score the val photos every N steps; 0: never. \\[default: {_D.eval_every}]"
    ),
    patience: Optional[int] = typer.Option(
        None,
        "--patience",
        help=f"Stop after N evaluations without a better val score; 0: train to --steps. \\[default: {_D.patience}]",
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the split, batches and augmentation."),
    init_from: Optional[Path] = typer.Option(
        None,
        "--init-from",
        help="Start from this detector folder or checkpoint. \\[default: the bundled base detector]",
    ),
    from_scratch: bool = typer.Option(False, "--from-scratch", help="Start from random weights."),
    time_limit: Optional[float] = typer.Option(
        None, "--time-limit", help="Stop (and save) after this many minutes even if --steps is not reached."
    ),
    force: bool = typer.Option(
        False, "--force", help="Start a new detector even if DETECTOR_DIR holds one (its checkpoints are deleted)."
    ),
) -> None:
    from rich.console import Console

    from plateocr.commands.training_progress import RichTrainListener
    from plateocr.detection.training import train_detector
    from plateocr.errors import PlateOCRError
    from plateocr.training.loop import TrainingInterrupted

    if time_limit is not None and not time_limit > 0:
        raise PlateOCRError(f"--time-limit {time_limit:g}: must be a positive number of minutes")
    console = Console(stderr=True)
    given = {
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "scene_share": scene_share,
        "paste": paste,
        "val": val,
        "eval_every": eval_every,
        "patience": patience,
        "seed": seed,
    }
    listener = RichTrainListener(console, _describe, label="train-detector")
    try:
        result = train_detector(
            annotations,
            detector_dir,
            given,
            images_dir=images,
            init_from=init_from,
            from_scratch=from_scratch,
            force=force,
            time_limit=time_limit * 60 if time_limit is not None else None,
            listener=listener,
        )
    except TrainingInterrupted as e:
        listener.finish()
        console.print(f"interrupted; checkpoint saved: {e.checkpoint} (run the same command to resume)")
        sys.exit(130)
    _print_result(result, console)
    from plateocr.detection.detector import warm_detector

    with console.status("preparing the detector for predict --detect"):
        note = warm_detector(result.detector_dir)
    if note:
        console.print(f"note: {note}")


def _describe(metrics: dict) -> str:
    return (
        f"val recall {metrics['recall'] or 0:.3f}, precision {metrics['precision'] or 0:.3f} "
        f"({metrics['found']}/{metrics['annotated']} plates found), mean IoU {metrics['mean_iou']:.3f}"
    )


def _print_result(result, console) -> None:
    from rich.console import Console
    from rich.table import Table

    if result.problems:
        from plateocr.commands.skipped_rows import skipped_rows_table

        console.print(skipped_rows_table(result.problems, Path(result.detector_dir) / SKIPPED_FILE))
    table = Table(title=f"Detector training in {result.detector_dir}", show_header=False)
    table.add_row("photos", f"{result.train_photos} train, {result.val_photos} val")
    table.add_row(
        "steps", f"{result.first_step} -> {result.last_step}" + (" (early stop)" if result.stopped_early else "")
    )
    if result.final_loss is not None:
        table.add_row("final loss", f"{result.final_loss:.4f}")
    table.add_row("time", f"{result.seconds / 60:.1f} min")
    o = result.options
    table.add_row("learning rate", f"{o.learning_rate:g} ({o.schedule}), batch {o.batch_size}")
    table.add_row("checkpoint", str(result.checkpoint))
    if result.best:
        table.add_row("best", f"step {result.best['step']}: {_describe(result.best)}")
    Console().print(table)
