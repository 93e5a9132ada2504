"""Train the attention OCR model on the FSNS records `plateocr tfrecords` wrote.

The val split chooses the best checkpoint (MODEL_DIR/best/) and stops training early; the test split is never read here (`plateocr eval` scores it).

Checkpoints go to the model dir every few minutes, at the end and on Ctrl-C. Running again on the same model dir resumes: --steps is the total to reach, so a larger value continues, and options not given are those the model was started with.

TensorBoard: tensorboard --logdir model/
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from plateocr import defaults
from plateocr.training.options import (
    FINE_TUNE_LEARNING_RATE,
    FINE_TUNE_SYNTHETIC_SHARE,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TrainOptions,
)
from plateocr.training.train_layers import TRAIN_LAYERS

_D = TrainOptions()  # the defaults shown in --help
# Choices typer lists in --help and checks.
Optimizer = Enum("Optimizer", {name: name for name in OPTIMIZERS}, type=str)
Schedule = Enum("Schedule", {name: name for name in SCHEDULES}, type=str)
TrainLayers = Enum("TrainLayers", {name: name for name in TRAIN_LAYERS}, type=str)
Precision = Enum("Precision", {name: name for name in PRECISIONS}, type=str)


def run(
    data: Path = typer.Option(Path(defaults.RECORDS_DIR), "--data", help="Records folder (dataset.json, shards)."),
    model_dir: Path = typer.Option(Path(defaults.MODEL_DIR), "--model-dir", help="Model folder to create or resume."),
    steps: Optional[int] = typer.Option(
        None, "--steps", help=f"Total training steps to reach. \\[default: {_D.steps}]"
    ),
    batch_size: Optional[int] = typer.Option(
        None,
        "--batch-size",
        help=f"Images per training step (eval and predict read in batches of their own --batch-size). "
        f"\\[default: {_D.batch_size}]",
    ),
    learning_rate: Optional[float] = typer.Option(
        None,
        "--learning-rate",
        help=f"Learning rate. \\[default: {FINE_TUNE_LEARNING_RATE:g} from the base model or --init-from, "
        f"{_D.learning_rate:g} --from-scratch]",
    ),
    optimizer: Optional[Optimizer] = typer.Option(
        None, "--optimizer", help=f"Optimizer (momentum 0.9: the reference's). \\[default: {_D.optimizer}]"
    ),
    schedule: Optional[Schedule] = typer.Option(
        None,
        "--schedule",
        help=f"Learning rate schedule: constant, or cosine (to 0 at --steps). \\[default: {_D.schedule}]",
    ),
    augment: Optional[bool] = typer.Option(
        None, "--augment/--no-augment", help="Random crop, resize method and colour changes. \\[default: on]"
    ),
    synthetic_share: Optional[float] = typer.Option(
        None,
        "--synthetic-share",
        help="Share of each batch that is freshly rendered synthetic plates (rehearsal, against forgetting "
        f"what the base model knew). 0: real plates only. \\[default: {FINE_TUNE_SYNTHETIC_SHARE:g} from the base "
        f"model or --init-from (0 where the records cannot hold rendered plates), {_D.synthetic_share:g} --from-scratch]",
    ),
    init_from: Optional[Path] = typer.Option(
        None,
        "--init-from",
        help="Start from this attention OCR checkpoint (or model dir): variables that fit by name and shape. "
        "\\[default: the bundled base model]",
    ),
    old_checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", hidden=True),  # renamed --init-from
    from_scratch: bool = typer.Option(
        False, "--from-scratch", help="Start a new model from random weights instead of the bundled base model."
    ),
    checkpoint_inception: Optional[Path] = typer.Option(
        None, "--checkpoint-inception", help="Start the conv tower from an ImageNet InceptionV3 slim checkpoint."
    ),
    eval_every: Optional[int] = typer.Option(
        None,
        "--eval-every",
        help="Evaluate on the val split every N steps; keep the best checkpoint in MODEL_DIR/best/ (what "
        "predict, eval and export use). Records without a val split keep the latest checkpoint. 0: never. "
        f"\\[default: {_D.eval_every}]",
    ),
    patience: Optional[int] = typer.Option(
        None,
        "--patience",
        help="Stop when N evaluations in a row did not beat the best val score. 0: train to --steps. "
        f"\\[default: {_D.patience}]",
    ),
    micro_batches: Optional[int] = typer.Option(
        None, "--micro-batches", help="Run each batch in N parts (same update, less memory). \\[default: 1]"
    ),
    train_layers: Optional[TrainLayers] = typer.Option(
        None,
        "--train-layers",
        help=f"Which layers learn: all, top (decoder + Inception blocks; the stem keeps its weights) or decoder. "
        f"\\[default: {_D.train_layers}]",
    ),
    freeze_batch_norm: Optional[bool] = typer.Option(
        None,
        "--freeze-batch-norm/--train-batch-norm",
        help="Normalise with the starting model's moving averages and keep them. \\[default: train]",
    ),
    precision: Optional[Precision] = typer.Option(
        None,
        "--precision",
        help="auto: bfloat16 mixed precision where the CPU computes it natively (AVX512-BF16, AMX: faster), "
        "else float32; variables, eval and reading stay float32. \\[default: auto]",
    ),
    save_minutes: Optional[float] = typer.Option(
        None, "--save-minutes", help=f"Minutes between checkpoints. \\[default: {_D.save_every_secs / 60:g}]"
    ),
    save_every: Optional[float] = typer.Option(None, "--save-every", hidden=True),  # seconds: --save-minutes
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for initialisation, shuffling and augmentation."),
    time_limit: Optional[float] = typer.Option(
        None, "--time-limit", help="Stop (and save) after this many minutes even if --steps is not reached."
    ),
    endpoint: Optional[str] = typer.Option(
        None, "--endpoint", help="Last InceptionV3 block of the conv tower, for a new model (e.g. Mixed_5b)."
    ),
    coordinates: Optional[bool] = typer.Option(
        None,
        "--coordinates/--no-coordinates",
        help="Give attention one-hot positions, for a new model (upstream checkpoints have none). \\[default: on]",
    ),
    force: bool = typer.Option(
        False, "--force", help="Start a new model even if MODEL_DIR holds one (its checkpoints are deleted)."
    ),
) -> None:
    from rich.console import Console

    from plateocr.commands.renamed import renamed
    from plateocr.commands.training_progress import RichTrainListener
    from plateocr.errors import PlateOCRError
    from plateocr.training.loop import TrainingInterrupted, train

    if time_limit is not None and not time_limit > 0:
        raise PlateOCRError(f"--time-limit {time_limit:g}: must be a positive number of minutes")
    console = Console(stderr=True)
    init_from = renamed(init_from, old_checkpoint, "--checkpoint", "--init-from", console)
    old_minutes = None if save_every is None else save_every / 60
    save_minutes = renamed(save_minutes, old_minutes, "--save-every SECONDS", "--save-minutes MINUTES", console)
    given = {
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "optimizer": optimizer and optimizer.value,
        "schedule": schedule and schedule.value,
        "augment": augment,
        "synthetic_share": synthetic_share,
        "eval_every": eval_every,
        "patience": patience,
        "save_every_secs": None if save_minutes is None else save_minutes * 60,
        "micro_batches": micro_batches,
        "train_layers": train_layers and train_layers.value,
        "freeze_batch_norm": freeze_batch_norm,
        "precision": precision and precision.value,
        "seed": seed,
    }
    listener = RichTrainListener(console, _describe)
    try:
        result = train(
            data,
            model_dir,
            given,
            config_overrides={"final_endpoint": endpoint, "use_coordinates": coordinates},
            checkpoint=init_from,
            checkpoint_inception=checkpoint_inception,
            force=force,
            from_scratch=from_scratch,
            listener=listener,
            time_limit=time_limit * 60 if time_limit is not None else None,
        )
    except TrainingInterrupted as e:
        listener.finish()
        console.print(f"interrupted; checkpoint saved: {e.checkpoint} (run the same command to resume)")
        sys.exit(130)
    _print_result(result)
    _warm_reader(result.model_dir, console)


def _warm_reader(model_dir: Path, console) -> None:
    """Convert the checkpoint predict will read (best/, else the latest) for LiteRT now, while
    TensorFlow is loaded (a second or two), so the first `plateocr predict` starts warm."""
    from plateocr.inference.litert_runner import warm_cache

    with console.status("preparing the model for predict"):
        note = warm_cache(model_dir)
    if note:
        console.print(f"note: {note}")


def _describe(metrics: dict) -> str:
    return (
        f"{metrics['split']} sequence accuracy {metrics['sequence_accuracy']:.3f}, "
        f"character accuracy {metrics['character_accuracy']:.3f}"
    )


def _print_result(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Training in {result.model_dir}", show_header=False)
    table.add_row(
        "steps", f"{result.first_step} -> {result.last_step}" + (" (early stop)" if result.stopped_early else "")
    )
    if result.final_loss is not None:
        table.add_row("final loss", f"{result.final_loss:.4f}")
    table.add_row("time", f"{result.seconds / 60:.1f} min")
    o = result.options
    table.add_row("optimizer", f"{o.optimizer}, learning rate {o.learning_rate:g} ({o.schedule}), batch {o.batch_size}")
    from plateocr.training.precision import describe

    table.add_row("precision", describe(o.precision))
    if o.synthetic_share:
        table.add_row("synthetic plates", f"{o.synthetic_share:.0%} of each batch")
    table.add_row("checkpoint", str(result.checkpoint))
    if result.restored:
        table.add_row("restored", f"{len(result.restored)} variables ({len(result.skipped)} skipped)")
    if result.best:
        b = result.best
        table.add_row(
            "best",
            f"step {b['step']}: sequence accuracy {b['sequence_accuracy']:.3f}, "
            f"character accuracy {b['character_accuracy']:.3f} ({b['split']})",
        )
    Console().print(table)
