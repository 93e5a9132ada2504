"""The progress of a training run on the terminal (rich): `train` and `train-detector` show it."""

from __future__ import annotations

from typing import Callable


class RichTrainListener:
    """Progress bar (step, loss, images/s, ETA) and messages on stderr; `describe(metrics)` words
    an evaluation's metrics."""

    def __init__(self, console, describe: Callable[[dict], str], label: str = "train"):
        self.console = console
        self.describe = describe
        self.label = label
        self.progress = None
        self.task = None

    def start(self, first_step: int, total_steps: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if first_step >= total_steps:
            self.console.print(f"already at step {first_step} of {total_steps}; pass a larger --steps to continue")
            return
        self.progress = Progress(
            TextColumn(self.label),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} img/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total_steps, completed=first_step, loss="-", rate="-")

    def step(self, step: int, loss: float, images_per_sec: float) -> None:
        if self.progress is not None:
            rate = f"{images_per_sec:.1f}" if images_per_sec else "-"
            self.progress.update(self.task, completed=step, loss=f"{loss:.3f}", rate=rate)

    def message(self, text: str) -> None:
        (self.progress.console if self.progress else self.console).print(text)

    def evaluated(self, step: int, metrics: dict, is_best: bool) -> None:
        mark = " (best so far, kept in best/)" if is_best else ""
        self.message(f"step {step}: {self.describe(metrics)}{mark}")

    def finish(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
