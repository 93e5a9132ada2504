"""Accuracy on real plates: the bundled base model zero-shot, fine-tuned, from scratch, Tesseract.

One run on ../shared/realplates/eu (real photos; read in place, never copied): crop and
tfrecords once (fixed seed, 83/17 split, the base model's charset and max length, so every row
scores the same test plates), then one table:

- base model, zero-shot: the bundled model (synthetic plates only) on the test split;
- fine-tuned: `plateocr train` defaults (which start from the base model) for --minutes of CPU,
  scored at each of --stops minutes on the way (one run, resumed between stops). Rows score the
  checkpoint `predict` reads (best/ of the default early stopping, else the latest; "scored
  step"), with the latest checkpoint's test score beside it; an early-stopped run trains no more;
- from scratch: the same defaults with --from-scratch, for --minutes;
- Tesseract 5 (`--psm 7`, A-Z0-9) on the same test plates, cropped at 64x256 for it (it needs
  larger characters than the model's 32x128 input);
- "test seq O=0" is the sequence accuracy if the letter O and the digit 0 were one character:
  real plate sets are often labelled with the wrong one (eu has five), so it tells label noise
  from misreading. It is never the score;
- with --compare, the upstream-like baseline (200x200 stretched crops, momentum 0.004, batch 32,
  batch-norm decay 0.9997, no coordinates, from scratch).

    /work/venv/bin/python benchmarks/accuracy.py --minutes 30 --stops 5 15   # the full protocol
    /work/venv/bin/python benchmarks/accuracy.py --minutes 3 --stops 1       # a quick check

--variant NAME:KEY=VALUE,... adds rows with other training options or model settings (keys of
TrainOptions or ModelConfig, plus size=HxW, keep_aspect=true/false, from_scratch=true), e.g.
    --variant lr3e-4:learning_rate=0.0003
--base DIR starts fine-tuning (and the zero-shot row) from another model dir than the bundled one.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plateocr import defaults  # noqa: E402

DATA = ROOT.parent / "shared" / "realplates" / "eu"

# The upstream tutorial's protocol and the reference's training defaults.
BASELINE = {
    "size": (200, 200),
    "keep_aspect": False,
    "optimizer": "momentum",
    "learning_rate": 0.004,
    "batch_size": 32,
    "augment": True,
    "batch_norm_decay": 0.9997,
    "use_coordinates": False,
    "final_endpoint": "Mixed_5d",
    "from_scratch": True,
}
MAX_LENGTH = 10  # the base model's
TESSERACT_SIZE = (64, 256)
WHITELIST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, body = text.partition(":")
    settings: dict = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        if key == "size":
            h, w = value.lower().split("x")
            settings[key] = (int(h), int(w))
        elif value.lower() in ("true", "false"):
            settings[key] = value.lower() == "true"
        else:
            try:
                settings[key] = json.loads(value)
            except json.JSONDecodeError:
                settings[key] = value
    return name, settings


def prepare_data(
    work: Path, data: Path, seed: int, size: tuple[int, int], keep_aspect: bool, base: Path | None
) -> Path:
    """Crops and records of `data` at `size` under work/data-HxW-...; returns the records folder.
    With a base model the records use its charset (so it can be scored zero-shot)."""
    from plateocr.cropping import crop_annotations
    from plateocr.records import RecordsOptions, write_records

    folder = work / f"data-{size[0]}x{size[1]}-{'keep' if keep_aspect else 'stretch'}-seed{seed}"
    records = folder / "records"
    if (records / defaults.SPEC_FILE).is_file():
        return records
    crop_annotations(data / "annot.csv", out_dir=folder / "crops", size=size, keep_aspect=keep_aspect, force=True)
    charset = base / defaults.CHARSET_FILE if base else None
    write_records(
        folder / "crops",
        records,
        RecordsOptions(split=0.83, seed=seed, charset_file=charset, max_length=MAX_LENGTH),
        force=True,
    )
    return records


def run_one(
    name: str, settings: dict, work: Path, minutes: float, stops: list[float], seed: int, data: Path, base: Path | None
) -> list[dict]:
    """Train one configuration for `minutes` (scored at each stop); one row per stop."""
    from plateocr.model.config import ModelConfig
    from plateocr.training.evaluate import evaluate
    from plateocr.training.loop import train
    from plateocr.training.options import TrainOptions

    settings = dict(settings)
    size = tuple(settings.pop("size", defaults.CROP_SIZE))
    keep_aspect = settings.pop("keep_aspect", defaults.KEEP_ASPECT)
    from_scratch = bool(settings.pop("from_scratch", False)) or base is None
    option_names = {f.name for f in fields(TrainOptions)}
    options = {k: v for k, v in settings.items() if k in option_names}
    model = {k: v for k, v in settings.items() if k not in option_names}
    unknown = set(model) - {f.name for f in fields(ModelConfig)}
    if unknown:
        raise SystemExit(f"variant {name}: unknown setting(s) {', '.join(sorted(unknown))}")

    records = prepare_data(work, data, seed, size, keep_aspect, base)
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    rows, trained, steps_s, result = [], 0.0, 0.0, None
    for stop in sorted({*[m for m in stops if m < minutes], minutes}):
        if result is None or not result.stopped_early:  # an early-stopped run is done
            t0 = time.monotonic()
            result = train(
                records,
                folder / "model",
                {"steps": 10**7, "seed": seed, "save_every_secs": 10**9, **options},
                config_overrides=model,
                time_limit=(stop - trained) * 60,
                checkpoint=None if from_scratch else base,
                from_scratch=from_scratch,
            )
            trained += (time.monotonic() - t0) / 60
            steps_s += result.seconds
        # What predict would read: best/ (chosen on the val split) when early stopping kept one.
        test = evaluate(folder / "model", split="test")
        seen = evaluate(folder / "model", split="train")
        latest = evaluate(folder / "model", split="test", checkpoint="latest")
        rows.append(
            {
                "name": name if stop == minutes else f"{name} @{stop:g}",
                "start": "scratch" if from_scratch else "base",
                "input": f"{size[0]}x{size[1]} {'keep aspect' if keep_aspect else 'stretch'}",
                "training": f"{result.options.optimizer} {result.options.learning_rate:g} b{result.options.batch_size}",
                "steps": result.last_step,
                "scored_step": test.step,
                "early_stop": result.stopped_early,
                "train_minutes": round(trained, 2),
                "s_per_step": round(steps_s / max(1, result.last_step), 3),
                "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30, 2),
                "test_examples": test.num_examples,
                "test_sequence_accuracy": test.sequence_accuracy,
                "test_character_accuracy": test.character_accuracy,
                "test_sequence_accuracy_o_is_0": test.sequence_accuracy_o_is_0,
                "train_sequence_accuracy": seen.sequence_accuracy,
                "train_character_accuracy": seen.character_accuracy,
                "latest_test_sequence_accuracy": latest.sequence_accuracy,
            }
        )
    return rows


def zero_shot(work: Path, data: Path, seed: int, base: Path) -> dict:
    from plateocr.training.evaluate import evaluate
    from plateocr.model.modeldir import ModelDir

    spec = ModelDir(base).spec
    records = prepare_data(work, data, seed, (spec.height, spec.width), spec.keep_aspect, base)
    test = evaluate(base, records, split="test")
    return {
        "name": "base model, zero-shot",
        "start": "base",
        "input": f"{spec.height}x{spec.width}",
        "training": "none (synthetic plates only)",
        "steps": test.step,
        "train_minutes": 0.0,
        "test_examples": test.num_examples,
        "test_sequence_accuracy": test.sequence_accuracy,
        "test_character_accuracy": test.character_accuracy,
        "test_sequence_accuracy_o_is_0": test.sequence_accuracy_o_is_0,
    }


def text_counts(truth: str, read: str):
    """plateocr's character/sequence counts for one reading (plateocr.model.metrics)."""
    from plateocr.charset import Charset
    from plateocr.model.metrics import accuracy_counts

    charset = Charset.from_texts([truth, read])
    n = max(len(truth), len(read)) + 1
    ids = lambda t: [charset.pad(charset.encode(t), n)]  # noqa: E731
    return accuracy_counts(ids(read), ids(truth), charset.null_code)


def tesseract_row(work: Path, data: Path, seed: int, records: Path) -> dict | None:
    """Tesseract on the test split's plates (the records' test texts), cropped at 64x256."""
    from concurrent.futures import ThreadPoolExecutor

    from plateocr.cropping import crop_annotations
    from plateocr.demo import crops_with_texts
    from plateocr.model.metrics import AccuracyCounts
    from plateocr.records import locate_crops, read_rows, split_rows

    if not shutil.which("tesseract"):
        return None
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    rows, _ = read_rows(locate_crops(records.parent / "crops"))
    _, test = split_rows(rows, 0.83, seed)  # as write_records split off test (same rows, same seed)
    crops = crop_annotations(data / "annot.csv", out_dir=work / "tesseract-crops", size=TESSERACT_SIZE, force=True)
    labelled = crops_with_texts(crops.manifest, {r.text for r in test})

    def read(path: Path) -> str:
        cmd = ["tesseract", str(path), "stdout", "--psm", "7", "-c", f"tessedit_char_whitelist={WHITELIST}"]
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        return "".join(c for c in out if c in WHITELIST)

    with ThreadPoolExecutor(2) as pool:
        reads = list(pool.map(read, [p for p, _ in labelled]))
    counts = sum((text_counts(t, r) for (_, t), r in zip(labelled, reads)), AccuracyCounts())
    return {
        "name": version,
        "start": "-",
        "input": f"{TESSERACT_SIZE[0]}x{TESSERACT_SIZE[1]} stretch",
        "training": "none (--psm 7, A-Z0-9)",
        "steps": None,
        "train_minutes": 0.0,
        "test_examples": len(labelled),
        "test_sequence_accuracy": counts.sequence_accuracy,
        "test_character_accuracy": counts.char_accuracy,
    }


def main() -> None:
    from plateocr.base_model import bundled_base_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="training time per configuration")
    ap.add_argument("--stops", type=float, nargs="*", default=[5.0, 15.0], help="also score at these minutes")
    ap.add_argument("--compare", action="store_true", help="also run the upstream-like baseline")
    ap.add_argument("--variant", action="append", default=[], help="NAME:KEY=VALUE,... (repeatable)")
    ap.add_argument(
        "--no-default", action="store_true", help="only the variants (no zero-shot/fine-tune/scratch/Tesseract)"
    )
    ap.add_argument("--no-scratch", action="store_true", help="skip the from-scratch row")
    ap.add_argument("--base", type=Path, default=None, help="model dir to start from (default: the bundled base model)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DATA, help="folder with annot.csv and images/")
    ap.add_argument("--work", type=Path, default=Path("/tmp/plateocr-accuracy"), help="scratch folder")
    ap.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # one configuration, in its own process
    args = ap.parse_args()
    base = args.base.resolve() if args.base else bundled_base_model()
    if args.child:
        name, settings = json.loads(args.child)
        for row in run_one(name, settings, args.work, args.minutes, args.stops, args.seed, args.data, base):
            print("ROW " + json.dumps(row), flush=True)
        return
    if not (args.data / "annot.csv").is_file():
        raise SystemExit(f"{args.data}: no annot.csv (the real plates live in ../shared/realplates/eu)")
    if base is None:
        print("no base model (bundled or --base): fine-tuning rows start from scratch", file=sys.stderr)

    rows = []
    configs = []
    if not args.no_default:
        if base is not None:
            rows.append(zero_shot(args.work, args.data, args.seed, base))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        configs.append(("fine-tuned" if base else "plateocr", {}))
        if base is not None and not args.no_scratch:
            configs.append(("from scratch", {"from_scratch": True}))
    if args.compare:
        configs.append(("baseline", BASELINE))
    configs += [parse_variant(v) for v in args.variant]
    for name, settings in configs:
        print(f"== {name}: {args.minutes:g} min of training", file=sys.stderr, flush=True)
        # Each configuration in its own process, so its peak memory is its own.
        cmd = [
            sys.executable,
            __file__,
            "--child",
            json.dumps([name, settings]),
            "--minutes",
            str(args.minutes),
            "--stops",
            *map(str, args.stops),
            "--seed",
            str(args.seed),
            "--data",
            str(args.data),
            "--work",
            str(args.work),
        ] + (["--base", str(base)] if base else [])
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        found = [json.loads(line[4:]) for line in proc.stdout.splitlines() if line.startswith("ROW ")]
        if proc.returncode or not found:
            raise SystemExit(f"configuration {name} failed (exit {proc.returncode})")
        rows += found
        for r in found:
            print(json.dumps(r), file=sys.stderr, flush=True)
    if not args.no_default:
        spec_size = defaults.CROP_SIZE
        records = prepare_data(args.work, args.data, args.seed, spec_size, defaults.KEEP_ASPECT, base)
        row = tesseract_row(args.work, args.data, args.seed, records)
        if row:
            rows.append(row)

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Real EU plates ({args.data.name}), 83/17 split seed {args.seed}, 2 CPU cores")
    cols = [
        "config",
        "start",
        "input",
        "training",
        "steps",
        "scored step",
        "train min",
        "test seq",
        "test char",
        "test seq O=0",
        "train seq",
        "train char",
        "latest test seq",
        "peak GiB",
    ]
    for c in cols:
        table.add_column(c, justify="left" if c in ("config", "start", "input", "training") else "right")

    def f(r, key, fmt="{:.3f}"):
        return fmt.format(r[key]) if r.get(key) is not None else "-"

    for r in rows:
        steps = f(r, "steps", "{}") + (" (early stop)" if r.get("early_stop") else "")
        table.add_row(
            r["name"],
            r["start"],
            r["input"],
            r["training"],
            steps,
            f(r, "scored_step", "{}"),
            f(r, "train_minutes", "{:.1f}"),
            f(r, "test_sequence_accuracy"),
            f(r, "test_character_accuracy"),
            f(r, "test_sequence_accuracy_o_is_0"),
            f(r, "train_sequence_accuracy"),
            f(r, "train_character_accuracy"),
            f(r, "latest_test_sequence_accuracy"),
            f(r, "peak_rss_gib", "{:.2f}"),
        )
    Console(width=180).print(table)
    print(f"test plates: {rows[0]['test_examples'] if rows else 0}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
