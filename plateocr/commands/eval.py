"""Evaluate a trained model on a records split: every example once, read as `predict` reads it.

Prints character accuracy, full-sequence accuracy, mean confidence and the worst errors, and which checkpoint was scored and which split chose it. The records default to those the model was trained on, the split to test; the checkpoint to best/ (chosen on the val split by training's --eval-every), else the latest. A best/ chosen on the split being scored (a model trained before val splits chose on test) is not scored by default: the latest is, with a note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from plateocr import defaults
from plateocr.commands.predict import Backend
from plateocr.formats import FORMATS_HELP


def run(
    model_dir: Optional[Path] = typer.Option(
        None,
        "--model-dir",
        help="Model folder `plateocr train` wrote. \\[default: model/, else the bundled base model]",
    ),
    data: Optional[Path] = typer.Option(
        None, "--data", help="Records folder. \\[default: the one the model was trained on, else records/]"
    ),
    split: str = typer.Option("test", "--split", help="Split to evaluate: test, val or train."),
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", help="best, latest, or a checkpoint path. \\[default: best, else latest]"
    ),
    batch_size: int = typer.Option(defaults.READ_BATCH_SIZE, "--batch-size", help=defaults.READ_BATCH_HELP),
    errors: Optional[Path] = typer.Option(None, "--errors", help="Write every mistake to this CSV."),
    worst: int = typer.Option(10, "--worst", help="How many of the worst errors to show."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON only (for scripts)."),
    tta: bool = typer.Option(True, "--tta/--no-tta", help=defaults.TTA_HELP, show_default=False),
    formats: str = typer.Option("auto", "--formats", help=FORMATS_HELP, show_default=False),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --errors file."),
    backend: Optional[Backend] = typer.Option(None, "--backend", case_sensitive=False, help=defaults.READ_BACKEND_HELP),
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from plateocr.commands.progress import progress_bar

    from plateocr.base_model import bundled_base_model, default_model_dir
    from plateocr.training.evaluate import evaluate
    from plateocr.outputs import check_can_write

    if errors is not None:
        check_can_write(errors, force, "errors file", folder=False)
    err = Console(stderr=True)
    model_dir = default_model_dir(model_dir)
    if model_dir == bundled_base_model():  # e.g. before training: which labels does it read otherwise?
        err.print(f"no {defaults.MODEL_DIR}/ here: evaluating the bundled base model")
    columns = (TextColumn(f"eval {split}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with progress_bar(*columns, console=err) as bar:
        task = bar.add_task("eval", total=None)
        result = evaluate(
            model_dir,
            data,
            split=split,
            checkpoint=checkpoint,
            batch_size=batch_size,
            tta=tta,
            formats=formats,
            backend=backend and backend.value,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if errors is not None:
        result.write_errors_csv(errors)
    for note in (result.backend_note, *result.choice.notes):
        if note:
            err.print(f"note: {note}")
    if as_json:
        typer.echo(json.dumps(result.report(), indent=2, sort_keys=True))
        return
    _print_tables(result, worst)
    if errors is not None:
        err.print(f"{len(result.errors)} mistake(s) written to {errors}")


def _print_tables(result, worst: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    m = result.metrics()
    table = Table(title=f"{m['split']} split, {m['examples']} examples, checkpoint {m['checkpoint']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("checkpoint", result.choice.describe() if result.choice else m["checkpoint"])
    table.add_row("character accuracy", f"{m['character_accuracy']:.4f}")
    table.add_row("full-sequence accuracy", f"{m['sequence_accuracy']:.4f}")
    table.add_row("mean confidence", f"{m['mean_confidence']:.4f}")
    table.add_row("formats", m["formats"] or "off")
    table.add_row("errors", f"{m['errors']} of {m['examples']}")
    if m["errors_o_vs_0_only"]:
        table.add_row("errors only in O against 0 (check the labels)", f"{m['errors_o_vs_0_only']}")
        table.add_row("full-sequence accuracy if O = 0", f"{m['sequence_accuracy_o_is_0']:.4f}")
    console.print(table)
    shown = result.worst_errors(worst)
    if shown:
        errs = Table(title=f"worst {len(shown)} of {len(result.errors)} errors")
        for col in ("index", "truth", "prediction", "confidence", "note"):
            errs.add_column(col, justify="right" if col in ("index", "confidence") else "left")
        for e in shown:
            note = "only O/0: check the label" if e.o_vs_0_only else ""
            errs.add_row(str(e.index), e.truth, e.prediction or "(nothing)", f"{e.confidence:.3f}", note)
        console.print(errs)
