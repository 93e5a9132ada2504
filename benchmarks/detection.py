"""Whole-photo plate reading (issue #18): finding the plates in a photo, then reading them.

On ../shared/realplates/eu (annot.csv + images/, read in place), split once and for all by a
fixed seed into three quarters for training and a quarter for testing, in whole groups: a
photo's plates, and every photo of one plate text, fall on one side (plateocr.records.split_rows,
as `tfrecords` splits). Every row is scored on the test quarter:

- recall: annotated plates some detection matched (IoU >= 0.5, one-to-one, best score first;
  plateocr.detection.scoring), precision: detections that matched a plate;
- read exactly: plates whose matched detection, cut as `plateocr crop` cuts an annotated box
  (plateocr.cropping.crop_one) and read by plateocr's PlateReader (bundled base model, five
  views, as `predict` reads), gives the annotated text (plateocr.records.plate_key);
- detect/s: photos per second for detection alone (decoded photos in memory; a detector's
  start-up excluded), photos/s: detection and reading every detection together;
- recall and read exactly again with matches at IoU >= 0.3 (LOOSE_IOU): a box with more margin
  than the annotation's still gives a readable crop.

plateocr's detector rows keep a found box where its reading's confidence per character is at
least plateocr.defaults.READING_THRESHOLD, as `predict --detect` does; their "every box"
columns score the same detections with every box kept (--reading-threshold 0).

Rows, one function each (ROWS):

- haar: OpenCV's Haar cascade for plates, haarcascade_russian_plate_number.xml from Debian's
  opencv-data (`apt-get install opencv-data`). OpenCV 5 has no CascadeClassifier any more, so the
  cascade runs in a Python with OpenCV 4 (--haar-python, else .bench/haar-venv: `python -m venv
  .bench/haar-venv && .bench/haar-venv/bin/pip install "opencv-python-headless<5"`), through this
  file's --haar-worker mode; the row is skipped, saying which, when either is missing.
- annotated boxes: the annotations themselves, read (an upper bound: reading only).
- bundled detector: plateocr's detector (plateocr.detection.detector, through detect_photos)
  with the bundled recogniser; skipped while that module does not exist.
- trained on the 75%: `plateocr train-detector` and `plateocr train` on the training quarters,
  as the used-by lines run them, 30 minutes of training in all (--minutes).

    python benchmarks/detection.py
    python benchmarks/detection.py --rows haar annotated --json results.json   # --json - : stdout
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from realplates import BENCH, SHARED  # noqa: E402

SEED = 18  # the fixed split (issue #18)
TEST_SHARE = 0.25
EU = SHARED / "eu"
HAAR_CASCADE = Path("/usr/share/opencv4/haarcascades/haarcascade_russian_plate_number.xml")
HAAR_VENV_PYTHON = BENCH / "haar-venv" / "bin" / "python"
HAAR_SETUP = 'python -m venv .bench/haar-venv && .bench/haar-venv/bin/pip install "opencv-python-headless<5"'
# detectMultiScale's own defaults; the cascade's window is 60x20
HAAR_SCALE_FACTOR = 1.1
HAAR_MIN_NEIGHBORS = 3
# Also scored at this looser overlap: a box around the plate with more margin still reads (the
# Haar cascade's 3:1 window around a 4.5:1 European plate overlaps it by IoU ~0.45).
LOOSE_IOU = 0.3


# --- the Haar worker (runs under a Python with OpenCV 4: cv2 and numpy only) --------------------


def haar_worker(cascade: str) -> None:
    """Reads photo paths (a JSON list) on stdin; writes [{"boxes", "scores", "seconds"}, ...]:
    boxes (xmin, xmax, ymin, ymax), scores the neighbours that voted for each, seconds spent
    detecting (the photo decoded before)."""
    import cv2

    classifier = cv2.CascadeClassifier(cascade)
    if classifier.empty():
        raise SystemExit(f"{cascade}: not a cascade OpenCV can load")
    out = []
    for path in json.load(sys.stdin):
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        start = time.perf_counter()
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        rects, votes = classifier.detectMultiScale2(
            gray, scaleFactor=HAAR_SCALE_FACTOR, minNeighbors=HAAR_MIN_NEIGHBORS
        )
        seconds = time.perf_counter() - start
        boxes = [[int(x), int(x + w), int(y), int(y + h)] for x, y, w, h in rects]
        out.append({"boxes": boxes, "scores": [float(v) for v in votes], "seconds": seconds})
    json.dump(out, sys.stdout)


# --- the test photos ------------------------------------------------------------------------


@dataclass
class Photo:
    path: str
    bgr: object  # np.ndarray, uint8 [h, w, 3]
    boxes: list[tuple[float, float, float, float]]  # annotated, photo pixels (xmin, xmax, ymin, ymax)
    texts: list[str]


@dataclass
class Split:
    train: list  # plateocr.annotations.Annotation rows of the training quarters, `file` absolute
    test: list[Photo]


def split_eu() -> Split:
    """The fixed 75/25 split of eu, grouped as `tfrecords` groups (one photo's plates, and one
    plate text's photos, on one side), the test photos decoded."""
    from dataclasses import replace

    from plateocr.annotations import read_annotations
    from plateocr.cropping.stage import group_by_photo
    from plateocr.imaging import read_bgr
    from plateocr.records import Row, split_rows

    annotations, _ = read_annotations(EU / "annot.csv")
    rows = [
        Row(a.line, a.file, job.path, a.text, job.path)
        for job in group_by_photo(annotations, EU / "images")
        for a in job.rows
    ]
    _, test_rows = split_rows(rows, 1 - TEST_SHARE, SEED)
    test_lines = {r.line for r in test_rows}
    by_line = {a.line: a for a in annotations}
    train = [replace(by_line[r.line], file=r.path) for r in rows if r.line not in test_lines]
    photos: dict[str, Photo] = {}
    for r in sorted(test_rows, key=lambda r: r.line):
        if r.path not in photos:
            photos[r.path] = Photo(r.path, read_bgr(r.path), [], [])
        photo = photos[r.path]
        h, w = photo.bgr.shape[:2]
        photo.boxes.append(by_line[r.line].pixel_box(w, h))
        photo.texts.append(r.text)
    return Split(train, list(photos.values()))


# --- scoring a row ---------------------------------------------------------------------------


def read_detections(photos: list[Photo], detections: list[list], reader) -> tuple[list, float]:
    """Each detection (per photo, [(box, score), ...] in photo pixels) cut as `crop` cuts a box and
    read, as `predict --detect` would: the readings in the detections' order (None for a box
    wholly outside its photo) and the seconds reading took."""
    import cv2

    from plateocr.cropping import crop_one
    from plateocr.defaults import MARGIN

    crops, cut = [], []
    for photo, found in zip(photos, detections):
        for box, _ in found:
            crop = crop_one(photo.bgr, box, reader.size, reader.keep_aspect, MARGIN)
            if crop is not None:
                crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
            cut.append(crop is not None)
    start = time.perf_counter()
    readings = iter(reader.read_batch(crops) if crops else [])
    seconds = time.perf_counter() - start
    return [next(readings) if ok else None for ok in cut], seconds


def score_row(
    name: str,
    photos: list[Photo],
    detections: list[list],
    seconds: tuple[float, float],
    readings: list,
    reading_threshold: float = 0.0,
) -> dict:
    """A row's figures from its detections and their readings (read_detections), a detection
    kept where its reading's confidence per character is at least `reading_threshold`.
    seconds: (detecting, reading)."""
    from plateocr.detection.scoring import DetectionScore
    from plateocr.photo_reading import per_char_confidence

    readings = iter(readings)
    score, loose = DetectionScore(), DetectionScore(threshold=LOOSE_IOU)
    for photo, found in zip(photos, detections):
        kept, texts = [], []
        for detection in found:
            reading = next(readings)
            if reading_threshold <= 0 or (reading is not None and per_char_confidence(reading) >= reading_threshold):
                kept.append(detection)
                texts.append(reading.text if reading is not None else "")
        for scoring in (score, loose):
            scoring.add([b for b, _ in kept], [c for _, c in kept], photo.boxes, texts, photo.texts)
    detect_seconds, read_seconds = seconds
    return {
        "row": name,
        **score.to_dict(),
        "misread": score.misread,
        "loose": {"iou": LOOSE_IOU, **loose.to_dict()},
        "detect_photos_per_s": len(photos) / detect_seconds if detect_seconds > 0 else None,
        "photos_per_s": len(photos) / (detect_seconds + read_seconds),
    }


def skipped(name: str, why: str) -> dict:
    return {"row": name, "skipped": why}


# --- rows ------------------------------------------------------------------------------------


def haar_python(given: str | None) -> str | None:
    """A Python whose OpenCV has CascadeClassifier: --haar-python, this one, or .bench/haar-venv's."""
    import subprocess

    candidates = [given] if given else [sys.executable, str(HAAR_VENV_PYTHON)]
    for python in candidates:
        if python and Path(python).exists():
            probe = [python, "-c", "import cv2; cv2.CascadeClassifier"]
            if subprocess.run(probe, capture_output=True).returncode == 0:
                return python
    return None


def haar_row(split: Split, reader, args) -> dict:
    import subprocess

    name = "OpenCV Haar cascade (russian plate)"
    if not HAAR_CASCADE.is_file():
        return skipped(name, f"{HAAR_CASCADE} missing: apt-get install opencv-data")
    python = haar_python(args.haar_python)
    if python is None:
        return skipped(name, f"no OpenCV 4 with CascadeClassifier (OpenCV 5 dropped it): {HAAR_SETUP}")
    proc = subprocess.run(
        [python, __file__, "--haar-worker", str(HAAR_CASCADE)],
        input=json.dumps([p.path for p in split.test]),
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"the Haar worker ({python}) failed:\n{proc.stderr}")
    found = json.loads(proc.stdout)
    detections = [list(zip(f["boxes"], f["scores"])) for f in found]
    readings, read_seconds = read_detections(split.test, detections, reader)
    return score_row(name, split.test, detections, (sum(f["seconds"] for f in found), read_seconds), readings)


def annotated_row(split: Split, reader, args) -> dict:
    detections = [[(box, 1.0) for box in p.boxes] for p in split.test]
    readings, read_seconds = read_detections(split.test, detections, reader)
    return score_row("annotated boxes (reading only)", split.test, detections, (0.0, read_seconds), readings)


def detect_photos(detector_dir, photos, timing: dict | None = None) -> list[list]:
    """plateocr's detector on RGB photos: per photo [(box, score), ...], box (xmin, xmax, ymin,
    ymax) in photo pixels. detector_dir None: the bundled detector. timing["seconds"], when
    given, is set to the time detection took (the detector's start-up excluded)."""
    from plateocr.detection.detector import PlateDetector

    detector = PlateDetector(detector_dir=detector_dir)
    start = time.perf_counter()
    found = detector.detect(photos)
    if timing is not None:
        timing["seconds"] = time.perf_counter() - start
    return [[(tuple(d.box), float(d.score)) for d in ds] for ds in found]


def detector_available() -> str | None:
    """Why plateocr's detector cannot run here, or None."""
    import importlib.util

    try:
        if importlib.util.find_spec("plateocr.detection.detector") is None:
            return "plateocr.detection.detector does not exist yet"
    except ImportError as e:
        return f"plateocr.detection.detector: {e}"
    return None


def detector_row(name: str, detector_dir, split: Split, reader) -> dict:
    import cv2

    why = detector_available()
    if why:
        return skipped(name, why)
    from plateocr.errors import PlateOCRError

    timing: dict = {}
    rgbs = [cv2.cvtColor(p.bgr, cv2.COLOR_BGR2RGB) for p in split.test]
    from plateocr.defaults import READING_THRESHOLD

    try:
        detections = detect_photos(detector_dir, rgbs, timing)
    except PlateOCRError as e:  # e.g. no bundled detector yet
        return skipped(name, str(e))
    readings, read_seconds = read_detections(split.test, detections, reader)
    seconds = (timing["seconds"], read_seconds)
    row = score_row(name, split.test, detections, seconds, readings, READING_THRESHOLD)
    every = score_row(name, split.test, detections, seconds, readings)
    row["every_box"] = {k: every[k] for k in ("recall", "precision", "predicted", "read_exactly", "read_rate")}
    return row


def bundled_detector_row(split: Split, reader, args) -> dict:
    return detector_row("bundled detector", None, split, reader)


def write_train_csv(split: Split, path: Path) -> Path:
    """The training quarters as an annotation CSV (absolute photo paths) for train-detector and crop."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["files", "text", "xmin", "xmax", "ymin", "ymax"])
        w.writerows([a.file, a.text, *a.box] for a in split.train)
    return path


def trained_row(split: Split, reader, args) -> dict:
    """The user's workflow on the 75%, in args.work/trained: `plateocr train-detector train.csv`
    and `plateocr crop train.csv`, `plateocr tfrecords --split 0.83`, `plateocr train`, each
    training with --time-limit (args.minutes in all, half each; both stop early on their val
    split). Then scored as the detector rows are, the fine-tuned recogniser reading. A finished
    run is kept (trained.json) and only scored again; --retrain starts it over."""
    import shutil
    import subprocess

    from plateocr.inference.reader import PlateReader

    name = f"after train-detector + train on the 75% ({args.minutes:g} min)"
    work = args.work / "trained"
    done = work / "trained.json"
    if args.retrain and work.exists():
        shutil.rmtree(work)
    if not done.is_file():
        if work.exists():
            shutil.rmtree(work)  # an unfinished run: its time limits would not add up
        train_csv = write_train_csv(split, work / "train.csv")
        half = f"{args.minutes / 2:g}"
        plateocr = [sys.executable, "-m", "plateocr"]
        timings = {}
        for step in (
            ["train-detector", train_csv.name, "--time-limit", half],
            ["crop", train_csv.name],
            ["tfrecords", "--split", "0.83"],
            ["train", "--time-limit", half],
        ):
            start = time.perf_counter()
            proc = subprocess.run(plateocr + step, cwd=work, capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(f"plateocr {' '.join(step)} failed:\n{proc.stderr[-3000:]}")
            timings[step[0]] = time.perf_counter() - start
        done.write_text(json.dumps({"seconds": timings}, indent=1) + "\n", encoding="utf-8")
    with PlateReader(work / "model") as fine_tuned:
        row = detector_row(name, work / "detector", split, fine_tuned)
    row["training_seconds"] = json.loads(done.read_text())["seconds"]
    return row


ROWS = {
    "haar": haar_row,
    "annotated": annotated_row,
    "bundled": bundled_detector_row,
    "trained": trained_row,
}


# --- output ----------------------------------------------------------------------------------


def table(results: list[dict], split: Split):
    from rich.table import Table

    def share(value) -> str:
        return "-" if value is None else f"{value:.3f}"

    def rate(value) -> str:
        return "-" if value is None else f"{value:.1f}"

    plates = sum(len(p.boxes) for p in split.test)
    t = Table(
        title=f"Whole-photo reading, eu test quarter: {len(split.test)} photos, {plates} plates "
        f"(seed {SEED}; {len(split.train)} plates for training); read by the bundled recogniser unless said"
    )
    columns = ["row", "recall", "precision", "read exactly", "predicted", "detect/s", "photos/s"]
    columns += [f"recall @{LOOSE_IOU:g}", f"read @{LOOSE_IOU:g}", "every box: recall, precision, read", "note"]
    for column in columns:
        t.add_column(column, justify="left" if column in ("row", "note") else "right")
    for r in results:
        if "skipped" in r:
            t.add_row(r["row"], *["-"] * (len(columns) - 2), f"skipped: {r['skipped']}")
            continue
        loose = r["loose"]
        t.add_row(
            r["row"],
            share(r["recall"]),
            share(r["precision"]),
            f"{r['read_exactly']}/{r['annotated']} ({share(r['read_rate'])})",
            str(r["predicted"]),
            rate(r["detect_photos_per_s"]),
            rate(r["photos_per_s"]),
            share(loose["recall"]),
            f"{loose['read_exactly']}/{loose['annotated']} ({share(loose['read_rate'])})",
            ", ".join(share(r["every_box"][k]) for k in ("recall", "precision", "read_rate"))
            if "every_box" in r
            else "-",
            "",
        )
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    ap.add_argument("--haar-python", help="a Python whose OpenCV has CascadeClassifier (OpenCV 4)")
    ap.add_argument("--work", type=Path, default=BENCH / "detection", help="where trained rows train")
    ap.add_argument("--minutes", type=float, default=30.0, help="training time of the trained row, both models")
    ap.add_argument("--retrain", action="store_true", help="train the trained row again instead of reusing it")
    ap.add_argument("--json", help="also write the rows as JSON to this file ('-': stdout, the table to stderr)")
    ap.add_argument("--haar-worker", metavar="CASCADE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.haar_worker:
        return haar_worker(args.haar_worker)
    if not EU.is_dir():
        raise SystemExit(f"{EU}: the shared real plates are not beside the project")

    from rich.console import Console

    from plateocr.base_model import BASE_MODEL_DIR
    from plateocr.inference.reader import PlateReader

    console = Console(stderr=args.json == "-", width=200)
    split = split_eu()
    results = []
    with PlateReader(BASE_MODEL_DIR) as reader:
        reader.read_batch([split.test[0].bgr[:32, :128, ::-1].copy()])  # warm: start-up out of the timings
        for key in args.rows:
            console.print(f"[dim]{key}...[/dim]")
            results.append(ROWS[key](split, reader, args))
    console.print(table(results, split))
    if args.json == "-":
        print(json.dumps(results, indent=1))
    elif args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
