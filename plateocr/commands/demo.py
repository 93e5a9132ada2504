"""Run the whole workflow on the sample data: crop, tfrecords, a short training, eval, predict.

Uses data/sample/ (annot.csv + images/, made by `plateocr synth`) unless --annotations names
another annotation CSV or folder; where there is no data/sample (away from the repository), it
renders the same 200 photos into the work folder first. Training fine-tunes the bundled base model
(with --from-scratch, or without a bundled model, a smaller model learns from scratch with
--synthetic generated plate crops added to the training split); the test split is the sample's
own plates. Everything goes into --workdir (default: a new temporary folder, kept).
Training is time-boxed by --minutes so the whole demo takes under 10 minutes on 2 CPU cores;
at the end a table shows where each stage's output is and the test accuracy reached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from plateocr.demo import DEFAULT_MINUTES, DEFAULT_SYNTHETIC, DemoListener


def run(
    annotations: Optional[Path] = typer.Option(
        None,
        "--annotations",
        help="Annotation CSV, or a folder with annot.csv and images/. \\[default: data/sample]",
    ),
    old_data: Optional[Path] = typer.Option(None, "--data", hidden=True),  # renamed --annotations, as in predict
    workdir: Optional[Path] = typer.Option(
        None, "--workdir", help="Folder for all outputs. \\[default: a new temporary folder]"
    ),
    minutes: float = typer.Option(DEFAULT_MINUTES, "--minutes", help="Training time budget in minutes."),
    synthetic: Optional[int] = typer.Option(
        None,
        "--synthetic",
        help=f"Synthetic plate crops added to the training split. \\[default: 0 with the base model, else {DEFAULT_SYNTHETIC}]",
    ),
    from_scratch: bool = typer.Option(
        False, "--from-scratch", help="Train a small model from scratch instead of fine-tuning the bundled base model."
    ),
    force: bool = typer.Option(False, "--force", help="Reuse a non-empty --workdir, replacing earlier demo outputs."),
) -> None:
    from rich.console import Console
    from rich.table import Table

    from plateocr.commands.renamed import renamed
    from plateocr.demo import run_demo

    err = Console(stderr=True)
    annotations = renamed(annotations, old_data, "--data", "--annotations", err)
    result = run_demo(
        annotations,
        workdir,
        minutes,
        force=force,
        listener=_RichDemoListener(err),
        synthetic=synthetic,
        from_scratch=from_scratch,
    )
    table = Table(title=f"plateocr demo in {result.workdir} ({result.seconds / 60:.1f} min)", title_justify="left")
    table.add_column("stage")
    table.add_column("output", overflow="fold")
    table.add_column("result", overflow="fold")
    table.add_column("s", justify="right")
    for s in result.stages:
        table.add_row(s.name, str(s.output), s.summary, f"{s.seconds:.0f}")
    Console().print(table)
    Console().print(
        f"test sequence accuracy [bold]{result.sequence_accuracy:.3f}[/bold] after {result.steps} steps. "
        f"Try: plateocr predict {result.workdir / 'crops'}/*.png --model-dir {result.workdir / 'model'}"
    )


class _RichDemoListener(DemoListener):
    def __init__(self, console):
        self.console = console
        self._bar = None
        self._task = None

    def stage(self, name: str, detail: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from plateocr.commands.progress import progress_bar

        self.console.rule(f"[bold]{name}[/bold]: {detail}")
        if name != "train":
            self._bar = progress_bar(TextColumn(name), BarColumn(), MofNCompleteColumn(), console=self.console)
            self._bar.start()
            self._task = self._bar.add_task(name, total=None)

    def progress(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def done(self, name: str, summary: str, seconds: float) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        self.console.print(f"{name}: {summary} ({seconds:.0f} s)")

    def training_listener(self):
        from plateocr.commands.train import _describe
        from plateocr.commands.training_progress import RichTrainListener

        return RichTrainListener(self.console, _describe)
