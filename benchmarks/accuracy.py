"""Accuracy of the whole pipeline on real plates within a fixed CPU training budget.

crop -> tfrecords (fixed seed, 83/17 split) -> train for --minutes -> eval, on
../shared/realplates/eu (real photos; read in place, never copied). Prints the test split's
full-sequence and character accuracy, the training split's (memorisation shows there), steps
and training minutes for plateocr's defaults and, with --compare, for the upstream-like baseline
measured in the same run: the tutorial's 200x200 stretched crops and the reference defaults
(momentum 0.9, learning rate 0.004, batch 32, batch-norm decay 0.9997, no coordinates).

    /work/venv/bin/python benchmarks/accuracy.py --minutes 30 --compare   # the full protocol
    /work/venv/bin/python benchmarks/accuracy.py --minutes 3              # a quick check

--variant NAME:KEY=VALUE,... adds rows with other training options or model settings (keys of
TrainOptions or ModelConfig, plus size=HxW and keep_aspect=true/false), e.g.
    --variant momentum:optimizer=momentum,learning_rate=0.004
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
}


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


def run_one(name: str, settings: dict, work: Path, minutes: float, seed: int, data: Path) -> dict:
    from plateocr.cropping import crop_annotations
    from plateocr.model.config import ModelConfig
    from plateocr.model.evaluate import evaluate
    from plateocr.model.train import TrainOptions, train
    from plateocr.records import RecordsOptions, write_records

    settings = dict(settings)
    size = tuple(settings.pop("size", defaults.CROP_SIZE))
    keep_aspect = settings.pop("keep_aspect", defaults.KEEP_ASPECT)
    option_names = {f.name for f in fields(TrainOptions)}
    options = {k: v for k, v in settings.items() if k in option_names}
    model = {k: v for k, v in settings.items() if k not in option_names}
    unknown = set(model) - {f.name for f in fields(ModelConfig)}
    if unknown:
        raise SystemExit(f"variant {name}: unknown setting(s) {', '.join(sorted(unknown))}")

    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    crop_annotations(data / "annot.csv", out_dir=folder / "crops", size=size, keep_aspect=keep_aspect)
    write_records(folder / "crops", folder / "records", RecordsOptions(split=0.83, seed=seed))
    t0 = time.monotonic()
    result = train(
        folder / "records",
        folder / "model",
        {"steps": 10**7, "seed": seed, "save_every_secs": 10**9, **options},
        config_overrides=model,
        time_limit=minutes * 60,
    )
    train_minutes = (time.monotonic() - t0) / 60
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # training's (Linux: kB)
    test = evaluate(folder / "model", split="test", checkpoint="latest")
    seen = evaluate(folder / "model", split="train", checkpoint="latest")
    return {
        "name": name,
        "input": f"{size[0]}x{size[1]} {'keep aspect' if keep_aspect else 'stretch'}",
        "training": f"{result.options.optimizer} {result.options.learning_rate:g} b{result.options.batch_size}",
        "steps": result.last_step,
        "train_minutes": round(train_minutes, 2),
        "s_per_step": round(result.seconds / max(1, result.last_step), 3),
        "final_loss": result.final_loss,
        "first_step_s": round(result.first_step_seconds or 0.0, 2),
        "peak_rss_gib": round(peak_rss / 2**30, 2),
        "test_examples": test.num_examples,
        "test_sequence_accuracy": test.sequence_accuracy,
        "test_character_accuracy": test.character_accuracy,
        "train_sequence_accuracy": seen.sequence_accuracy,
        "train_character_accuracy": seen.character_accuracy,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="training time per configuration")
    ap.add_argument("--compare", action="store_true", help="also run the upstream-like baseline")
    ap.add_argument("--variant", action="append", default=[], help="NAME:KEY=VALUE,... (repeatable)")
    ap.add_argument("--no-default", action="store_true", help="skip plateocr's defaults (variants only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DATA, help="folder with annot.csv and images/")
    ap.add_argument("--work", type=Path, default=Path("/tmp/plateocr-accuracy"), help="scratch folder")
    ap.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # one configuration, in its own process
    args = ap.parse_args()
    if args.child:
        name, settings = json.loads(args.child)
        row = run_one(name, settings, args.work, args.minutes, args.seed, args.data)
        print("ROW " + json.dumps(row), flush=True)
        return
    if not (args.data / "annot.csv").is_file():
        raise SystemExit(f"{args.data}: no annot.csv (the real plates live in ../shared/realplates/eu)")

    configs = [] if args.no_default else [("plateocr", {})]
    if args.compare:
        configs.append(("baseline", BASELINE))
    configs += [parse_variant(v) for v in args.variant]
    rows = []
    for name, settings in configs:
        print(f"== {name}: {args.minutes:g} min of training", file=sys.stderr, flush=True)
        # Each configuration in its own process, so its peak memory is its own.
        cmd = [sys.executable, __file__, "--child", json.dumps([name, settings]), "--minutes", str(args.minutes),
               "--seed", str(args.seed), "--data", str(args.data), "--work", str(args.work)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        found = [line[4:] for line in proc.stdout.splitlines() if line.startswith("ROW ")]
        if proc.returncode or not found:
            raise SystemExit(f"configuration {name} failed (exit {proc.returncode})")
        rows.append(json.loads(found[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Real EU plates ({args.data.name}), {args.minutes:g} min CPU training each, seed {args.seed}")
    cols = ["config", "input", "training", "steps", "min", "s/step", "1st step s", "peak GiB",
            "test seq", "test char", "train seq", "train char"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("config", "input", "training") else "right")
    base = next((r for r in rows if r["name"] == "baseline"), None)
    for r in rows:
        table.add_row(
            r["name"], r["input"], r["training"], str(r["steps"]), f"{r['train_minutes']:.1f}", f"{r['s_per_step']:.2f}",
            f"{r['first_step_s']:.1f}", f"{r['peak_rss_gib']:.2f}",
            f"{r['test_sequence_accuracy']:.3f}", f"{r['test_character_accuracy']:.3f}",
            f"{r['train_sequence_accuracy']:.3f}", f"{r['train_character_accuracy']:.3f}",
        )
    Console(width=160).print(table)
    if base is not None:
        for r in rows:
            if r is not base:
                d = r["test_character_accuracy"] - base["test_character_accuracy"]
                print(f"{r['name']} vs baseline: test character accuracy {d:+.3f}, "
                      f"sequence accuracy {r['test_sequence_accuracy'] - base['test_sequence_accuracy']:+.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
