"""Held-out accuracy on the real plate sets: zero-shot, fine-tuned, from scratch, Tesseract.

For ../shared/realplates/eu (photos, cut as `plateocr crop` cuts them) and ../shared/realplates/ar
(crops), read in place, and for each seed (a fold):

1. A quarter of the plates is held out (whole plates by normalised text and whole photos, as
   `tfrecords` groups them). It never reaches tfrecords, training or any choice: it reports.
2. The other three quarters go through the user's workflow: `plateocr tfrecords --split 0.83
   --seed S` (train, val and test splits, tfrecords' defaults), then
   `plateocr train` with the recipe for --minutes (val chooses best/ and stops early), scored at
   each of --stops on the way (one run, resumed between stops; an early-stopped run trains no more).
3. The held-out quarter is read as `plateocr predict` reads (five views, the model folder's
   formats.json, best/ else the latest checkpoint).

Rows: the bundled base model zero-shot (formats off: out of the box), zero-shot with the formats
of the train part (`predict --formats FILE`), fine-tuned at each stop, from scratch (--scratch
minutes, `train --from-scratch` defaults) and Tesseract 5 (`--psm 7`, A-Z0-9, on crops cut at 64x256
for it, as it needs larger characters; skipped when not installed). Columns per set: mean and
worst fold of the held-out full-plate accuracy, the mean read with one view (`predict --no-tta`),
and the mean of what `plateocr eval` printed (the records' own test split), with five views and
with one (`eval --no-tta`: the default reading is chosen on that split, as the recipe is).

Choosing a recipe: --variant rows train other TrainOptions. A variant is chosen on the "eval"
column (the records' test split, which training never saw and nothing else chose on), never on
the held-out columns; --select hides the held-out columns so that they cannot guide the choice.

--keep-labels writes the folds' records as `tfrecords --keep-labels` does (labels that look like
O/0 or I/1 slips trained on as given): the baseline of the default, which fixes them in train and
val. Give it a --work of its own.

Every (set, seed, row) result is kept in --work/results.jsonl: a run stopped halfway goes on
where it stopped (delete the file, or --fresh, to measure again).

    python benchmarks/accuracy.py                                  # 3 folds, 5/15/30 min, scratch 30
    python benchmarks/accuracy.py --minutes 5 --stops --no-scratch --seeds 0 1 \\
        --variant share25:synthetic_share=0.25 --select            # a recipe study
    python benchmarks/accuracy.py --json out.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from realplates import SETS, labels_csv  # noqa: E402

HELD_OUT = 0.25
TRAIN_SPLIT = 0.83  # the used-by line: plateocr tfrecords --split 0.83
TESSERACT_SIZE = (64, 256)
WHITELIST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# --keep-labels: records as `tfrecords --keep-labels` writes them (the labels that look like
# O/0 or I/1 slips trained on as given), the baseline of the default that fixes them
KEEP_LABELS = False


# --- folds ------------------------------------------------------------------------------------


def fold(work: Path, set_name: str, seed: int) -> tuple[Path, list[tuple[str, str]]]:
    """The records of the three quarters kept for the workflow (written once), and the held-out
    quarter's (crop path, text) pairs."""
    from plateocr.defaults import SPEC_FILE
    from plateocr.records import RecordsOptions, locate_crops, read_rows, split_rows, write_records

    rows, _ = read_rows(locate_crops(labels_csv(set_name)))
    # its own seed stream: the held-out quarter is not tfrecords' test split of the same seed
    kept, held_out = split_rows(rows, 1 - HELD_OUT, seed + 1000)
    folder = work / set_name / f"seed{seed}"
    records = folder / "records"
    if (records / SPEC_FILE).is_file():
        from plateocr.spec import DatasetSpec

        fixed = DatasetSpec.read(records).extra.get("fix_labels")
        if fixed is not (not KEEP_LABELS):  # None: written before label checks
            raise SystemExit(
                f"{records}: written with fix_labels={fixed}, this run wants {not KEEP_LABELS}: another --work"
            )
    else:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["files", "text", "source"])
            w.writerows((r.path, r.text, r.source) for r in kept)
        # as the user runs it: tfrecords' defaults (the base alphabet plus any other characters,
        # padded to the longest label)
        opts = RecordsOptions(split=TRAIN_SPLIT, seed=seed, fix_labels=not KEEP_LABELS)
        write_records(folder / "labels.csv", records, opts, force=True)
    return records, [(r.path, r.text) for r in held_out]


def held_out_accuracy(model_dir: Path, held_out: list[tuple[str, str]], formats="auto") -> dict:
    """Read the held-out crops as `predict` does; full-plate accuracy and the misreadings."""
    from plateocr.inference.reader import PlateReader
    from plateocr.records import plate_key

    paths = [p for p, _ in held_out]
    with PlateReader(model_dir, formats=formats) as reader:
        readings = reader.read_batch(paths)
        reader.tta = False  # also one view (predict --no-tta): are five views worth their cost?
        one_view = reader.read_batch(paths)
    wrong = [(t, r.text) for (_, t), r in zip(held_out, readings) if plate_key(t) != plate_key(r.text)]
    right_one_view = sum(plate_key(t) == plate_key(r.text) for (_, t), r in zip(held_out, one_view))
    return {
        "plates": len(held_out),
        "held_out": 1 - len(wrong) / len(held_out),
        "held_out_one_view": right_one_view / len(held_out),
        "wrong": wrong,
    }


def eval_printed(model_dir: Path, records: Path) -> dict:
    """What `plateocr eval` prints for the model folder: the records' test split."""
    from plateocr.training.evaluate import evaluate

    result = evaluate(model_dir, records, split="test")
    one_view = evaluate(model_dir, records, split="test", tta=False)  # eval --no-tta: choosing the views
    return {
        "eval": result.sequence_accuracy,
        "eval_one_view": one_view.sequence_accuracy,
        "eval_plates": result.num_examples,
        "scored_step": result.step,
    }


# --- rows -------------------------------------------------------------------------------------


def zero_shot_rows(work: Path, set_name: str, seed: int) -> list[dict]:
    from plateocr.base_model import BASE_MODEL_DIR
    from plateocr.formats import Formats
    from plateocr.spec import DatasetSpec
    from plateocr.training.data import split_texts

    records, held_out = fold(work, set_name, seed)
    formats = Formats.learn(split_texts(records, DatasetSpec.read(records), "train"))
    return [
        {
            "row": "zero-shot",
            **held_out_accuracy(BASE_MODEL_DIR, held_out, "off"),
            **eval_printed(BASE_MODEL_DIR, records),
        },
        {"row": "zero-shot + formats of the train part", **held_out_accuracy(BASE_MODEL_DIR, held_out, formats)},
    ]


def training_rows(work: Path, set_name: str, seed: int, name: str, settings: dict, stops: list[float]) -> list[dict]:
    """Train one recipe on the fold for max(stops) minutes, scored at each stop."""
    from plateocr.training.loop import train
    from plateocr.training.options import TrainOptions

    settings = dict(settings)
    from_scratch = bool(settings.pop("from_scratch", False))
    unknown = set(settings) - {f.name for f in fields(TrainOptions)}
    if unknown:
        raise SystemExit(f"{name}: unknown training option(s) {', '.join(sorted(unknown))}")
    records, held_out = fold(work, set_name, seed)
    model = work / set_name / f"seed{seed}" / f"model-{name}"
    shutil.rmtree(model, ignore_errors=True)
    rows, trained, result = [], 0.0, None
    for stop in sorted(stops):
        if result is None or not result.stopped_early:
            t0 = time.monotonic()
            result = train(
                records,
                model,
                {"steps": 10**7, "seed": seed, **settings},
                time_limit=max(1.0, (stop - trained) * 60),
                from_scratch=from_scratch,
            )
            trained += (time.monotonic() - t0) / 60
        rows.append(
            {
                "row": f"{name} {stop:g} min",
                "steps": result.last_step,
                "early_stop": result.stopped_early,
                "minutes": round(trained, 2),
                **held_out_accuracy(model, held_out),
                **eval_printed(model, records),
            }
        )
    return rows


def tesseract_row(work: Path, set_name: str, seed: int) -> dict | None:
    """Tesseract on the held-out plates: eu cut at 64x256 for it, ar's crops as they are."""
    from plateocr.records import plate_key

    if not shutil.which("tesseract"):
        return None
    _, held_out = fold(work, set_name, seed)
    if set_name == "eu":  # the same crops (same file names), cut larger
        with open(labels_csv("eu", TESSERACT_SIZE), newline="", encoding="utf-8") as fh:
            larger = {Path(r["files"]).name: r["files"] for r in csv.DictReader(fh)}
        held_out = [(larger[Path(p).name], t) for p, t in held_out]

    def read(path: str) -> str:
        cmd = ["tesseract", path, "stdout", "--psm", "7", "-c", f"tessedit_char_whitelist={WHITELIST}"]
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"}).stdout
        return "".join(c for c in out.upper() if c in WHITELIST)

    with ThreadPoolExecutor(2) as pool:
        reads = list(pool.map(read, [p for p, _ in held_out]))
    wrong = [(t, r) for (_, t), r in zip(held_out, reads) if plate_key(t) != r]
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split()[:2]
    return {
        "row": " ".join(version),
        "plates": len(held_out),
        "held_out": 1 - len(wrong) / len(held_out),
        "wrong": wrong,
    }


# --- the run ----------------------------------------------------------------------------------


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, body = text.partition(":")
    settings: dict = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return name, settings


def run_child(job: dict, work: Path) -> list[dict]:
    """One job in its own process (its own TensorFlow graphs and peak memory)."""
    cmd = [sys.executable, __file__, "--work", str(work), "--child", json.dumps(job)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    found = [json.loads(line[4:]) for line in proc.stdout.splitlines() if line.startswith("ROW ")]
    if proc.returncode or not found:
        raise SystemExit(f"{job}: failed (exit {proc.returncode})")
    return found


def child(job: dict, work: Path) -> None:
    global KEEP_LABELS
    kind, set_name, seed = job["kind"], job["set"], job["seed"]
    KEEP_LABELS = bool(job.get("keep_labels"))
    if kind == "zero-shot":
        rows = zero_shot_rows(work, set_name, seed)
    elif kind == "tesseract":
        rows = [r for r in [tesseract_row(work, set_name, seed)] if r]
    else:
        rows = training_rows(work, set_name, seed, job["name"], job["settings"], job["stops"])
    for r in rows:
        print("ROW " + json.dumps({"set": set_name, "seed": seed, **r}), flush=True)


def mean(values: list[float]) -> str:
    return f"{sum(values) / len(values):.3f}" if values else "-"


def summary(results: list[dict], sets: list[str], select: bool):
    from rich.table import Table

    title = (
        "Held-out accuracy (a quarter of each set, never seen by tfrecords, training or any choice), "
        "full plates; mean and worst fold"
    )
    if select:
        title = "Recipe study: what `plateocr eval` printed (the records' test split); held-out columns hidden"
    table = Table(title=title)
    table.add_column("row")
    for s in sets:
        if not select:
            table.add_column(f"{s} mean", justify="right")
            table.add_column(f"{s} worst", justify="right")
            table.add_column(f"{s} 1 view", justify="right")
        table.add_column(f"{s} eval", justify="right")
        table.add_column(f"{s} eval 1 view", justify="right")
    table.add_column("folds", justify="right")
    names = list(dict.fromkeys(r["row"] for r in results))
    for name in names:
        cells, folds = [], set()
        for s in sets:
            mine = [r for r in results if r["row"] == name and r["set"] == s]
            folds.add(len(mine))
            scores = [r["held_out"] for r in mine]
            one_view = [r["held_out_one_view"] for r in mine if "held_out_one_view" in r]
            evals = [r["eval"] for r in mine if r.get("eval") is not None]
            evals_one_view = [r["eval_one_view"] for r in mine if r.get("eval_one_view") is not None]
            if not select:
                cells += [mean(scores), f"{min(scores):.3f}" if scores else "-", mean(one_view)]
            cells += [mean(evals), mean(evals_one_view)]
        table.add_row(name, *cells, "/".join(str(n) for n in sorted(folds)))
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="folds")
    ap.add_argument("--minutes", type=float, default=30.0, help="fine-tuning time per fold")
    ap.add_argument("--stops", type=float, nargs="*", default=[5.0, 15.0], help="also score at these minutes")
    ap.add_argument("--scratch", type=float, default=30.0, help="minutes of training from scratch")
    ap.add_argument("--no-scratch", action="store_true")
    ap.add_argument("--no-default", action="store_true", help="only the --variant rows")
    ap.add_argument("--variant", action="append", default=[], help="NAME:OPTION=VALUE,... (TrainOptions)")
    ap.add_argument("--select", action="store_true", help="hide the held-out columns (a recipe study)")
    ap.add_argument("--work", type=Path, default=ROOT / ".bench" / "accuracy")
    ap.add_argument("--fresh", action="store_true", help="measure again instead of reusing results.jsonl")
    ap.add_argument(
        "--keep-labels", action="store_true", help="records of tfrecords --keep-labels (a --work of its own)"
    )
    ap.add_argument("--json", type=Path, help="also write every fold's result here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.work.resolve()
    if args.child:
        return child(json.loads(args.child), work)

    from rich.console import Console

    stops = sorted({*(s for s in args.stops if s < args.minutes), args.minutes})
    folds = [(set_name, seed) for set_name in args.sets for seed in args.seeds]
    recipes = [] if args.no_default else [("fine-tuned", {})]
    recipes += [parse_variant(v) for v in args.variant]
    # the quick rows first, then each recipe over every fold, then from scratch: a run cut short
    # (or resumed later) has whole rows first
    jobs = []
    if not args.no_default:
        jobs += [{"kind": "zero-shot", "set": s, "seed": seed} for s, seed in folds]
        jobs += [{"kind": "tesseract", "set": s, "seed": seed} for s, seed in folds]
    for name, settings in recipes:
        jobs += [
            {"kind": "train", "set": s, "seed": seed, "name": name, "settings": settings, "stops": stops}
            for s, seed in folds
        ]
    if not args.no_default and not args.no_scratch:
        scratch = {"name": "from scratch", "settings": {"from_scratch": True}, "stops": [args.scratch]}
        jobs += [{"kind": "train", "set": s, "seed": seed, **scratch} for s, seed in folds]
    if args.keep_labels:
        jobs = [{**job, "keep_labels": True} for job in jobs]
    store = work / "results.jsonl"
    if args.fresh and store.exists():
        store.unlink()
    done = {}
    if store.exists():
        for line in store.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            done[json.dumps(entry["job"], sort_keys=True)] = entry["rows"]
    console = Console(stderr=True)
    results = []
    for i, job in enumerate(jobs, 1):
        key = json.dumps(job, sort_keys=True)
        if key not in done:
            console.print(f"[{i}/{len(jobs)}] {job['set']} seed {job['seed']}: {job.get('name', job['kind'])}")
            done[key] = run_child(job, work)
            work.mkdir(parents=True, exist_ok=True)
            with open(store, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"job": job, "rows": done[key]}) + "\n")
        results += done[key]
    Console(width=200).print(summary(results, args.sets, args.select))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
