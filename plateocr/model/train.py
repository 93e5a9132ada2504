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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from plateocr.base_model import bundled_base_model
from plateocr.charset import Charset
from plateocr.errors import PlateOCRError
from plateocr.model.decoding import texts_tf
from plateocr.model.evaluate import tf_error_message
from plateocr.model.modeldir import ModelDir, checkpoint_step
from plateocr.model.train_layers import TRAIN_LAYERS
from plateocr.spec import DatasetSpec

OPTIMIZERS = ("momentum", "adam", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine")
INCEPTION_SCOPE = "AttentionOcr_v1/conv_tower_fn/INCE/"  # + InceptionV3/... as in ImageNet checkpoints


class NaNLossError(PlateOCRError):
    pass


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint was saved."""

    def __init__(self, checkpoint: str | None):
        super().__init__(checkpoint)
        self.checkpoint = checkpoint


# A new model that starts from a checkpoint (by default the bundled base model) takes this
# learning rate unless one is given: on the real EU plates (90 train / 18 test, 32x128, fine-tuning
# an early base model for 4 CPU minutes, benchmarks/accuracy.py) Adam 3e-4 read 15 of 18 test
# plates (character accuracy 0.97), 1e-3 read 13 (0.94).
FINE_TUNE_LEARNING_RATE = 3e-4


@dataclass
class TrainOptions:
    """How to train. Stored in the model directory; a resumed run reuses what is not given."""

    steps: int = 3000  # total global steps to reach
    batch_size: int = 32
    # Adam 0.001 instead of the reference's momentum 0.9 / 0.004: on the real EU plates
    # (90 train / 18 test, 64x256, 4 minutes of CPU, benchmarks/accuracy.py) it reached test
    # character accuracy 0.44 against 0.20, training loss 11 against 22; 0.003 was worse (0.36).
    optimizer: str = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.9  # for --optimizer momentum / rmsprop
    schedule: str = "constant"  # or cosine decay to 0 at `steps`
    warmup_steps: int = 0
    augment: bool = True
    # Share of each batch that is fresh synthetic plates (rehearsal; 0 = real plates only).
    synthetic_share: float = 0.0
    clip_gradient_norm: float = 2.0
    # Run each batch in this many equal parts, one after the other, summing the gradients:
    # the same update with a fraction of the activation memory (see model/train_step.py).
    micro_batches: int = 1
    # Fine-tuning choices (train_layers.TRAIN_LAYERS; batch norm from the moving averages, not updated).
    train_layers: str = "all"
    freeze_batch_norm: bool = False
    shuffle_buffer: int = 2048
    seed: int | None = None
    save_every_secs: float = 300.0
    save_every_steps: int | None = None
    summary_every: int = 50
    # Early stopping on the val split (0 turns either off). On the 90 real EU plates the test
    # score peaked within minutes and then fell as the set was memorised (README, "Choices").
    eval_every: int | None = 200
    patience: int = 10
    eval_batch_size: int = 32
    keep_checkpoints: int = 3

    def validate(self) -> None:
        if self.steps < 1:
            raise PlateOCRError(f"--steps {self.steps}: must be at least 1")
        if self.batch_size < 1:
            raise PlateOCRError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.optimizer not in OPTIMIZERS:
            raise PlateOCRError(f"--optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise PlateOCRError(f"--schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if not self.learning_rate > 0:
            raise PlateOCRError(f"--learning-rate {self.learning_rate}: must be positive")
        if not 0 <= self.synthetic_share < 1:
            raise PlateOCRError(f"--synthetic-share {self.synthetic_share}: must be in [0, 1)")
        if self.micro_batches < 1 or self.batch_size % self.micro_batches:
            raise PlateOCRError(
                f"--micro-batches {self.micro_batches}: must divide --batch-size {self.batch_size}"
            )
        if self.train_layers not in TRAIN_LAYERS:
            raise PlateOCRError(f"--train-layers {self.train_layers!r}: choose one of {', '.join(TRAIN_LAYERS)}")
        if self.eval_every is not None and self.eval_every < 0:
            raise PlateOCRError(f"--eval-every {self.eval_every}: must be 0 (off) or more")
        if self.patience < 0:
            raise PlateOCRError(f"--patience {self.patience}: must be 0 (off) or more")

    @classmethod
    def resolve(cls, stored: dict | None, given: dict | None) -> "TrainOptions":
        """Defaults, overridden by a resumed model's stored options, overridden by given ones."""
        names = {f.name for f in fields(cls)}
        unknown = set(given or {}) - names
        if unknown:
            raise PlateOCRError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        values = {k: v for k, v in (stored or {}).items() if k in names}
        values.update({k: v for k, v in (given or {}).items() if v is not None})
        opts = cls(**values)
        opts.validate()
        return opts


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


# --- graph pieces --------------------------------------------------------------------------


def _learning_rate(opts: TrainOptions, global_step):
    from plateocr.model.compat import tf, tf1

    lr = tf.constant(opts.learning_rate, tf.float32)
    step = tf.cast(global_step, tf.float32)
    if opts.schedule == "cosine":
        progress = tf.minimum(step / float(max(1, opts.steps)), 1.0)
        lr = lr * 0.5 * (1.0 + tf.cos(math.pi * progress))
    if opts.warmup_steps > 0:
        lr = lr * tf.minimum(1.0, (step + 1.0) / float(opts.warmup_steps))
    return tf1.identity(lr, name="learning_rate")


def _optimizer(opts: TrainOptions, lr):
    from plateocr.model.compat import tf1

    if opts.optimizer == "momentum":
        return tf1.train.MomentumOptimizer(lr, opts.momentum)
    if opts.optimizer == "adam":
        return tf1.train.AdamOptimizer(lr)
    if opts.optimizer == "rmsprop":
        return tf1.train.RMSPropOptimizer(lr, momentum=opts.momentum)
    return tf1.train.GradientDescentOptimizer(lr)


def plan_restore(variables, checkpoint: str, name_map=None):
    """A Saver for each of `variables` whose (mapped) name is in `checkpoint` with the same shape.

    Build it before the graph is finalized; returns (saver or None, restored names, skipped
    names with why).
    """
    from plateocr.model.compat import tf, tf1

    try:
        reader = tf.train.load_checkpoint(checkpoint)
    except (tf.errors.OpError, ValueError) as e:
        raise PlateOCRError(f"{checkpoint}: cannot read checkpoint ({tf_error_message(e)})") from None
    shapes = reader.get_variable_to_shape_map()
    to_restore, restored, skipped = {}, [], []
    for v in variables:
        name = v.op.name
        source = name_map(name) if name_map else name
        if source is None:
            continue  # not a variable this checkpoint can hold
        if source not in shapes:
            skipped.append(f"{name} (not in checkpoint)")
        elif list(shapes[source]) != v.shape.as_list():
            skipped.append(f"{name} (shape {v.shape.as_list()} != {list(shapes[source])})")
        else:
            to_restore[source] = v
            restored.append(name)
    saver = tf1.train.Saver(to_restore) if to_restore else None
    return saver, restored, skipped


def inception_name(name: str) -> str | None:
    """Our conv tower variable name -> its name in an ImageNet InceptionV3 slim checkpoint."""
    return name[len(INCEPTION_SCOPE) :] if name.startswith(INCEPTION_SCOPE) else None


def _resolve_checkpoint_arg(path: str | os.PathLike) -> str:
    """A checkpoint prefix, or a folder (a plateocr model dir or any folder with a state file)."""
    p = Path(path)
    if p.is_dir():
        if ModelDir.exists(p):
            return ModelDir(p).resolve_checkpoint()
        from plateocr.model.modeldir import _latest_in

        found = _latest_in(p)
        if found is None:
            raise PlateOCRError(f"{p}: no checkpoint in this folder")
        return found
    if Path(f"{p}.index").is_file() or p.is_file():
        return str(p)
    raise PlateOCRError(f"{p}: checkpoint not found")


def source_model_dir(checkpoint: str) -> ModelDir | None:
    """The plateocr model dir holding `checkpoint` (also in its best/), None for a foreign one."""
    for folder in (Path(checkpoint).parent, Path(checkpoint).parent.parent):
        if ModelDir.exists(folder):
            return ModelDir(folder)
    return None


def base_architecture(checkpoint: str) -> dict:
    """The ModelConfig settings (not the data-given ones) of the plateocr model dir holding
    `checkpoint`; empty for a foreign checkpoint (e.g. upstream's)."""
    source = source_model_dir(checkpoint)
    if source is None:
        return {}
    data_given = {"image_shape", "num_of_views", "max_sequence_length", "num_classes", "null_code", "version"}
    return {k: v for k, v in source.config_dict.items() if k not in data_given}


# --- the loop ------------------------------------------------------------------------------


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
    from plateocr.model.data import check_split_records
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
    if train_input is None:
        check_split_records(records_dir, spec, "train")  # a damaged shard named before any work
    if (options or {}).get("synthetic_share") and train_input is None:
        from plateocr.model.synthetic_data import rehearsal_problem

        problem = rehearsal_problem(charset, spec)
        if problem:
            raise PlateOCRError(f"--synthetic-share: cannot mix in synthetic plates: {problem}")
    unstarted = not force and ModelDir.exists(model_dir) and ModelDir(model_dir).resume_checkpoint() is None
    if unstarted:  # e.g. Ctrl-C or a crash before the first checkpoint: nothing to resume
        listener.message(f"{model_dir}: no checkpoint yet (an earlier run stopped before its first one); "
                         "starting it as a new model")
    new_model = force or unstarted or not ModelDir.exists(model_dir)
    if new_model and not (from_scratch or checkpoint or checkpoint_inception):
        checkpoint = bundled_base_model()
        if checkpoint is not None:
            listener.message(f"starting from the bundled base model ({checkpoint}); --from-scratch to opt out")
    ckpt_arg = _resolve_checkpoint_arg(checkpoint) if checkpoint else None
    incep_arg = _resolve_checkpoint_arg(checkpoint_inception) if checkpoint_inception else None
    if ckpt_arg and new_model and (options or {}).get("learning_rate") is None:
        options = {**(options or {}), "learning_rate": FINE_TUNE_LEARNING_RATE}
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
        from plateocr.model.format_search import learn_formats

        learn_formats(md, records_dir, spec, listener.message)
    latest = md.resume_checkpoint()
    done = checkpoint_step(latest) if latest else None
    if done is not None and done >= opts.steps:  # nothing to train: answer without building a graph
        listener.start(done, opts.steps)
        listener.finish()
        return TrainResult(md.path, done, done, latest, None, 0.0, opts, best=md.best_metrics())
    g = _build_graph(md, records_dir, spec, opts, ckpt_arg, incep_arg, train_input)
    with g.graph.as_default():  # v1 Saver/Session calls outside it would act eagerly
        return _loop(g, md, records_dir, spec, opts, evaluate_on, listener, time_limit)


@dataclass
class _TrainGraph:
    graph: object
    global_step: object
    train_op: object
    loss: object
    summary_op: object
    saver: object
    init_op: object
    writer: object
    latest: str | None  # the checkpoint to resume from
    restores: list  # [(what, checkpoint, saver, restored names, skipped names)] for a new model
    asked_restore: bool
    transfer: tuple | None = None  # (charset_transfer plan, class map) for a new model


def _build_graph(
    md: ModelDir, records_dir, spec, opts: TrainOptions, ckpt_arg, incep_arg, train_input=None
) -> _TrainGraph:
    from plateocr.model.compat import tf, tf1
    from plateocr.model.data import batches, train_examples
    from plateocr.model.metrics import char_accuracy_tf, sequence_accuracy_tf
    from plateocr.model.train_step import build_train_step

    config = md.config
    charset = md.charset
    graph = tf.Graph()
    with graph.as_default():
        if opts.seed is not None:
            tf1.set_random_seed(opts.seed)
        if train_input is not None:
            ds = train_input(opts)
        else:
            ds = train_examples(
                records_dir, spec, augment=opts.augment, shuffle_buffer=opts.shuffle_buffer, seed=opts.seed
            )
            if opts.synthetic_share:
                from plateocr.model.synthetic_data import with_synthetic

                seed = opts.seed if opts.seed is not None else time.time_ns() % 2**31
                ds = with_synthetic(ds, charset, spec, opts.synthetic_share, seed=seed)
            ds = batches(ds, opts.batch_size)
        batch = tf1.data.make_one_shot_iterator(ds).get_next()
        global_step = tf1.train.get_or_create_global_step()
        lr = _learning_rate(opts, global_step)
        optimizer = _optimizer(opts, lr)
        step = build_train_step(
            batch["images"], batch["labels"], config, optimizer,
            clip_norm=opts.clip_gradient_norm, micro_batches=opts.micro_batches, global_step=global_step,
            train_layers=opts.train_layers, freeze_batch_norm=opts.freeze_batch_norm,
        )
        endpoints, losses, grad_norm, train_op = step.endpoints, step.losses, step.gradient_norm, step.train_op
        # What a checkpoint of the model holds: not the step counter, not optimizer slots.
        optimizer_vars = {v.name for v in optimizer.variables()}
        model_vars = [v for v in tf1.global_variables() if v is not global_step and v.name not in optimizer_vars]
        char_acc = char_accuracy_tf(endpoints.predicted_chars, batch["labels"], charset.null_code)
        seq_acc = sequence_accuracy_tf(endpoints.predicted_chars, batch["labels"], charset.null_code)
        samples = tf.strings.join(
            [texts_tf(batch["labels"][:4], charset), " -> ", texts_tf(endpoints.predicted_chars[:4], charset)]
        )
        summary_op = tf1.summary.merge(
            [
                tf1.summary.scalar("loss/total", losses.total),
                tf1.summary.scalar("loss/sequence", losses.sequence),
                tf1.summary.scalar("loss/regularization", losses.regularization),
                tf1.summary.scalar("train/character_accuracy", char_acc),
                tf1.summary.scalar("train/sequence_accuracy", seq_acc),
                tf1.summary.scalar("train/learning_rate", lr),
                tf1.summary.scalar("train/gradient_norm", grad_norm),
                tf1.summary.text("train/truth_vs_prediction", samples),
            ]
        )
        saver = tf1.train.Saver(max_to_keep=opts.keep_checkpoints, save_relative_paths=True)
        init_op = tf1.global_variables_initializer()
        writer = tf1.summary.FileWriter(str(md.path))  # needs graph mode to construct
        latest = md.resume_checkpoint()
        restores, transfer = [], None
        if not latest:  # restore savers are graph ops: build them before finalizing
            if incep_arg:
                restores.append(("conv tower", incep_arg, *plan_restore(model_vars, incep_arg, inception_name)))
            if ckpt_arg:
                restores.append(("model", ckpt_arg, *plan_restore(model_vars, ckpt_arg)))
                transfer = _plan_transfer(model_vars, ckpt_arg, charset)
    graph.finalize()
    return _TrainGraph(
        graph, global_step, train_op, losses.total, summary_op, saver, init_op, writer, latest, restores,
        bool(ckpt_arg or incep_arg), transfer,
    )


def _plan_transfer(model_vars, checkpoint: str, charset: Charset):
    """The per-character rebuild of the decoder's class-sized variables, when `checkpoint` is a
    plateocr model with another charset (None otherwise)."""
    from plateocr.model.charset_transfer import class_map, plan_charset_transfer

    source = source_model_dir(checkpoint)
    if source is None:
        return None
    plan = plan_charset_transfer(model_vars, checkpoint, source.charset, charset)
    return (plan, class_map(source.charset, charset)) if plan else None


def _initialize(g: _TrainGraph, session, listener: TrainListener, md: ModelDir) -> tuple[list[str], list[str]]:
    """Resume from the latest checkpoint, or initialise and fill from --init-from / --checkpoint-inception."""
    from plateocr.model.compat import tf

    restored, skipped = [], []
    if g.latest:
        try:
            g.saver.restore(session, g.latest)
        except (tf.errors.OpError, ValueError) as e:
            raise PlateOCRError(
                f"{g.latest}: cannot resume from this checkpoint ({tf_error_message(e)}); "
                "use another --model-dir, or --force to start over"
            ) from None
        listener.message(f"resuming from {g.latest}")
        # The saver rotates only what it saved: hand it the earlier runs' checkpoints too, so
        # that no more than keep_checkpoints stay after a resume (e.g. after Ctrl-C).
        g.saver.recover_last_checkpoints(md.checkpoints())
        if g.asked_restore:
            listener.message("--init-from/--checkpoint-inception ignored: the model dir already has a checkpoint")
    else:
        session.run(g.init_op)
        for what, ckpt, restore_saver, r, sk in g.restores:
            if restore_saver is None:
                raise PlateOCRError(f"{ckpt}: none of its variables fits the {what}")
            restore_saver.restore(session, ckpt)
            restored += r
            skipped += sk
            listener.message(f"{what}: restored {len(r)} variables from {ckpt}, skipped {len(sk)}")
            for line in sk:
                listener.message(f"  skipped {line}")
        if g.transfer:
            from plateocr.model.charset_transfer import apply_charset_transfer

            plan, mapping = g.transfer
            done, failed = apply_charset_transfer(session, plan, mapping)
            restored += done
            skipped = [s for s in skipped if s.split(" ", 1)[0] not in done]
            listener.message(
                f"charset: {len(done)} per-character variables carried over for the "
                f"{int((mapping >= 0).sum())} of {len(mapping)} classes the checkpoint knows"
            )
    return restored, skipped


def _loop(
    g: _TrainGraph, md: ModelDir, records_dir, spec, opts: TrainOptions, evaluate_on, listener, time_limit
) -> TrainResult:
    from plateocr.model.compat import session_config, tf, tf1

    session = tf1.Session(graph=g.graph, config=session_config())
    scorer = _BestKeeper(md, records_dir, spec, opts, evaluate_on, listener, g.writer)
    try:
        restored, skipped = _initialize(g, session, listener, md)
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
                from plateocr.model.data import damaged_split_error

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


def no_eval_split_note(records_dir, spec: DatasetSpec, split: str, md: ModelDir) -> str:
    """What training says when the records have no examples of the split --eval-every scores."""
    why = "no val split (written with --val 0, from too few plates, or before val splits)" if split == "val" \
        else f"no {split} examples"
    text = (f"note: {records_dir} has {why}: no evaluation, no early stopping; training runs to the end and "
            "keeps the latest checkpoint")
    best = md.best_metrics()
    if best is not None:
        text += (f" (best/, step {best.get('step', '?')} chosen on {best.get('split', '?')} by an earlier run, "
                 "stays what predict and export read)")
    return text


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


class _BestKeeper:
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
        from plateocr.model.evaluate import Evaluator

        if self._evaluator is None:
            from plateocr.formats import resolve_formats

            self._evaluator = Evaluator(
                self.records_dir, self.spec, self.md.charset, self.md.config, self.split, self.opts.eval_batch_size,
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
