"""Training the plate detector: on the user's photos and boxes (`plateocr train-detector`), or on
rendered street scenes alone (the bundled base detector, scripts/train_base_detector.py).

It behaves as the recogniser's training does (plateocr.training.loop): the detector directory
says what it is and how it was trained; running again resumes from the latest checkpoint and
`steps` is the total to reach; checkpoints every `save_every_secs`, at the end and on Ctrl-C;
a NaN loss stops without saving. A val split of the photos (by photo; plates of one text kept
together, as `tfrecords` splits) is scored every `eval_every` steps: the best checkpoint goes to
best/ and `patience` evaluations without a better one stop the run. A new detector starts from
the bundled base detector and scores it first (step 0), so fine-tuning never leaves best/ worse
on the val photos than where it started.

Each batch is made anew on worker threads: a `scene_share` of rendered scenes, the rest the
user's training photos zoomed, shifted and relit, with rendered plates pasted in
(plateocr.detection.samples), so a hundred photos teach more than a hundred boxes.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from plateocr.detection.config import DetectorConfig
from plateocr.detection.detector_dir import SKIPPED_FILE, DetectorDir
from plateocr.detection.geometry import encode_targets, letterbox
from plateocr.detection.options import FINE_TUNE_LEARNING_RATE, DetectorTrainOptions
from plateocr.detection.photos import AnnotatedPhoto, load_annotated_photos
from plateocr.detection.scoring import DetectionScore
from plateocr.errors import PlateOCRError, tf_error_message
from plateocr.model.checkpoint_folder import checkpoint_step
from plateocr.problems import Problem, write_report
from plateocr.records import _take_groups, split_groups, val_size
from plateocr.training.loop import NaNLossError, TrainingInterrupted, TrainListener, _save_checkpoint

VAL_SCENES = 64  # rendered scenes that score a detector trained on scenes alone
_PlateRow = namedtuple("_PlateRow", "source text")


@dataclass
class DetectorTrainResult:
    detector_dir: Path
    first_step: int
    last_step: int
    checkpoint: str | None
    final_loss: float | None
    seconds: float
    options: DetectorTrainOptions
    train_photos: int = 0
    val_photos: int = 0
    problems: list[Problem] = field(default_factory=list)
    best: dict | None = None
    stopped_early: bool = False
    started_from: str | None = None


def split_photos(photos: list[AnnotatedPhoto], fraction: float, seed: int):
    """(train, val) photos: about `fraction` of the plates in val, in whole photos, the photos
    sharing a plate text together (records.split_groups), as `tfrecords` splits crops."""
    rows = [_PlateRow(p.path, t) for p in photos for t in p.texts]
    wanted = val_size(len(rows), fraction)
    val_rows, _ = _take_groups(split_groups(rows), wanted, random.Random(f"val {seed}"))
    in_val = {r.source for r in val_rows}
    return [p for p in photos if p.path not in in_val], [p for p in photos if p.path in in_val]


class BatchMaker:
    """Training batches, each a function of (seed, step) alone: a resumed run sees the batches
    an uninterrupted one would have."""

    def __init__(self, photos: list[AnnotatedPhoto], opts: DetectorTrainOptions):
        self.photos, self.opts = photos, opts

    def sample(self, step: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        from plateocr.detection.samples import photo_sample, scene_sample

        rng = np.random.default_rng([self.opts.seed, step, index])
        if not self.photos or rng.random() < self.opts.scene_share:
            return scene_sample(rng)
        photo = self.photos[int(rng.integers(len(self.photos)))]
        return photo_sample(rng, photo.rgb, photo.boxes, paste=bool(rng.random() < self.opts.paste))

    def batch(self, step: int) -> dict[str, np.ndarray]:
        images, targets = [], []
        for i in range(self.opts.batch_size):
            image, boxes = self.sample(step, i)
            images.append(image)
            targets.append(encode_targets(boxes))
        out = {"images": np.stack(images)}
        for name in ("heatmap", "size", "offset", "mask"):
            stacked = np.stack([t[name] for t in targets])
            out[name] = stacked[..., 0] if name in ("heatmap", "mask") else stacked
        return out


@dataclass
class ValSet:
    """Letterboxed val images and their boxes in input pixels."""

    images: np.ndarray
    boxes: list[np.ndarray]

    @classmethod
    def from_photos(cls, photos: list[AnnotatedPhoto]) -> "ValSet":
        images, boxes = [], []
        for p in photos:
            canvas, s = letterbox(p.rgb)
            images.append(canvas)
            boxes.append(np.asarray(p.boxes, np.float64) * s)
        return cls(np.stack(images), boxes)

    @classmethod
    def from_scenes(cls, seed: int, count: int = VAL_SCENES) -> "ValSet":
        from plateocr.detection.samples import scene_sample

        pairs = [scene_sample(np.random.default_rng([seed, 10**9, i])) for i in range(count)]
        return cls(np.stack([p[0] for p in pairs]), [np.asarray(p[1], np.float64).reshape(-1, 4) for p in pairs])


def score_outputs(outputs: list[dict[str, np.ndarray]], boxes: list[np.ndarray]) -> dict:
    """Detection metrics of per-image head outputs against their boxes: recall, precision, F1
    at IoU 0.5 and the mean IoU of the plates found (how tight the boxes are: a loose box cuts
    a crop the recogniser reads worse)."""
    from plateocr.detection.geometry import decode
    from plateocr.detection.scoring import iou

    score = DetectionScore()
    ious = []
    for out, truth in zip(outputs, boxes):
        pred, scores = decode(out["heatmap"], out["size"], out["offset"])
        m = score.add(pred, scores, truth)
        ious.extend(float(iou(pred[p], truth[t])) for p, t in m.pairs)
    recall, precision = score.recall or 0.0, score.precision or 0.0
    f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
    return {
        **score.to_dict(),
        "f1": f1,
        "mean_iou": float(np.mean(ious)) if ious else 0.0,
    }


def better(a: dict, b: dict | None) -> bool:
    """Metrics `a` beat `b`: a higher F1, or the same F1 (to 3 decimals) with tighter boxes."""
    if b is None:
        return True
    return (round(a["f1"], 3), a["mean_iou"]) > (round(b.get("f1", 0.0), 3), b.get("mean_iou", 0.0))


def open_detector_dir(detector_dir, given: dict, force: bool, annotations, images, listener) -> DetectorDir:
    """The detector directory to train: resumed, or new."""
    if DetectorDir.exists(detector_dir) and not force:
        dd = DetectorDir(detector_dir)
        dd.check_config(DetectorConfig())
        if dd.resume_checkpoint() is not None:
            return dd
        listener.message(
            f"{detector_dir}: no checkpoint yet (an earlier run stopped before its first one); starting anew"
        )
        force = True
    return DetectorDir.create(
        detector_dir, DetectorConfig(), given, force=force, annotations=annotations, images=images
    )


def train_detector(
    annotations: str | os.PathLike | None,
    detector_dir: str | os.PathLike,
    options: dict | None = None,
    *,
    images_dir: str | os.PathLike | None = None,
    init_from: str | os.PathLike | None = None,
    from_scratch: bool = False,
    force: bool = False,
    time_limit: float | None = None,
    listener: TrainListener | None = None,
    load_progress=None,
) -> DetectorTrainResult:
    """Train (or resume) the detector in `detector_dir` on the photos and boxes of the annotation
    CSV `annotations`, or on rendered scenes alone when it is None.

    options: DetectorTrainOptions fields given by the user (None values mean "not given").
    A new detector starts from `init_from` (a detector directory or checkpoint), else the bundled
    base detector, unless `from_scratch`. time_limit: seconds after which to stop and save.
    """
    from plateocr.outputs import check_output_path

    listener = listener or TrainListener()
    check_output_path(detector_dir, "detector folder", folder=True)
    photos, problems = ([], [])
    if annotations is not None:
        photos, problems = load_annotated_photos(annotations, images_dir, load_progress)
        if not photos:  # say why, as no skipped.csv is written
            first = f"; first: line {problems[0].line}, {problems[0].image}: {problems[0].reason}" if problems else ""
            raise PlateOCRError(
                f"{annotations}: no usable photo with a plate box ({len(problems)} row(s) skipped{first})"
            )
    given = {k: v for k, v in (options or {}).items() if v is not None}
    new = force or not DetectorDir.exists(detector_dir) or DetectorDir(detector_dir).resume_checkpoint() is None
    start = None
    if new and not from_scratch:
        from plateocr.detection.detector import bundled_base_detector  # (it imports the reader)

        start = _resolve_start(init_from) if init_from else bundled_base_detector()
        if start is None:
            listener.message("no bundled base detector in this install: training from scratch")
        else:
            listener.message(f"starting from {start}; --from-scratch to opt out")
            given.setdefault("learning_rate", FINE_TUNE_LEARNING_RATE)
    stored = None if new else DetectorDir(detector_dir).options
    opts = DetectorTrainOptions.resolve(stored, given)
    images = None
    if annotations is not None:
        from plateocr.cropping.stage import default_images_dir

        images = images_dir if images_dir is not None else default_images_dir(annotations)
    dd = open_detector_dir(detector_dir, opts.to_dict(), force, annotations, images, listener)
    dd.update(opts.to_dict())
    if problems:
        write_report(problems, dd.path / SKIPPED_FILE)
    if photos:
        train_photos, val_photos = split_photos(photos, opts.val, opts.seed) if opts.eval_every else (photos, [])
        val = ValSet.from_photos(val_photos) if val_photos else None
        if val is None and opts.eval_every:
            why = "no val split (--val 0)" if opts.val == 0 else f"too few photos for a val split (--val {opts.val})"
            listener.message(f"{why}: training to the end and keeping the latest checkpoint")
    else:
        train_photos, val_photos = [], []
        val = ValSet.from_scenes(opts.seed) if opts.eval_every else None
    result = DetectorTrainResult(dd.path, 0, 0, None, None, 0.0, opts, len(train_photos), len(val_photos), problems)
    latest = dd.resume_checkpoint()
    done = checkpoint_step(latest) if latest else None
    if done is not None and done >= opts.steps:
        listener.start(done, opts.steps)
        listener.finish()
        result.first_step = result.last_step = done
        result.checkpoint, result.best = latest, dd.best_metrics()
        return result
    result.started_from = str(start) if start else None
    return _run(
        dd, opts, BatchMaker(train_photos, opts), val, start if latest is None else None, listener, time_limit, result
    )


def _resolve_start(init_from) -> str:
    p = Path(init_from)
    if DetectorDir.exists(p):
        return DetectorDir(p).resolve_checkpoint()
    from plateocr.model.checkpoint_folder import checkpoint_exists

    if checkpoint_exists(p):
        return str(p)
    raise PlateOCRError(f"{p}: neither a detector directory nor a checkpoint (expected {p}.index)")


def _run(dd: DetectorDir, opts, batches: BatchMaker, val: ValSet | None, start, listener, time_limit, result):
    from plateocr.detection.network import build_detector, detector_loss
    from plateocr.model.restore import restore_checkpoint
    from plateocr.detection.geometry import GRID_HEIGHT, GRID_WIDTH, INPUT_HEIGHT, INPUT_WIDTH
    from plateocr.model.compat import session_config, tf, tf1
    from plateocr.training.optimizers import learning_rate, optimizer_for

    if start is not None and not isinstance(start, str):
        start = DetectorDir(start).resolve_checkpoint()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(opts.seed)  # the initial weights too are a function of the seed
        images = tf1.placeholder(tf.uint8, [None, INPUT_HEIGHT, INPUT_WIDTH, 3], name="images")
        heat_t = tf1.placeholder(tf.float32, [None, GRID_HEIGHT, GRID_WIDTH], name="heatmap")
        size_t = tf1.placeholder(tf.float32, [None, GRID_HEIGHT, GRID_WIDTH, 2], name="size")
        offset_t = tf1.placeholder(tf.float32, [None, GRID_HEIGHT, GRID_WIDTH, 2], name="offset")
        mask_t = tf1.placeholder(tf.float32, [None, GRID_HEIGHT, GRID_WIDTH], name="mask")
        with tf1.variable_scope(tf1.get_variable_scope()) as scope:
            train_out = build_detector(images, dd.config, is_training=True)
            scope.reuse_variables()
            eval_out = build_detector(images, dd.config, is_training=False)
        model_vars = tf1.global_variables()
        loss, parts = detector_loss(train_out, heat_t, size_t, offset_t, mask_t)
        loss = loss + tf.add_n(tf1.losses.get_regularization_losses() or [tf.constant(0.0)])
        global_step = tf1.train.get_or_create_global_step()
        lr = learning_rate(opts, global_step)
        optimizer = optimizer_for(opts, lr)
        grads, variables = zip(*optimizer.compute_gradients(loss))
        grads, _ = tf.clip_by_global_norm(grads, opts.clip_gradient_norm)
        with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            train_op = optimizer.apply_gradients(zip(grads, variables), global_step=global_step)
        saver = tf1.train.Saver(max_to_keep=3)
        init = tf1.global_variables_initializer()
        restorer = tf1.train.Saver(model_vars) if start else None
    session = tf1.Session(graph=graph, config=session_config())
    feeds = (images, heat_t, size_t, offset_t, mask_t)
    eval_fetch = {"heatmap": eval_out.heatmap, "size": eval_out.size, "offset": eval_out.offset}
    best = dd.best_metrics()
    state = dd.early_stopping_state() if best else {}
    since_best, last_scored = state.get("since_best", 0), state.get("step")

    def evaluate(ckpt: str, step: int) -> None:
        nonlocal best, since_best, last_scored
        outs = []
        for i in range(0, len(val.images), 16):
            got = session.run(eval_fetch, {images: val.images[i : i + 16]})
            outs.extend({k: v[j] for k, v in got.items()} for j in range(len(got["heatmap"])))
        metrics = {**score_outputs(outs, val.boxes), "step": step, "checkpoint": Path(ckpt).name}
        is_best = better(metrics, best)
        if is_best:
            dd.save_best(ckpt, metrics)
            best, since_best = metrics, 0
        else:
            since_best += 1
        last_scored = step
        dd.save_early_stopping_state(step, since_best)
        listener.evaluated(step, metrics, is_best)

    pool = ThreadPoolExecutor(max_workers=2)
    try:
        with graph.as_default():
            session.run(init)
            latest = dd.resume_checkpoint()
            if latest:
                restore_checkpoint(session, saver, latest)
            elif restorer is not None:
                restore_checkpoint(session, restorer, start)
        first = step = int(session.run(global_step))
        result.first_step = first
        last_ckpt, last_saved = latest, (step if latest else None)
        last_save_time = started = time.monotonic()
        deadline = started + time_limit if time_limit else None
        loss_value, rate = None, None

        def save() -> str:
            nonlocal last_ckpt, last_saved, last_save_time
            if last_saved != step:
                with graph.as_default():
                    last_ckpt = _save_checkpoint(saver, session, dd, step)
                last_saved = step
            last_save_time = time.monotonic()
            return last_ckpt

        listener.start(first, opts.steps)
        stopped = bool(val is not None and opts.patience and since_best >= opts.patience and step < opts.steps)
        if stopped:
            listener.message(f"stopped early before (step {last_scored}): --patience {opts.patience} reached")
        pending = {s: pool.submit(batches.batch, s) for s in range(step, min(step + 2, opts.steps))}
        try:
            # step 0: the starting weights (also when a run stopped while scoring them: its ckpt-0)
            if val is not None and step == 0 and best is None and (start is not None or latest):
                evaluate(save(), step)
            while step < opts.steps and not stopped:
                batch = pending.pop(step).result()
                if step + 2 < opts.steps:
                    pending[step + 2] = pool.submit(batches.batch, step + 2)
                t0 = time.monotonic()
                feed = dict(zip(feeds, (batch[k] for k in ("images", "heatmap", "size", "offset", "mask"))))
                _, loss_value = session.run([train_op, loss], feed)
                loss_value = float(loss_value)
                if not math.isfinite(loss_value):
                    where = (
                        f"{last_ckpt} is kept as the last good checkpoint" if last_ckpt else "no checkpoint was saved"
                    )
                    raise NaNLossError(f"loss became {loss_value} at step {step + 1}; stopped without saving ({where})")
                step += 1
                if step > first + 1:
                    r = opts.batch_size / max(time.monotonic() - t0, 1e-9)
                    rate = r if rate is None else 0.9 * rate + 0.1 * r
                listener.step(step, loss_value, rate or 0.0)
                if time.monotonic() - last_save_time >= opts.save_every_secs:
                    save()
                if val is not None and opts.eval_every and step % opts.eval_every == 0:
                    evaluate(save(), step)
                    if opts.patience and since_best >= opts.patience:
                        stopped = True
                        listener.message(
                            f"early stop at step {step}: no better val score in {opts.patience} evaluations "
                            f"(best: step {best.get('step', '?')}, in {dd.best_dir})"
                        )
                if deadline is not None and time.monotonic() >= deadline and not stopped and step < opts.steps:
                    listener.message(f"time limit reached at step {step}")
                    break
            save()
            if val is not None and opts.eval_every and last_scored != step:
                evaluate(last_ckpt, step)
        except KeyboardInterrupt:
            raise TrainingInterrupted(save()) from None
        except tf.errors.OpError as e:
            raise PlateOCRError(f"training the detector failed: {tf_error_message(e)}") from None
        result.last_step, result.checkpoint, result.final_loss = step, last_ckpt, loss_value
        result.seconds = time.monotonic() - started
        result.best, result.stopped_early = best, stopped
        return result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        session.close()
        listener.finish()
