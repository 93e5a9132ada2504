"""Training: a graph-mode loop over the FSNS shards that checkpoints, resumes and reports.

- The model directory records what the model is (charset, spec, ModelConfig) and how it was
  trained; running again on it resumes from the latest checkpoint (weights, optimizer slots
  and global step), and ``steps`` is the total to reach, so a larger value continues.
- Checkpoints are written every ``save_every_secs`` / ``save_every_steps``, at the end and on
  Ctrl-C; a NaN loss stops without saving, so the last checkpoint stays a good one.
- ``eval_every`` scores the val split in a second graph and keeps the best checkpoint in best/
  (predict, eval and export use it); ``patience`` stops a run whose val score has not improved
  for that many evaluations. Both are on by default: on small sets the score peaks early.
  A run that starts from a checkpoint scores it first (step 0), so fine-tuning never leaves
  best/ reading the val split worse than the model it started from. Nothing in training reads
  the test split: `eval` scores it, free of this choice. Records without a val split (--val 0,
  too few plates, or written before val splits) train to the end and keep the latest checkpoint.
- Fine-tuning: ``checkpoint`` restores the variables of a whole attention OCR checkpoint that
  fit by name and shape; ``checkpoint_inception`` fills the conv tower from an ImageNet
  InceptionV3 slim checkpoint.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from plateocr.base_model import bundled_base_model
from plateocr.charset import Charset
from plateocr.errors import PlateOCRError, tf_error_message
from plateocr.model.modeldir import ModelDir, checkpoint_step
from plateocr.spec import DatasetSpec
from plateocr.training.early_stopping import BestKeeper, no_eval_split_note
from plateocr.training.graph import TrainGraph, build_graph
from plateocr.training.options import FINE_TUNE_LEARNING_RATE, FINE_TUNE_SYNTHETIC_SHARE, TrainOptions
from plateocr.training.restore import (
    base_architecture,
    initialize,
    resolve_checkpoint_arg,
)


class NaNLossError(PlateOCRError):
    pass


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint was saved."""

    def __init__(self, checkpoint: str | None):
        super().__init__(checkpoint)
        self.checkpoint = checkpoint


@dataclass
class TrainResult:
    model_dir: Path
    first_step: int  # global step at start (0 for a new model)
    last_step: int
    checkpoint: str | None
    final_loss: float | None
    seconds: float
    options: TrainOptions
    restored: list[str] = field(default_factory=list)  # variables filled from --init-from, --checkpoint-inception
    skipped: list[str] = field(default_factory=list)  # ... and those that did not fit
    best: dict | None = None
    first_step_seconds: float | None = None  # start-up: session ready to first step done
    stopped_early: bool = False  # by --patience: the val score stopped improving


class TrainListener:
    """What training tells the caller (the CLI shows it with rich). Defaults do nothing."""

    def start(self, first_step: int, total_steps: int) -> None: ...

    def step(self, step: int, loss: float, images_per_sec: float) -> None: ...

    def message(self, text: str) -> None: ...

    def evaluated(self, step: int, metrics: dict, is_best: bool) -> None: ...

    def finish(self) -> None: ...


def open_model_dir(
    model_dir, records_dir, spec: DatasetSpec, charset: Charset, given: dict, config_overrides: dict | None, force: bool
) -> tuple[ModelDir, TrainOptions, bool]:
    """The model directory to train (resumed or new), the options to use, and whether resumed."""
    from plateocr.model.config import ModelConfig

    if ModelDir.exists(model_dir) and not force:
        md = ModelDir(model_dir)
        md.check_compatible(spec, charset, records_dir)
        stored = md.config_dict
        for k, v in (config_overrides or {}).items():
            if v is not None and stored.get(k) != (list(v) if isinstance(v, tuple) else v):
                raise PlateOCRError(
                    f"{model_dir}: was built with {k}={stored.get(k)!r}, not {v!r}; "
                    "use another --model-dir, or --force to start over"
                )
        opts = TrainOptions.resolve(md.options, given)
        old = md.options.get("optimizer")
        if old and old != opts.optimizer and md.resume_checkpoint():
            raise PlateOCRError(
                f"{model_dir}: was trained with --optimizer {old}; resuming needs the same optimizer "
                "(or use another --model-dir, or --force to start over)"
            )
        return md, opts, True
    opts = TrainOptions.resolve(None, given)
    config = ModelConfig.from_spec(spec, **(config_overrides or {}))
    md = ModelDir.create(model_dir, spec, charset, config, asdict(opts), force=force, records_dir=records_dir)
    return md, opts, False


def train(
    records_dir: str | os.PathLike,
    model_dir: str | os.PathLike,
    options: dict | None = None,
    *,
    config_overrides: dict | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_inception: str | os.PathLike | None = None,
    force: bool = False,
    from_scratch: bool = False,
    listener: TrainListener | None = None,
    time_limit: float | None = None,
    train_input=None,
    eval_split: str = "val",
) -> TrainResult:
    """Train (or resume) the model in `model_dir` on the records in `records_dir`.

    options: TrainOptions fields given by the user (None values mean "not given").
    config_overrides: ModelConfig fields for a new model (e.g. final_endpoint).
    A new model starts from the bundled base model (plateocr.base_model) unless `from_scratch`,
    `checkpoint` or `checkpoint_inception` is given: its architecture, and every variable that
    fits (per-character ones mapped by character).
    time_limit: seconds of training after which to stop (and save) before `steps` is reached.
    train_input: optional ``fn(TrainOptions) -> tf.data.Dataset`` of {"images", "labels", "texts"}
    batches (e.g. synthetic_data.synthetic_train_dataset) used instead of the records' train
    split; records_dir then supplies the spec, the charset and the split for --eval-every.
    eval_split: the split of records_dir that --eval-every scores, best/ and early stopping choose
    on (and the step-0 score): val, so that `eval` reports test free of that choice. A caller with
    a held-out set of its own names it (scripts/train_base_model.py: its synthetic test records).
    """
    from plateocr.training.data import check_split_records
    from plateocr.outputs import check_output_path

    listener = listener or TrainListener()
    check_output_path(model_dir, "model folder", folder=True)
    records_dir = Path(records_dir)
    spec = DatasetSpec.read(records_dir)
    charset = Charset.read(records_dir / spec.charset_file)
    if spec.num_classes != charset.num_classes:
        raise PlateOCRError(
            f"{records_dir}: dataset spec says {spec.num_classes} classes, charset has {charset.num_classes}"
        )
    rehearsal = None  # why rendered plates cannot be mixed into the records' batches, if so
    if train_input is None:
        from plateocr.training.synthetic_data import rehearsal_problem

        check_split_records(records_dir, spec, "train")  # a damaged shard named before any work
        rehearsal = rehearsal_problem(charset, spec)
    if (options or {}).get("synthetic_share") and rehearsal:
        raise PlateOCRError(f"--synthetic-share: cannot mix in synthetic plates: {rehearsal}")
    unstarted = not force and ModelDir.exists(model_dir) and ModelDir(model_dir).resume_checkpoint() is None
    if unstarted:  # e.g. Ctrl-C or a crash before the first checkpoint: nothing to resume
        listener.message(
            f"{model_dir}: no checkpoint yet (an earlier run stopped before its first one); starting it as a new model"
        )
    new_model = force or unstarted or not ModelDir.exists(model_dir)
    if new_model and not (from_scratch or checkpoint or checkpoint_inception):
        checkpoint = bundled_base_model()
        if checkpoint is not None:
            listener.message(f"starting from the bundled base model ({checkpoint}); --from-scratch to opt out")
    ckpt_arg = resolve_checkpoint_arg(checkpoint) if checkpoint else None
    incep_arg = resolve_checkpoint_arg(checkpoint_inception) if checkpoint_inception else None
    if ckpt_arg and new_model and (options or {}).get("learning_rate") is None:
        options = {**(options or {}), "learning_rate": FINE_TUNE_LEARNING_RATE}
    if ckpt_arg and new_model and train_input is None and (options or {}).get("synthetic_share") is None:
        if rehearsal:
            listener.message(f"fine-tuning on the real plates only (no rendered plates mixed in: {rehearsal})")
        options = {**(options or {}), "synthetic_share": 0.0 if rehearsal else FINE_TUNE_SYNTHETIC_SHARE}
    if ckpt_arg and new_model:
        # a new model takes the architecture of the plateocr model it starts from
        given_config = {k: v for k, v in (config_overrides or {}).items() if v is not None}
        config_overrides = {**base_architecture(ckpt_arg), **given_config}
    md, opts, _resumed = open_model_dir(
        model_dir, records_dir, spec, charset, options or {}, config_overrides, force or unstarted
    )
    evaluate_on = None
    if opts.eval_every:
        if eval_split in spec.splits and spec.splits[eval_split].size > 0:
            evaluate_on = eval_split
        else:
            listener.message(no_eval_split_note(records_dir, spec, eval_split, md))
    md.update(options=asdict(opts), records_dir=records_dir)
    if train_input is None:  # the formats of the user's labels, for format-aware reading
        from plateocr.training.data import learn_formats

        learn_formats(md, records_dir, spec, listener.message)
    latest = md.resume_checkpoint()
    done = checkpoint_step(latest) if latest else None
    if done is not None and done >= opts.steps:  # nothing to train: answer without building a graph
        listener.start(done, opts.steps)
        listener.finish()
        return TrainResult(md.path, done, done, latest, None, 0.0, opts, best=md.best_metrics())
    from plateocr.training.precision import describe

    listener.message(f"precision: {describe(opts.precision)}")  # a resumed older model takes auto
    g = build_graph(md, records_dir, spec, opts, ckpt_arg, incep_arg, train_input)
    with g.graph.as_default():  # v1 Saver/Session calls outside it would act eagerly
        return _loop(g, md, records_dir, spec, opts, evaluate_on, listener, time_limit)


def _loop(
    g: TrainGraph, md: ModelDir, records_dir, spec, opts: TrainOptions, evaluate_on, listener, time_limit
) -> TrainResult:
    from plateocr.model.compat import tf, tf1
    from plateocr.training.precision import training_session_config

    session = tf1.Session(graph=g.graph, config=training_session_config(opts.precision))
    scorer = BestKeeper(md, records_dir, spec, opts, evaluate_on, listener, g.writer)
    try:
        restored, skipped = initialize(g, session, listener, md)
    except BaseException:
        session.close()
        g.writer.close()
        raise
    first_step = step = int(session.run(g.global_step))
    last_ckpt = g.latest
    last_saved_step = step if g.latest else None
    last_save_time = time.monotonic()
    loss_value = None
    started = time.monotonic()
    first_step_seconds = None
    stopped_early = False
    deadline = started + time_limit if time_limit else None

    def save() -> str:
        nonlocal last_ckpt, last_saved_step, last_save_time
        s = int(session.run(g.global_step))
        if last_saved_step != s:
            last_ckpt = _save_checkpoint(g.saver, session, md, s)
            last_saved_step = s
        last_save_time = time.monotonic()
        return last_ckpt

    listener.start(first_step, opts.steps)
    rate = None
    if scorer.active and opts.patience and scorer.since_best >= opts.patience and step < opts.steps:
        stopped_early = True  # a rerun of a run that early stopping ended: nothing to train
        listener.message(
            f"stopped early before (step {scorer.last_step}): no better {scorer.split} score in {scorer.since_best} "
            f"evaluations (best: step {scorer.best.get('step', '?')}); a larger --patience, or 0, trains on"
        )
    if scorer.active and restored and not g.latest and scorer.best is None:
        # Score the starting weights too: when fine-tuning never reads the val plates better
        # than the checkpoint it started from, best/ keeps that checkpoint (step 0).
        scorer.score(save(), step)
    try:
        while step < opts.steps and not stopped_early:
            want_summary = opts.summary_every and (step % opts.summary_every == 0 or step + 1 == opts.steps)
            fetches = {"train": g.train_op, "loss": g.loss}
            if want_summary:
                fetches["summary"] = g.summary_op
            t0 = time.monotonic()
            try:
                out = session.run(fetches)
            except tf.errors.InvalidArgumentError as e:
                raise PlateOCRError(f"{records_dir}: bad training data ({tf_error_message(e)})") from None
            except tf.errors.DataLossError as e:  # a shard cut short or corrupted
                from plateocr.training.data import damaged_split_error

                raise damaged_split_error(records_dir, spec, "train", e) from None
            dt = time.monotonic() - t0
            loss_value = float(out["loss"])
            if not math.isfinite(loss_value):
                where = f"{last_ckpt} is kept as the last good checkpoint" if last_ckpt else "no checkpoint was saved"
                raise NaNLossError(
                    f"loss became {loss_value} at step {step + 1}; stopped without saving ({where}); "
                    "try a lower --learning-rate"
                )
            step += 1
            if want_summary:
                g.writer.add_summary(out["summary"], step)
            if step > first_step + 1:  # the first step includes graph warm-up
                r = opts.batch_size / max(dt, 1e-9)
                rate = r if rate is None else 0.9 * rate + 0.1 * r
            if first_step_seconds is None:
                first_step_seconds = time.monotonic() - started
            listener.step(step, loss_value, rate or 0.0)
            due_steps = opts.save_every_steps and step % opts.save_every_steps == 0
            due_time = time.monotonic() - last_save_time >= opts.save_every_secs
            if due_steps or due_time:
                save()
            if scorer.active and step % opts.eval_every == 0:
                scorer.score(save(), step)
                if opts.patience and scorer.since_best >= opts.patience:
                    stopped_early = True
                    listener.message(
                        f"early stop at step {step}: no better {scorer.split} score in {opts.patience} evaluations "
                        f"(best: step {scorer.best.get('step', '?')}, in {md.path / 'best'}); --patience 0 trains on"
                    )
                    break
            if deadline is not None and time.monotonic() >= deadline:
                listener.message(f"time limit reached at step {step}")
                break
        save()
        if scorer.active and scorer.last_step != step:
            scorer.score(last_ckpt, step)
    except KeyboardInterrupt:
        raise TrainingInterrupted(save()) from None
    finally:
        scorer.close()
        g.writer.close()
        session.close()
        listener.finish()
    return TrainResult(
        model_dir=md.path,
        first_step=first_step,
        last_step=step,
        checkpoint=last_ckpt,
        final_loss=loss_value,
        seconds=time.monotonic() - started,
        options=opts,
        restored=restored,
        skipped=skipped,
        best=scorer.best,
        first_step_seconds=first_step_seconds,
        stopped_early=stopped_early,
    )


def _save_checkpoint(saver, session, md: ModelDir, step: int) -> str:
    """Save checkpoint `step`; a failed write (disk full) removes what it left (TensorFlow's
    .tempstate files) and raises a one-line error."""
    from plateocr.model.compat import tf

    try:
        return saver.save(session, md.checkpoint_prefix, global_step=step)
    except (tf.errors.OpError, OSError) as e:
        prefix = f"{md.checkpoint_prefix}-{step}"
        for p in Path(prefix).parent.glob(f"{Path(prefix).name}.*"):
            p.unlink(missing_ok=True)
        reason = tf_error_message(e) if isinstance(e, tf.errors.OpError) else (e.strerror or str(e))
        reason = reason.rsplit("; ", 1)[-1]  # TensorFlow's "<temporary file>; <what failed>"
        raise PlateOCRError(f"{prefix}: cannot write the checkpoint ({reason})") from None
