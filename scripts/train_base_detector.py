"""Train the bundled base detector (plateocr/assets/base_detector) on rendered street scenes alone.

    python scripts/train_base_detector.py WORK_DIR --steps 4000 --seed 0 --install   # the bundled one

Reproducible: the initial weights and every batch are functions of the seed (and the step:
plateocr.detection.training), and the seed's val scenes choose best/ (--time-limit stops by the
clock, so leave it out to reproduce a run). --install copies best/'s checkpoint (weights only)
and detector.json into the package, where `predict --detect` and `train-detector` find it, and
writes its TFLite model beside it (scripts/build_bundled_tflite.py). The bundled detector's
history (steps, minutes, commit, scores) is in docs/base_detector.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from plateocr.detection.detector import BASE_DETECTOR_DIR
from plateocr.detection.detector_dir import DETECTOR_FILE, DetectorDir
from plateocr.detection.training import train_detector
from plateocr.model.checkpoint_folder import write_checkpoint_state
from plateocr.training.loop import TrainListener


class _Print(TrainListener):
    def message(self, text: str) -> None:
        print(text, flush=True)

    def step(self, step: int, loss: float, images_per_sec: float) -> None:
        if step % 50 == 0:
            print(f"step {step} loss {loss:.3f} {images_per_sec:.1f} img/s", flush=True)

    def evaluated(self, step: int, metrics: dict, is_best: bool) -> None:
        keys = ("recall", "precision", "f1", "mean_iou")
        print(
            f"eval {step}: " + ", ".join(f"{k} {metrics[k] or 0:.3f}" for k in keys) + (" *" if is_best else ""),
            flush=True,
        )


def install(work: Path, target: Path = BASE_DETECTOR_DIR) -> Path:
    """Copy the weights of work's best checkpoint (no optimizer slots) and detector.json."""
    from plateocr.detection.detector import detector_graph
    from plateocr.model.compat import tf1

    dd = DetectorDir(work)
    ckpt = dd.resolve_checkpoint()
    graph, _images, _outputs, saver = detector_graph(dd.config)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tf1.Session(graph=graph) as session, graph.as_default():
        saver.restore(session, ckpt)
        prefix = saver.save(session, str(target / Path(ckpt).name), write_meta_graph=False, write_state=False)
    write_checkpoint_state(target, prefix)
    doc = json.loads((work / DETECTOR_FILE).read_text())
    doc["annotations"] = doc["images"] = None
    doc["base"] = {"checkpoint": Path(ckpt).name, "val_scenes": dd.best_metrics()}
    (target / DETECTOR_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--learning-rate", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--time-limit", type=float, default=None, help="minutes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--install", action="store_true")
    ap.add_argument("--target", type=Path, default=BASE_DETECTOR_DIR, help="where --install puts it [the package]")
    args = ap.parse_args(argv)
    options = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "eval_every": args.eval_every,
        "patience": 0,
        "seed": args.seed,
        "save_every_secs": 120.0,
    }
    result = train_detector(
        None,
        args.work,
        options,
        from_scratch=True,
        time_limit=args.time_limit * 60 if args.time_limit else None,
        listener=_Print(),
    )
    print(f"steps {result.first_step} -> {result.last_step} in {result.seconds / 60:.1f} min; best {result.best}")
    if args.install:
        print(f"installed in {install(args.work, args.target)}")
        from build_bundled_tflite import detector, write

        print(f"its TFLite model: {write(detector(args.target))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
