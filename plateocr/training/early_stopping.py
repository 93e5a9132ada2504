"""Early stopping: scoring checkpoints on the val split, keeping the best in best/ and stopping
after --patience evaluations without a better score."""

from __future__ import annotations

from plateocr.model.modeldir import ModelDir
from plateocr.spec import DatasetSpec
from plateocr.training.options import TrainOptions


def no_eval_split_note(records_dir, spec: DatasetSpec, split: str, md: ModelDir) -> str:
    """What training says when the records have no examples of the split --eval-every scores."""
    why = (
        "no val split (written with --val 0, from too few plates, or before val splits)"
        if split == "val"
        else f"no {split} examples"
    )
    text = (
        f"note: {records_dir} has {why}: no evaluation, no early stopping; training runs to the end and "
        "keeps the latest checkpoint"
    )
    best = md.best_metrics()
    if best is not None:
        text += (
            f" (best/, step {best.get('step', '?')} chosen on {best.get('split', '?')} by an earlier run, "
            "stays what predict and export read)"
        )
    return text


class BestKeeper:
    """Scores checkpoints on the val split (one eval graph, built on first use) and keeps the
    best in the model dir's best/."""

    def __init__(self, md: ModelDir, records_dir, spec, opts: TrainOptions, split, listener, writer):
        self.md, self.records_dir, self.spec, self.opts = md, records_dir, spec, opts
        self.split, self.listener, self.writer = split, listener, writer
        self.best = md.best_metrics()
        if self.active and self.best is not None and self.best.get("split") != split:
            # e.g. best/ of a model trained before val splits: chosen on test, not comparable
            listener.message(
                f"best/ (step {self.best.get('step', '?')}) was chosen on the {self.best.get('split')} split; "
                f"choosing again on {split}"
            )
            self.best = None
        # Kept in the model dir so that --patience counts across resumes (a time-limited run
        # continued later stops where one uninterrupted run would have).
        state = md.early_stopping_state() if self.best else {}
        self.last_step = state.get("step")
        self.since_best = state.get("since_best", 0)  # evaluations since the best one
        self._evaluator = None

    @property
    def active(self) -> bool:
        return self.split is not None

    def score(self, ckpt: str, step: int) -> None:
        from plateocr.model.compat import tf1
        from plateocr.training.evaluate import Evaluator

        if self._evaluator is None:
            from plateocr.formats import resolve_formats

            self._evaluator = Evaluator(
                self.records_dir,
                self.spec,
                self.md.charset,
                self.md.config,
                self.split,
                self.opts.eval_batch_size,
                formats=resolve_formats("auto", self.md.path),  # scored as predict reads
            )
        result = self._evaluator.evaluate(ckpt)
        metrics = result.metrics()
        is_best = result.better_than(self.best)
        if is_best:
            self.md.save_best(ckpt, metrics)
            self.best = metrics
            self.since_best = 0
        else:
            self.since_best += 1
        self.last_step = step
        self.md.save_early_stopping_state(step, self.since_best)
        values = [
            tf1.Summary.Value(tag=f"{self.split}/{k}", simple_value=metrics[k])
            for k in ("character_accuracy", "sequence_accuracy", "mean_confidence")
        ]
        self.writer.add_summary(tf1.Summary(value=values), step)
        self.listener.evaluated(step, metrics, is_best)

    def close(self) -> None:
        if self._evaluator is not None:
            self._evaluator.close()
