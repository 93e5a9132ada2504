"""Prediction speed and accuracy of plateocr on LiteRT and on TensorFlow, beside Tesseract 5, in
the same run, on the same crops.

Rows (each system on the same plate crops):
- batched: plates/s reading 1,000 crop files (the labelled crops repeated), decode included;
  plateocr with one PlateReader (batch 64, loader threads) on each backend: LiteRT (the
  default: the TFLite graph of the checkpoint, XNNPACK, threads = cores) and TensorFlow
  (--backend tensorflow), reading five views per plate (the default) and one (--no-tta), and
  each backend with one thread; the exported SavedModel (`plateocr export`, five views and
  --no-tta), fed the files' bytes in batches of 64 through `serving_default` (decode and fit in
  the graph; file reads before the clock); Tesseract with one process per crop
  (`tesseract IMG stdout --psm 7 -c tessedit_char_whitelist=A-Z0-9`), as many at once as cores;
  fast-plate-ocr's smallest architecture (below), speed only.
- cold single image: wall time of one `plateocr predict one.png` (a fresh process: Python, the
  backend's start-up, the model, one read): LiteRT with a warm cache; LiteRT on first use of
  the model (an empty user cache each run), with a copy of the model directory that carries its
  TFLite model beside the checkpoint (as `plateocr train` leaves it:
  plateocr.inference.tflite_store) and with a copy without it (TensorFlow converts
  it once); LiteRT first after `plateocr train` (a model fine-tuned 2 steps from --model-dir on
  the crops, the cache empty before training: train converts the checkpoint predict will read);
  TensorFlow (its graph cache warm); and of one `tesseract` call.
- CPU ms/plate (user + system time of all threads, or of the Tesseract processes) and the
  throughput it implies on idle cores: the machine is shared, so wall figures move with the load.
- sequence accuracy (the whole plate read right) on the labelled crops the model did not train
  on (the test split's texts when the crops come from the model's data; otherwise all crops,
  said in the notes), for every row that reads them, and how many of LiteRT's texts equal
  TensorFlow's.

fast-plate-ocr (pip, MIT; `pip install 'fast-plate-ocr[onnx]'`, and keras>=3.10 and pydantic,
which its [train] extra names and TensorFlow's environment has): its pretrained models are
downloaded from GitHub when first used, which a machine without that access cannot do, so its
row is its smallest architecture (cct_xs_v1: the layer sizes of models/cct_xs_v1.yaml in its
repository, written out in FAST_PLATE_OCR_ARCH) built offline with random weights, 64x128 RGB,
9 slots of 37 classes (its default Latin plate config): throughput only, in a subprocess, Keras 3
on TensorFlow (`predict_on_batch`, batches of --batch-size, each crop read and resized by its
own `read_and_resize_plate_image`, as its recognizer does), and inference alone. Its accuracy is
not comparable (untrained), so that column says "-". Absent, the row is skipped with that hint.

Two more tables: start-up in a fresh process (PlateReader constructed and its first plate read,
from `import`; a warm cache), and the LiteRT interpreter alone on one batch of 64 plates' five
views (320 images) with each setting side by side: XNNPACK with all cores and with one thread,
LiteRT's built-in kernels without XNNPACK.

Targets (issue 19, 2 cores): cold single image <= 1.0 s with a warm cache, <= 3 s on first use;
>= 522 plates/s batched at the default settings (fast-plate-ocr's smallest model, batched);
PlateReader constructed and its first plate read in <= 0.5 s with a warm cache.

Reduced precision, measured and not kept: LiteRT on the graph with dynamic-range int8 weights
(the converter's Optimize.DEFAULT; XNNPACK's int8 kernels with AVX512-VNNI) read 2.0x as fast
(661 against 334 plates/s, five views, on a busy 2-core AVX-512 machine), but changed the
readings of two of the 255 real plates (ar LQZ445 -> LOZ445, eu 1B7O440 -> 1B70440: both to their
label, as it happens) and confidences by up to 0.047; float16 weights read no faster (no native
float16 arithmetic on that CPU). The default stays float32, reading as TensorFlow reads
(docs/reading_measured.md).

The model: --model-dir (default model/). If none is there, a short one is trained first with
`plateocr demo`'s library workflow on the data (--train-minutes) and the table says so.
Crops: cut from --data (default data/sample if present, else ../shared/realplates/eu).
Tesseract is optional: `apt-get install -y tesseract-ocr` (Debian/Ubuntu); absent, its rows are
skipped with that hint. The run keeps its own cache folder (XDG_CACHE_HOME), removed at the end.

    /work/venv/bin/python benchmarks/predict_speed.py
    /work/venv/bin/python benchmarks/predict_speed.py --model-dir plateocr/assets/base_model --data ../shared/realplates/eu
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_PLATES = REPO.parent / "shared" / "realplates" / "eu"
WHITELIST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
PLATEOCR = Path(sys.executable).parent / "plateocr"


def default_data() -> Path:
    sample = REPO / "data" / "sample"
    return sample if (sample / "annot.csv").is_file() else REAL_PLATES


# fast-plate-ocr's smallest model, cct_xs_v1: the layer sizes of models/cct_xs_v1.yaml in
# github.com/ankandrew/fast-plate-ocr (its pretrained weights are a download away; untrained here).
FAST_PLATE_OCR_ARCH = {
    "model": "cct",
    "rescaling": {"scale": 1 / 255, "offset": 0.0},
    "tokenizer": {
        "blocks": [
            {"layer": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "valid"},
            {"layer": "MaxBlurPooling2D", "pool_size": 2, "filter_size": 3},
            {"layer": "Conv2D", "filters": 48, "kernel_size": 3, "padding": "valid"},
            {"layer": "Conv2D", "filters": 64, "kernel_size": 3, "padding": "valid"},
            {"layer": "MaxBlurPooling2D", "pool_size": 2, "filter_size": 3},
            {"layer": "Conv2D", "filters": 80, "kernel_size": 3, "padding": "valid"},
            {"layer": "Conv2D", "filters": 96, "kernel_size": 3, "padding": "valid"},
        ],
        "positional_emb": True,
        "patch_size": 2,
        "patch_mlp": {"layer": "MLP", "hidden_units": [64], "activation": "gelu", "dropout_rate": 0.05},
    },
    "transformer_encoder": {
        "layers": 4,
        "heads": 1,
        "projection_dim": 64,
        "units": [64, 64],
        "activation": "gelu",
        "stochastic_depth": 0.05,
        "attention_dropout": 0.05,
        "mlp_dropout": 0.1,
        "head_mlp_dropout": 0.05,
        "token_reducer_heads": 4,
        "normalization": "dyt",
    },
}
FAST_PLATE_OCR_PLATE = {  # its default Latin plate config, 3 channels
    "max_plate_slots": 9,
    "alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_",
    "pad_char": "_",
    "img_height": 64,
    "img_width": 128,
    "keep_aspect_ratio": True,
    "image_color_mode": "rgb",
}
# In a subprocess (Keras 3, eager TensorFlow: kept away from plateocr's graph-mode sessions):
# argv: a JSON file {"arch", "plate", "paths", "batch"}; prints one JSON line of figures.
FAST_PLATE_OCR = """
import json, os, resource, sys, time
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
from importlib.metadata import version
from pydantic import TypeAdapter
from fast_plate_ocr.core.process import read_and_resize_plate_image
from fast_plate_ocr.train.model.config import PlateConfig
from fast_plate_ocr.train.model.model_builders import build_model
from fast_plate_ocr.train.model.model_schema import AnyModelConfig

job = json.load(open(sys.argv[1]))
plate = PlateConfig(**job["plate"])
model = build_model(TypeAdapter(AnyModelConfig).validate_python(job["arch"]), plate)
batch, paths = job["batch"], job["paths"]

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def load(files):
    return np.stack([read_and_resize_plate_image(
        f, plate.img_height, plate.img_width, plate.image_color_mode, plate.keep_aspect_ratio,
        plate.interpolation, plate.padding_color) for f in files])

def read(images):
    return model.predict_on_batch(images)["plate"].argmax(-1)

read(load(paths[:batch]))  # warm-up
c0, t0 = cpu(), time.perf_counter()
for i in range(0, len(paths), batch):
    read(load(paths[i : i + batch]))
wall, used = time.perf_counter() - t0, cpu() - c0
images = load(paths[:batch])
c1, t1 = cpu(), time.perf_counter()
for _ in range(max(1, len(paths) // batch)):
    read(images)
n = batch * max(1, len(paths) // batch)
print(json.dumps({"version": version("fast-plate-ocr"), "params": model.count_params(),
                  "rate": len(paths) / wall, "cpu_ms": 1000 * used / len(paths),
                  "infer_rate": n / (time.perf_counter() - t1), "infer_cpu_ms": 1000 * (cpu() - c1) / n}))
"""


def fast_plate_ocr_speed(paths: list[Path], batch: int, work: Path) -> dict | None:
    """fast-plate-ocr's cct_xs_v1 architecture, random weights, reading `paths` (FAST_PLATE_OCR);
    None where fast-plate-ocr (or what it needs to build a model: keras 3, pydantic) is missing."""
    import importlib.util
    import json

    if not all(importlib.util.find_spec(m) for m in ("fast_plate_ocr", "keras", "pydantic")):
        return None
    job = work / "fast_plate_ocr.json"
    arch, plate = FAST_PLATE_OCR_ARCH, FAST_PLATE_OCR_PLATE
    job.write_text(json.dumps({"arch": arch, "plate": plate, "paths": [str(p) for p in paths], "batch": batch}))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    res = subprocess.run([sys.executable, "-c", FAST_PLATE_OCR, str(job)], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"fast-plate-ocr failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def tesseract_read(path: Path) -> str:
    out = subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", "7", "-c", f"tessedit_char_whitelist={WHITELIST}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "".join(out.stdout.split()).upper()


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU seconds of this process (all threads) or of its finished children."""
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def timed_cold(cmd: list[str], repeat: int, env=None) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of `cmd`, run `repeat` times as a fresh process.
    env: extra environment variables, or a callable giving them for each run."""
    walls, cpus = [], []
    for _ in range(repeat):
        extra = env() if callable(env) else env or {}
        c0, t0 = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **extra})
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds(resource.RUSAGE_CHILDREN) - c0)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    return statistics.median(walls), statistics.median(cpus)


# A fresh process: PlateReader imported, constructed and reading its first plate, timed from the import.
STARTUP = """
import sys, time
t0 = time.perf_counter()
from plateocr.inference.reader import PlateReader
reader = PlateReader(sys.argv[1], backend=sys.argv[3])
reader.read(sys.argv[2])
print(time.perf_counter() - t0, reader.backend, "tensorflow" in sys.modules)
"""


def reader_startup(model: Path, image: Path, backend: str, repeat: int) -> tuple[float, str]:
    """Median seconds from `import` to the first plate read, and what ran it (TensorFlow imported?)."""
    runs = []
    for _ in range(repeat):
        res = subprocess.run(
            [sys.executable, "-c", STARTUP, str(model), str(image), backend], capture_output=True, text=True
        )
        if res.returncode != 0:
            raise SystemExit(f"PlateReader start-up failed:\n{res.stderr[-2000:]}")
        runs.append(res.stdout.split())
    seconds = statistics.median(float(r[0]) for r in runs)
    return seconds, f"{runs[0][1]}, TensorFlow imported: {runs[0][2] == 'True'}"


def read_with(model: Path, backend: str, tta: bool, threads: int | None, paths, repeated, batch: int):
    """(plates/s, CPU ms/plate, texts of `paths`) for one PlateReader reading `repeated` in batches."""
    from plateocr.inference.reader import PlateReader

    with PlateReader(model, tta=tta, backend=backend, threads=threads) as reader:
        reader.read_batch(paths[:batch], batch)  # warm-up: first-run costs
        c0, t0 = cpu_seconds(), time.perf_counter()
        readings = reader.read_batch(repeated, batch)
        rate = len(readings) / (time.perf_counter() - t0)
        cpu_ms = 1000 * (cpu_seconds() - c0) / len(readings)
        return rate, cpu_ms, [r.text for r in reader.read_batch(paths, batch)]


def predict_after_train(model: Path, manifest: Path, image: Path, work: Path) -> float:
    """Wall seconds of the first `plateocr predict one.png` on a model `plateocr train` has just
    made (fine-tuned from `model` for 2 steps on the crops), with a cache that was empty before
    the training: train leaves the checkpoint converted for LiteRT."""
    from plateocr.model.modeldir import ModelDir
    from plateocr.records import RecordsOptions, write_records

    md, folder = ModelDir(model), work / "after-train"
    spec = md.spec
    options = RecordsOptions(
        split=1.0,
        val=0,
        size=(spec.height, spec.width),
        keep_aspect=spec.keep_aspect,
        charset_file=md.path / spec.charset_file,
        max_length=spec.max_sequence_length,
    )
    write_records(manifest, folder / "records", options)
    env = {"XDG_CACHE_HOME": str(folder / "cache")}
    train = [str(PLATEOCR), "train", "--data", str(folder / "records"), "--model-dir", str(folder / "model")]
    train += ["--init-from", str(model), "--steps", "2", "--batch-size", "8", "--eval-every", "0"]
    timed_cold(train, 1, env)
    return timed_cold([str(PLATEOCR), "predict", str(image), "--model-dir", str(folder / "model")], 1, env)[0]


def first_use_rows(model: Path, image: Path, work: Path, repeat: int) -> tuple[float, float]:
    """Median wall seconds of `plateocr predict one.png` (LiteRT, an empty user cache each run) on
    a copy of `model` carrying its TFLite model, and on a fresh copy without it each run."""
    from plateocr.inference.tflite_store import TFLITE_SUFFIX

    carried, bare = work / "first-use-carried", work / "first-use-bare"
    shutil.copytree(model, carried)
    fresh = iter(range(10**6))

    def empty_cache(copy_bare: bool = False) -> dict:
        if copy_bare:
            shutil.rmtree(bare, ignore_errors=True)
            shutil.copytree(model, bare, ignore=shutil.ignore_patterns(f"*{TFLITE_SUFFIX}"))
        return {"PLATEOCR_BACKEND": "litert", "XDG_CACHE_HOME": str(work / f"empty-cache-{next(fresh)}")}

    def predict(folder: Path) -> list[str]:
        return [str(PLATEOCR), "predict", str(image), "--model-dir", str(folder), "--format", "csv"]

    if not list(carried.rglob(f"*{TFLITE_SUFFIX}")):  # a model folder without one: one read leaves it
        timed_cold(predict(carried), 1, empty_cache)
    if not list(carried.rglob(f"*{TFLITE_SUFFIX}")):
        raise SystemExit(f"{carried}: no TFLite model beside its checkpoint after reading it")
    carrying = timed_cold(predict(carried), repeat, empty_cache)[0]
    converting = timed_cold(predict(bare), repeat, lambda: empty_cache(copy_bare=True))[0]
    return carrying, converting


def litert_settings(model: Path, paths: list[Path], cores: int, repeat: int = 5) -> list[tuple]:
    """The LiteRT interpreter alone on one batch of 64 plates' views, each setting side by side:
    (setting, views/s, CPU ms/view)."""
    import numpy as np

    from plateocr.inference.litert_runner import open_runner
    from plateocr.inference.reader import PlateReader
    from plateocr.inference.test_time_augmentation import views

    with PlateReader(model, backend="litert") as reader:
        batch = views(np.stack([reader.prepare(p) for p in (paths * 64)[:64]]))
        config, checkpoint = reader.config, reader.checkpoint
    rows = []
    for setting, threads, xnnpack in (
        (f"XNNPACK, {cores} threads (the default)", cores, True),
        ("XNNPACK, 1 thread", 1, True),
        (f"built-in kernels (no XNNPACK), {cores} threads", cores, False),
    ):
        runner = open_runner(config, checkpoint, threads, xnnpack=xnnpack)
        runner.run(batch)
        c0, t0 = cpu_seconds(), time.perf_counter()
        for _ in range(repeat):
            runner.run(batch)
        n = repeat * len(batch)
        rows.append((setting, n / (time.perf_counter() - t0), 1000 * (cpu_seconds() - c0) / n))
    return rows


def accuracy(texts: list[str], labelled: list[tuple[Path, str]]) -> float:
    return sum(r == t for r, (_, t) in zip(texts, labelled)) / len(labelled)


def read_exported(model: Path, out: Path, tta: bool, paths: list[Path], repeated: list[Path], batch: int):
    """(plates/s, CPU ms/plate, texts of `paths`) for `plateocr export`'s SavedModel, loaded with
    plain TensorFlow and fed encoded file bytes in batches."""
    import tensorflow as tf

    from plateocr.inference.export import export_model

    export_model(model, out, tta=tta)
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]

    def read(files: list[Path]) -> list[str]:
        data = [p.read_bytes() for p in files]
        texts = []
        for i in range(0, len(data), batch):
            texts += [t.decode("utf-8") for t in serve(image_bytes=tf.constant(data[i : i + batch]))["text"].numpy()]
        return texts

    read(paths[:batch])  # warm-up
    data = [p.read_bytes() for p in repeated]
    c0, t0 = cpu_seconds(), time.perf_counter()
    for i in range(0, len(data), batch):
        serve(image_bytes=tf.constant(data[i : i + batch]))["text"].numpy()
    rate = len(data) / (time.perf_counter() - t0)
    return rate, 1000 * (cpu_seconds() - c0) / len(data), read(paths)


def prepare(args, work: Path) -> tuple[Path, list[tuple[Path, str]], list[str], Path]:
    """(model dir, labelled crops to score, notes, the crops' labels CSV)."""
    from plateocr.cropping import crop_annotations
    from plateocr.demo import crops_with_texts, run_demo
    from plateocr.training.evaluate import evaluate
    from plateocr.model.modeldir import ModelDir

    notes = []
    data = args.data or default_data()
    if not ModelDir.exists(args.model_dir):
        print(
            f"no model in {args.model_dir}: training one for {args.train_minutes:g} min on {data} ...",
            file=sys.stderr,
            flush=True,
        )
        demo = run_demo(data, work / "demo", minutes=args.train_minutes)
        notes.append(f"model trained here for {args.train_minutes:g} min ({demo.steps} steps) on {data}")
        model = work / "demo" / "model"
        manifest = work / "demo" / "crops" / "labels.csv"
    else:
        model = Path(args.model_dir)
        md = ModelDir(model)
        spec = md.spec
        crops = crop_annotations(
            (data / "annot.csv") if data.is_dir() else data,
            None,
            work / "crops",
            size=(spec.height, spec.width),
            keep_aspect=spec.keep_aspect,
        )
        manifest = crops.manifest
    texts = None
    # The model's own records, else records/ beside it (the demo trains on records_train/,
    # sample + synthetic, and keeps the sample's test split in records/).
    for records in (None, model.parent / "records"):
        try:
            texts = {e.truth for e in evaluate(model, records, split="test").examples}
            break
        except Exception as e:  # records moved or gone: score all crops instead
            why = str(e).splitlines()[0]
    if texts is None:
        notes.append(f"no test split to pick unseen plates from ({why})")
    labelled = crops_with_texts(manifest, texts) if texts else []
    if not labelled:
        import csv

        with open(manifest, newline="", encoding="utf-8") as fh:
            labelled = [(manifest.parent / r["files"], r["text"]) for r in csv.DictReader(fh)]
        from plateocr.base_model import BASE_MODEL_DIR

        bundled = model.resolve() == BASE_MODEL_DIR.resolve()
        notes.append(
            "accuracy over all crops: "
            + (
                "the bundled base model saw synthetic plates only"
                if bundled
                else "some may be plates the model trained on"
            )
        )
    return model, labelled, notes, manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=REPO / "model")
    ap.add_argument(
        "--data", type=Path, default=None, help="annot.csv or its folder [data/sample, else ../shared/realplates/eu]"
    )
    ap.add_argument("--plates", type=int, default=1000, help="crops read in the batched rows")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--cold-repeats", type=int, default=3)
    ap.add_argument("--train-minutes", type=float, default=6.0, help="when no model is there")
    ap.add_argument("--tesseract-plates", type=int, default=None, help="crops for Tesseract's batched row [--plates]")
    ap.add_argument("--no-export", dest="export", action="store_false", help="skip the exported SavedModel's rows")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from plateocr.workers import cpu_count

    work = Path(tempfile.mkdtemp(prefix="plateocr-predict-speed-"))
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # this run's own cache (plateocr.user_cache)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    try:
        model, labelled, notes, manifest = prepare(args, work)
        paths = [p for p, _ in labelled]
        repeated = [paths[i % len(paths)] for i in range(args.plates)]
        rows = []

        # plateocr, batched: PlateReader on each backend, with and without views, and with one
        # thread; then the exported SavedModel
        cores = cpu_count()
        cmd = [str(PLATEOCR), "predict", str(paths[0]), "--model-dir", str(model), "--format", "csv"]
        settings = [  # (backend, views, threads: None for all cores)
            ("litert", True, None),
            ("tensorflow", True, None),
            ("litert", False, None),
            ("tensorflow", False, None),
            ("litert", True, 1),
            ("tensorflow", True, 1),
        ]
        # each reader also warms its backend's cache, so the cold rows start warm
        measured = {key: read_with(model, *key, paths, repeated, args.batch_size) for key in settings}
        for backend, tta, threads in settings:
            batched, cpu_ms, texts = measured[backend, tta, threads]
            cold = cold_cpu = None
            if threads is None:
                cold, cold_cpu = timed_cold(
                    [*cmd, "--tta" if tta else "--no-tta"], args.cold_repeats, {"PLATEOCR_BACKEND": backend}
                )
            name = {"litert": "plateocr LiteRT", "tensorflow": "plateocr TensorFlow"}[backend]
            how = f"PlateReader, batch {args.batch_size}, " + ("5 views voted" if tta else "one view")
            how += f", {threads} thread" if threads else (" (the default)" if backend == "litert" and tta else "")
            if backend == "litert":
                tf_texts = measured["tensorflow", tta, threads][2]
                how += f"; texts as TensorFlow's: {sum(a == b for a, b in zip(texts, tf_texts))}/{len(texts)}"
            suffix = ("" if tta else " --no-tta") + (f", {threads} thread" if threads else "")
            rows.append((name + suffix, batched, cpu_ms, cold, cold_cpu, accuracy(texts, labelled), how))

        # cold starts: LiteRT on first use of the model (an empty user cache each time), with a copy
        # of the model directory that carries its TFLite model (the readers above left it beside
        # the checkpoint; the bundled base model ships it), and with a copy each time without it
        first_use, first_use_convert = first_use_rows(model, paths[0], work, args.cold_repeats)
        after_train = predict_after_train(model, manifest, paths[0], work)
        startup = [
            ("`plateocr predict one.png`, LiteRT, warm cache", rows[0][3], "five views (the default)"),
            (
                "`plateocr predict one.png`, LiteRT, first use (empty cache)",
                first_use,
                "the model dir carries its TFLite model (as the base model ships, as train leaves it)",
            ),
            (
                "`plateocr predict one.png`, LiteRT, first use, no TFLite model stored",
                first_use_convert,
                "empty cache, none beside the checkpoint: TensorFlow converts it once",
            ),
            (
                "`plateocr predict one.png`, LiteRT, first after `plateocr train`",
                after_train,
                "one run; train converted the new checkpoint",
            ),
            ("`plateocr predict one.png`, TensorFlow", rows[1][3], "its graph cache warm"),
        ]
        for backend in ("litert", "tensorflow"):
            seconds, how = reader_startup(model, paths[0], backend, args.cold_repeats)
            startup.append((f"PlateReader + first plate, from import, {backend}", seconds, how))
        litert_rows = litert_settings(model, paths, cores)

        for tta in (True, False) if args.export else ():
            batched, cpu_ms, texts = read_exported(model, work / f"export-{tta}", tta, paths, repeated, args.batch_size)
            rows.append(
                (
                    "exported SavedModel" + ("" if tta else " --no-tta"),
                    batched,
                    cpu_ms,
                    None,
                    None,
                    accuracy(texts, labelled),
                    f"serving_default on file bytes, batch {args.batch_size}, "
                    + ("5 views voted in the graph" if tta else "one view"),
                )
            )

        # fast-plate-ocr's smallest architecture, untrained: speed only
        fpo = fast_plate_ocr_speed(repeated, args.batch_size, work)
        if fpo is None:
            notes.append(
                "fast-plate-ocr not installed, its row skipped: pip install 'fast-plate-ocr[onnx]' (keras>=3.10, pydantic)"
            )
        else:
            rows.append(
                (
                    f"fast-plate-ocr {fpo['version']} cct_xs_v1, random weights",
                    fpo["rate"],
                    fpo["cpu_ms"],
                    None,
                    None,
                    None,
                    f"Keras 3, batch {args.batch_size}, its own read and resize; inference alone "
                    f"{fpo['infer_rate']:.0f} plates/s ({fpo['infer_cpu_ms']:.2f} CPU ms); untrained: "
                    "accuracy not comparable",
                )
            )

        # Tesseract, side by side
        if shutil.which("tesseract"):
            version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
            n = args.tesseract_plates or args.plates
            workers = cpu_count()
            tesseract_read(paths[0])  # warm the page cache and traineddata
            c0, t0 = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(tesseract_read, repeated[:n]))
            t_batched = n / (time.perf_counter() - t0)
            t_cpu_ms = 1000 * (cpu_seconds(resource.RUSAGE_CHILDREN) - c0) / n
            with ThreadPoolExecutor(workers) as pool:
                t_texts = list(pool.map(tesseract_read, paths))
            t_acc = accuracy(t_texts, labelled)
            t_cold, t_cold_cpu = timed_cold(
                ["tesseract", str(paths[0]), "stdout", "--psm", "7", "-c", f"tessedit_char_whitelist={WHITELIST}"],
                args.cold_repeats,
            )
            rows.append(
                (
                    version,
                    t_batched,
                    t_cpu_ms,
                    t_cold,
                    t_cold_cpu,
                    t_acc,
                    f"one process per crop, {workers} at once, {n} crops",
                )
            )
        else:
            notes.append("Tesseract not installed, its row skipped: apt-get install -y tesseract-ocr")

        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        cores = cpu_count()
        table = Table(
            title=f"Prediction on {len(labelled)} labelled crops ({args.plates} reads batched), "
            f"{cores} cores, load average {load_start:.1f} -> {load:.1f}",
            title_justify="left",
        )
        cols = (
            "system",
            "plates/s batched",
            "CPU ms/plate",
            f"plates/s on {cores} idle cores",
            "cold single image s",
            "cold CPU s",
            "sequence accuracy",
            "how",
        )
        for col in cols:
            table.add_column(col, justify="left" if col in ("system", "how") else "right")
        for name, rate, cpu_ms, cold_s, cold_cpu, acc, how in rows:
            table.add_row(
                name,
                f"{rate:.1f}",
                f"{cpu_ms:.1f}",
                f"{1000 * cores / cpu_ms:.0f}",
                "-" if cold_s is None else f"{cold_s:.2f}",
                "-" if cold_cpu is None else f"{cold_cpu:.2f}",
                "-" if acc is None else f"{acc:.3f}",
                how,
            )
        table.add_row("target (plateocr, default)", ">= 522", "", ">= 522", "<= 1.0", "", "", f"{cores} cores")
        if rows[-1][0].startswith("tesseract"):
            a, b = rows[0], rows[-1]  # plateocr's default (LiteRT, five views) and Tesseract
            table.add_row(
                "plateocr / Tesseract",
                f"{a[1] / b[1]:.1f}x",
                "",
                f"{b[2] / a[2]:.1f}x",
                f"{a[3] / b[3]:.1f}x",
                "",
                f"{a[5] - b[5]:+.3f}",
                "",
            )
        if fpo is not None:
            notes.append(
                f"fast-plate-ocr: its smallest architecture ({fpo['params']:,} weights, 64x128 RGB) with random "
                "weights, as its trained ones are downloaded from GitHub at run time"
            )
        notes.append(
            "the machine is shared: wall figures fall as the load rises; CPU figures (and the idle-core "
            "estimate, cores / CPU per plate) move much less"
        )
        table.caption = "; ".join(notes)
        console = Console(width=max(Console().width, 150))
        console.print(table)

        starts = Table(title="Start-up in a fresh process (median)", title_justify="left")
        for col in ("what", "seconds", "how"):
            starts.add_column(col, justify="right" if col == "seconds" else "left")
        for what, seconds, how in startup:
            starts.add_row(what, f"{seconds:.2f}", how)
        starts.caption = "targets: predict <= 1.0 s with a warm cache, <= 3 s on first use; PlateReader <= 0.5 s"
        console.print(starts)

        kernels = Table(title=f"LiteRT alone on 64 plates' five views ({64 * 5} images a call)", title_justify="left")
        for col in ("setting", "views/s", "CPU ms/view", "plates/s (5 views)"):
            kernels.add_column(col, justify="left" if col == "setting" else "right")
        for setting, rate, cpu_ms in litert_rows:
            kernels.add_row(setting, f"{rate:.0f}", f"{cpu_ms:.2f}", f"{rate / 5:.0f}")
        console.print(kernels)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
