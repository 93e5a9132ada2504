"""`plateocr demo`: the whole workflow on the bundled sample, through the library functions.

crop -> tfrecords -> a short, time-boxed training -> eval -> predict (with attention pictures)
on the test plates, all inside one work folder. Settings are chosen so a 2-core machine finishes
in under 10 minutes and the model visibly learns (see DEMO_TRAINING).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from plateocr.errors import PlateOCRError
from plateocr.spec import DatasetSpec

SAMPLE_DIR = Path("data") / "sample"
# data/sample is `plateocr synth data/sample --count 200 --seed 0`: away from the repository
# (a plain `pip install`), the demo renders the same photos into its work folder.
SAMPLE_PHOTOS, SAMPLE_SEED = 200, 0
DEFAULT_MINUTES = 6.0
# Measured on data/sample (6 min of training on 2 shared cores, 32x128, 3,000 synthetic crops
# added), test split: Adam 0.001 with augmentation: character accuracy 0.30, sequence 0.00;
# Adam 0.002 without augmentation (the synthetic crops vary enough, and random crops of a
# 32-pixel-high plate cut characters): 0.29-0.47, 0.02-0.04; Adam 0.003 and the tower cut at
# Mixed_5b (one Inception block instead of three: more steps in the box): 0.87, 0.50.
# Batch 16: more updates fit in the time box.
DEMO_TRAINING = {
    "batch_size": 16,
    "optimizer": "adam",
    "learning_rate": 0.003,
    "schedule": "constant",
    "augment": False,
    "save_every_secs": 60.0,
    "seed": 0,
}
DEMO_MODEL = {"final_endpoint": "Mixed_5b"}
# With the bundled base model (trained on synthetic plates) the demo fine-tunes it with
# `plateocr train`'s own defaults: no smaller model, no synthetic crops needed.
FINE_TUNING = {"save_every_secs": 60.0, "seed": 0}
SPLIT = 0.83
# A few hundred sample plates are too few to learn reading from scratch in minutes; synthetic
# crops (plateocr.synth, ~5 ms each) give the model many more plates to learn from. The test
# split stays the sample's own plates, none of which training sees.
DEFAULT_SYNTHETIC = 3000
# Small crops: a quarter of the default's pixels makes each training step ~4x cheaper, so the
# time box holds four times the steps; the sample's plates are 25-65 px high in their photos.
DEMO_CROP_SIZE = (32, 128)


class DemoListener:
    """What the demo tells its caller; the CLI shows it with rich. Defaults do nothing."""

    def stage(self, name: str, detail: str) -> None: ...

    def done(self, name: str, summary: str, seconds: float) -> None: ...

    def progress(self, done: int, total: int) -> None: ...

    def training_listener(self):
        return None


@dataclass
class DemoStage:
    name: str
    output: Path
    summary: str
    seconds: float


@dataclass
class DemoResult:
    workdir: Path
    stages: list[DemoStage] = field(default_factory=list)
    sequence_accuracy: float = 0.0
    character_accuracy: float = 0.0
    steps: int = 0
    seconds: float = 0.0


def find_sample(data: str | os.PathLike | None) -> Path | None:
    """The annotation CSV of the sample: a CSV, or a folder holding annot.csv (photos are found
    as `crop` finds them: images/ beside the CSV, else its folder). None when `data` is None and
    there is no data/sample here (the demo then renders it)."""
    folder = Path(data) if data is not None else SAMPLE_DIR
    csv_path = folder if folder.is_file() else folder / "annot.csv"
    if not csv_path.is_file():
        if data is None:
            return None
        raise PlateOCRError(f"{csv_path}: sample annotations not found")
    return csv_path


def render_sample(out_dir: Path, force: bool = False, progress=None) -> Path:
    """Render data/sample's photos (same count and seed, so the same photos) into out_dir;
    returns its annot.csv."""
    from plateocr.synth.dataset import write_dataset
    from plateocr.synth.outline_fonts import FontChoice
    from plateocr.workers import cpu_count

    # built-in faces only, as data/sample was made: the same photos whatever fonts this machine has
    made = write_dataset(
        out_dir,
        SAMPLE_PHOTOS,
        SAMPLE_SEED,
        workers=cpu_count(),
        force=force,
        progress=progress,
        fonts=FontChoice(system=False),
    )
    return made.annot


def _steps_for(minutes: float) -> int:
    # An upper bound: the time limit stops training first on any machine we know of.
    return max(50, int(minutes * 60 * 10))


def run_demo(
    data: str | os.PathLike | None = None,
    workdir: str | os.PathLike | None = None,
    minutes: float = DEFAULT_MINUTES,
    force: bool = False,
    listener: DemoListener | None = None,
    training: dict | None = None,
    model_overrides: dict | None = None,
    synthetic: int | None = None,
    size: tuple[int, int] = DEMO_CROP_SIZE,
    from_scratch: bool = False,
) -> DemoResult:
    """Run the workflow; returns where everything is and the test accuracy reached.

    workdir: a folder for crops/, records/, model/, predictions.csv, attention/ (default: a new
    temporary folder, kept afterwards so the results can be looked at).
    Training fine-tunes the bundled base model; without one (or with from_scratch) it trains
    the smaller from-scratch model with `synthetic` extra crops (default DEFAULT_SYNTHETIC).
    """
    from plateocr.base_model import bundled_base_model

    from plateocr.cropping import crop_annotations
    from plateocr.training.evaluate import evaluate
    from plateocr.training.loop import train
    from plateocr.prediction import predict_sources, sources_from_paths
    from plateocr.prediction_formats import write_result
    from plateocr.records import RecordsOptions, write_records

    if minutes <= 0:
        raise PlateOCRError(f"--minutes {minutes:g}: must be positive")
    base = None if from_scratch else bundled_base_model()
    if synthetic is None:
        synthetic = 0 if base else DEFAULT_SYNTHETIC
    listener = listener or DemoListener()
    annot_csv = find_sample(data)
    if workdir is None:
        work = Path(tempfile.mkdtemp(prefix="plateocr-demo-"))
    else:
        work = Path(workdir)
        if work.exists() and any(work.iterdir()) and not force:
            from plateocr.errors import OutputExistsError

            raise OutputExistsError(f"{work}: not empty; pass --force to run the demo in it again")
        work.mkdir(parents=True, exist_ok=True)
    result = DemoResult(work)
    started = time.monotonic()

    def stage(name: str, detail: str):
        listener.stage(name, detail)
        return time.monotonic()

    def done(name: str, output: Path, summary: str, t0: float) -> None:
        s = DemoStage(name, output, summary, time.monotonic() - t0)
        result.stages.append(s)
        listener.done(name, summary, s.seconds)

    if annot_csv is None:
        t0 = stage("sample", f"no {SAMPLE_DIR} here: rendering its {SAMPLE_PHOTOS} photos (seed {SAMPLE_SEED})")
        annot_csv = render_sample(work / "sample", force=force, progress=listener.progress)
        done("sample", annot_csv.parent, f"{SAMPLE_PHOTOS} synthetic photos, as in {SAMPLE_DIR}", t0)

    # 1. crop
    t0 = stage("crop", f"cutting the plates of {annot_csv} out of their photos")
    crops = crop_annotations(annot_csv, None, work / "crops", size=tuple(size), force=force, progress=listener.progress)
    skipped = f", {len(crops.problems)} rows skipped" if crops.problems else ""
    done("crop", crops.out_dir, f"{crops.written} crops from {crops.photos} photos{skipped}", t0)

    # 2. tfrecords
    t0 = stage("tfrecords", f"writing FSNS records, {SPLIT:.0%} for training")
    records = write_records(
        crops.out_dir, work / "records", RecordsOptions(split=SPLIT), force=force, progress=listener.progress
    )
    sizes = {s.name: s.size for s in records.splits}
    if not sizes.get("test"):
        raise PlateOCRError(f"{annot_csv}: too few distinct plates for a test split; the demo needs more")
    done(
        "tfrecords",
        records.out,
        f"{sizes['train']} train / {sizes.get('val', 0)} val / {sizes['test']} test examples",
        t0,
    )

    # 3. more training plates: the sample's train split plus synthetic crops
    train_records = records.out
    if synthetic > 0:
        t0 = stage("synth", f"adding {synthetic} synthetic plate crops to the training split")
        train_records = _training_records(crops.out_dir, records, work, synthetic, force, listener)
        n = DatasetSpec.read(train_records).splits["train"].size
        done("synth", train_records, f"{n} training examples ({sizes['train']} sample + synthetic)", t0)

    # 4. train
    start = "fine-tuning the bundled base model" if base else "training from scratch"
    t0 = stage("train", f"{start} for {minutes:g} minutes")
    options = {**(FINE_TUNING if base else DEMO_TRAINING), **(training or {})}
    options.setdefault("steps", _steps_for(minutes))
    trained = train(
        train_records,
        work / "model",
        options,
        config_overrides={**({} if base else DEMO_MODEL), **(model_overrides or {})},
        from_scratch=base is None,
        force=force,
        listener=listener.training_listener(),
        time_limit=minutes * 60,
    )
    result.steps = trained.last_step
    loss = f", final loss {trained.final_loss:.3f}" if trained.final_loss is not None else ""
    done("train", trained.model_dir, f"{trained.last_step} steps in {trained.seconds / 60:.1f} min{loss}", t0)

    # 5. eval
    t0 = stage("eval", "scoring the test split")
    ev = evaluate(trained.model_dir, records.out, split="test", progress=listener.progress)
    result.sequence_accuracy = ev.sequence_accuracy
    result.character_accuracy = ev.character_accuracy
    ev.write_errors_csv(work / "eval_errors.csv")
    done(
        "eval",
        work / "eval_errors.csv",
        f"sequence accuracy {ev.sequence_accuracy:.3f}, character accuracy {ev.character_accuracy:.3f} "
        f"on {ev.num_examples} test plates",
        t0,
    )

    # 6. predict the test plates (never seen in training: a text is in one split only)
    t0 = stage("predict", "reading the test plates, with attention pictures")
    test_texts = {e.truth for e in ev.examples}
    labelled = crops_with_texts(crops.manifest, test_texts)
    sources = [
        dataclasses.replace(s, truth=t)
        for s, t in zip(sources_from_paths(p for p, _ in labelled), (t for _, t in labelled))
    ]
    from plateocr.inference.reader import PlateReader

    with PlateReader(trained.model_dir) as reader:
        pred = predict_sources(reader, sources, attention_dir=work / "attention", progress=listener.progress)
    write_result(pred, work / "predictions.csv", "csv", force=True)
    acc = pred.sequence_accuracy
    done(
        "predict",
        work / "predictions.csv",
        f"{len(pred.read)} plates read, sequence accuracy {acc:.3f}; attention pictures in {work / 'attention'}"
        if acc is not None
        else f"{len(pred.read)} plates read",
        t0,
    )

    # 7. whole photos: the test plates' photos, their plates found by the detector, then read
    from plateocr.detection.detector import bundled_base_detector, default_detector_dir

    detector_dir = default_detector_dir()
    if bundled_base_detector() is None and detector_dir == Path("detector") and not detector_dir.is_dir():
        listener.stage("photos", "no detector in this install: whole-photo reading skipped")
    else:
        t0 = stage("photos", "finding and reading the plates of the test split's whole photos")
        photos = read_test_photos(annot_csv, test_texts, trained.model_dir, detector_dir, work, listener.progress)
        d = photos.detection or {}
        done(
            "photos",
            work / "photo_predictions.csv",
            f"{d.get('found', 0)} of {d.get('annotated', 0)} plates found, {d.get('read_exactly', 0)} read exactly; "
            f"the photos with their boxes in {work / 'photos'}",
            t0,
        )
    result.seconds = time.monotonic() - started
    return result


def read_test_photos(annot_csv: Path, texts: set[str], model_dir, detector_dir, work: Path, progress=None):
    """predict --detect on the photos whose plates are in the test split (none seen in
    training): work/test_photos.csv (their annotation rows), work/photo_predictions.csv and
    work/photos/ (each photo drawn with its boxes and texts)."""
    from plateocr.annotations import read_csv_records, COLUMNS
    from plateocr.cropping import default_images_dir
    from plateocr.detection.detector import PlateDetector
    from plateocr.inference.reader import PlateReader
    from plateocr.prediction import predict_photos
    from plateocr.prediction_formats import write_result

    records, _ = read_csv_records(annot_csv, COLUMNS)
    wanted = {r["files"].strip() for _, r in records if r["text"].strip() in texts}
    test_csv = work / "test_photos.csv"
    with open(test_csv, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows([r[c] for c in COLUMNS] for _, r in records if r["files"].strip() in wanted)
    with PlateReader(model_dir) as reader, PlateDetector(detector_dir) as detector:
        result = predict_photos(
            reader,
            detector,
            annotations=test_csv,
            images_dir=default_images_dir(annot_csv),
            attention_dir=work / "photos",
            progress=progress,
        )
    write_result(result, work / "photo_predictions.csv", "csv", force=True)
    return result


def _training_records(crops_dir: Path, records, work: Path, synthetic: int, force: bool, listener) -> Path:
    """records_train/: the sample's train split (the rows `tfrecords` put there) plus synthetic
    crops, with the sample records' charset and max length so the model fits both. It has no val
    split: training keeps its latest checkpoint."""
    from plateocr.records import RecordsOptions, locate_crops, plan_splits, read_rows, write_records
    from plateocr.synth.crop_dataset import write_crops

    spec = records.spec
    from plateocr.workers import cpu_count

    synth = write_crops(
        work / "synth_crops",
        synthetic,
        seed=0,
        workers=cpu_count(),
        force=force,
        size=(spec.height, spec.width),
        keep_aspect=spec.keep_aspect,
    )
    rows, _ = read_rows(locate_crops(crops_dir))
    train_rows = plan_splits(rows, RecordsOptions(split=SPLIT))["train"]  # as write_records split them
    labels = work / "train_labels.csv"
    with open(labels, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["files", "text"])
        for r in train_rows:
            w.writerow([os.path.relpath(r.path, work), r.text])
        with open(synth.labels, newline="", encoding="utf-8") as src:
            for row in csv.DictReader(src):
                w.writerow([os.path.relpath(synth.out_dir / row["files"], work), row["text"]])
    opts = RecordsOptions(
        split=1.0,
        val=0.0,
        charset_file=records.out / spec.charset_file,
        max_length=spec.max_sequence_length,
        size=(spec.height, spec.width),
        keep_aspect=spec.keep_aspect,
    )
    result = write_records(labels, work / "records_train", opts, force=force, progress=listener.progress)
    return result.out


def crops_with_texts(manifest: Path | None, texts: set[str]) -> list[tuple[Path, str]]:
    """(crop path, text) of the crops whose text is in the test split, in manifest order."""
    if manifest is None:
        return []
    out = []
    with open(manifest, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["text"] in texts:
                out.append((manifest.parent / row["files"], row["text"]))
    return out
