"""Prediction speed and accuracy of plateocr beside Tesseract 5, in the same run, on the same crops.

Rows (each system on the same plate crops):
- batched: plates/s reading 1,000 crop files (the labelled crops repeated), decode included;
  plateocr with one PlateReader (batch 64, loader threads), reading five views per plate (the
  default) and one (--no-tta); the exported SavedModel (`plateocr export`, five views and
  --no-tta), fed the files' bytes in batches of 64 through `serving_default` (decode and fit in
  the graph; file reads before the clock); Tesseract with one process per crop
  (`tesseract IMG stdout --psm 7 -c tessedit_char_whitelist=A-Z0-9`), as many at once as cores.
- cold single image: wall time of one `plateocr predict one.png` (a fresh process: Python,
  TensorFlow start-up, graph, checkpoint restore, one read) and of one `tesseract` call.
- CPU ms/plate (user + system time of all threads, or of the Tesseract processes) and the
  throughput it implies on idle cores: the machine is shared, so wall figures move with the load.
- sequence accuracy on the labelled crops the model did not train on (the test split's texts
  when the crops come from the model's data; otherwise all crops, said in the notes).

Targets: >= 100 plates/s batched on 2 cores; a cold single image under 5 s.

The model: --model-dir (default model/). If none is there, a short one is trained first with
`plateocr demo`'s library workflow on the data (--train-minutes) and the table says so.
Crops: cut from --data (default data/sample if present, else ../shared/realplates/eu).
Tesseract is optional: `apt-get install -y tesseract-ocr` (Debian/Ubuntu); absent, its rows are
skipped with that hint.

    /work/venv/bin/python benchmarks/predict_speed.py
    /work/venv/bin/python benchmarks/predict_speed.py --model-dir model --data data/sample
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


def timed_cold(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of `cmd`, run `repeat` times as a fresh process."""
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds(resource.RUSAGE_CHILDREN) - c0)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    return statistics.median(walls), statistics.median(cpus)


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


def prepare(args, work: Path) -> tuple[Path, list[tuple[Path, str]], list[str]]:
    """(model dir, labelled crops to score, notes)."""
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
    return model, labelled, notes


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
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from plateocr.workers import cpu_count

    work = Path(tempfile.mkdtemp(prefix="plateocr-predict-speed-"))
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    try:
        model, labelled, notes = prepare(args, work)
        paths = [p for p, _ in labelled]
        repeated = [paths[i % len(paths)] for i in range(args.plates)]
        rows = []

        # plateocr, batched: PlateReader with and without views, then the exported SavedModel
        from plateocr.inference.reader import PlateReader

        for tta in (True, False):
            with PlateReader(model, tta=tta) as reader:
                reader.read_batch(paths[: args.batch_size], args.batch_size)  # warm-up: first-run graph costs
                c0, t0 = cpu_seconds(), time.perf_counter()
                readings = reader.read_batch(repeated, args.batch_size)
                batched = len(readings) / (time.perf_counter() - t0)
                cpu_ms = 1000 * (cpu_seconds() - c0) / len(readings)
                texts = [r.text for r in reader.read_batch(paths, args.batch_size)]
            cold, cold_cpu = timed_cold(
                [
                    str(PLATEOCR),
                    "predict",
                    str(paths[0]),
                    "--model-dir",
                    str(model),
                    "--format",
                    "csv",
                    "--tta" if tta else "--no-tta",
                ],
                args.cold_repeats,
            )
            rows.append(
                (
                    "plateocr" if tta else "plateocr --no-tta",
                    batched,
                    cpu_ms,
                    cold,
                    cold_cpu,
                    accuracy(texts, labelled),
                    f"PlateReader, batch {args.batch_size}, " + ("5 views voted (the default)" if tta else "one view"),
                )
            )
        for tta in (True, False):
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
                f"{acc:.3f}",
                how,
            )
        table.add_row("target (plateocr)", ">= 100", "", ">= 100", "< 5", "", "", f"{cores} cores")
        if rows[-1][0].startswith("tesseract"):
            a, b = rows[0], rows[-1]
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
        notes.append(
            "the machine is shared: wall figures fall as the load rises; CPU figures (and the idle-core "
            "estimate, cores / CPU per plate) move much less"
        )
        table.caption = "; ".join(notes)
        Console(width=max(Console().width, 150)).print(table)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
