"""Format-aware reading on the real plate sets: what the formats of a training part fix.

For ../shared/realplates/eu (photos, cut as `plateocr crop` cuts them) and ../shared/realplates/ar
(crops), read in place: records with a seeded 83/17 split (`plateocr tfrecords --split 0.83
--seed S`, the bundled base model's charset and max length; one plate text never in both parts).
The formats are learned from the train part's labels (what `plateocr train` writes into the
model folder) and the test part is read as `eval` reads it, five views, with `--formats off`
and with the learned formats:

- zero-shot: the bundled base model, for every seed given (--seeds);
- fine-tuned: `plateocr train` from the bundled base model on the train part for --steps steps
  (no --eval-every: nothing is chosen on the test part), for the first seed; its model folder's
  formats.json is the one `train` learned, read with `--formats auto`.

Nothing is tuned here: the formats file's defaults (unseen 0.05, weight 1) are used as written.
Columns: test plates, sequence accuracy off -> on, character accuracy off -> on, and the plates
the formats changed: fixed (truth: read without -> read with) and broken.

    python benchmarks/formats.py                        # seeds 0 1 2 zero-shot, seed 0 fine-tuned
    python benchmarks/formats.py --no-finetune --seeds 0 1 2 3 4 5
    python benchmarks/formats.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from realplates import BENCH, labels_csv  # noqa: E402

WORK = BENCH / "formats"
MAX_LENGTH = 10  # the bundled base model's


def records(set_name: str, seed: int) -> Path:
    from plateocr.base_model import BASE_MODEL_DIR
    from plateocr.defaults import CHARSET_FILE, SPEC_FILE
    from plateocr.records import RecordsOptions, write_records

    out = WORK / set_name / f"records-seed{seed}"
    if not (out / SPEC_FILE).is_file():
        options = RecordsOptions(
            split=0.83, seed=seed, charset_file=BASE_MODEL_DIR / CHARSET_FILE, max_length=MAX_LENGTH
        )
        write_records(labels_csv(set_name), out, options, force=True)
    return out


def compare(off, on) -> dict:
    """Scores of two eval results on the same plates, and the plates whose reading changed."""
    truths = [e.truth for e in off.examples]
    fixed = [
        (t, a.prediction, b.prediction)
        for t, a, b in zip(truths, off.examples, on.examples)
        if not a.correct and b.correct
    ]
    broken = [
        (t, a.prediction, b.prediction)
        for t, a, b in zip(truths, off.examples, on.examples)
        if a.correct and not b.correct
    ]
    # the confusions fixed: truth>misread character, where the misreading had the right length
    pairs = Counter(f"{c}>{r}" for t, r, _ in fixed if len(t) == len(r) for c, r in zip(t, r) if c != r)
    return {
        "plates": len(truths),
        "sequence": [round(off.sequence_accuracy, 4), round(on.sequence_accuracy, 4)],
        "character": [round(off.character_accuracy, 4), round(on.character_accuracy, 4)],
        "fixed": fixed,
        "broken": broken,
        "fixed_confusions": pairs.most_common(),
    }


def read_both(model_dir, records_dir: Path, formats) -> dict:
    from plateocr.training.evaluate import evaluate

    off = evaluate(model_dir, records_dir, "test", formats="off")
    on = evaluate(model_dir, records_dir, "test", formats=formats)
    return compare(off, on)


def fine_tune(records_dir: Path, model_dir: Path, steps: int) -> Path:
    from plateocr.model.modeldir import ModelDir
    from plateocr.training.loop import train

    if not (
        ModelDir.exists(model_dir)
        and ModelDir(model_dir).latest_checkpoint()
        and ModelDir(model_dir).latest_checkpoint().endswith(f"-{steps}")
    ):
        train(records_dir, model_dir, {"steps": steps, "eval_every": 0, "seed": 0}, force=True)
    return model_dir


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="splits to read zero-shot")
    p.add_argument("--steps", type=int, default=500, help="fine-tuning steps (first seed)")
    p.add_argument("--no-finetune", action="store_true", help="zero-shot rows only")
    p.add_argument("--sets", nargs="+", default=["eu", "ar"])
    p.add_argument("--json", type=Path, help="also write the figures and every changed reading here")
    args = p.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from plateocr.base_model import BASE_MODEL_DIR
    from plateocr.formats import FORMATS_FILE, Formats
    from plateocr.training.data import split_texts
    from plateocr.spec import DatasetSpec

    rows = []
    for set_name in args.sets:
        for i, seed in enumerate(args.seeds):
            rec = records(set_name, seed)
            formats = Formats.learn(split_texts(rec, DatasetSpec.read(rec), "train"), source=f"{set_name} train part")
            rows.append(
                {
                    "set": set_name,
                    "seed": seed,
                    "model": "zero-shot",
                    "formats": str(len(formats.counts)),
                    **read_both(BASE_MODEL_DIR, rec, formats),
                }
            )
            if i == 0 and not args.no_finetune:
                model = fine_tune(rec, WORK / set_name / f"model-seed{seed}-{args.steps}", args.steps)
                rows.append(
                    {
                        "set": set_name,
                        "seed": seed,
                        "model": f"fine-tuned {args.steps} steps",
                        "formats": str(len(Formats.read(model / FORMATS_FILE).counts)),
                        **read_both(model, rec, "auto"),
                    }
                )
            Console(stderr=True).print(f"{set_name} seed {seed}: done")

    table = Table(title="format-aware reading: test part (17%), formats learned from the train part (83%)")
    for col in ("set", "seed", "model", "formats", "plates", "seq off -> on", "char off -> on", "fixed", "broken"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["set"],
            str(r["seed"]),
            r["model"],
            r["formats"],
            str(r["plates"]),
            f"{r['sequence'][0]:.3f} -> {r['sequence'][1]:.3f}",
            f"{r['character'][0]:.3f} -> {r['character'][1]:.3f}",
            str(len(r["fixed"])),
            str(len(r["broken"])),
        )
    Console(width=130).print(table)
    for r in rows:
        for kind in ("fixed", "broken"):
            if r[kind]:
                shown = ", ".join(f"{t} (read {a} -> {b})" for t, a, b in r[kind])
                print(f"{r['set']} seed {r['seed']} {r['model']}: {kind} {shown}")
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        n = sum(r["plates"] for r in mine)
        off = sum(r["sequence"][0] * r["plates"] for r in mine)
        on = sum(r["sequence"][1] * r["plates"] for r in mine)
        pairs = sum((Counter(dict(r["fixed_confusions"])) for r in mine), Counter())
        print(
            f"{model}: {n} test readings, {round(off)} -> {round(on)} right; "
            f"confusions fixed: {' '.join(f'{k}x{v}' for k, v in pairs.most_common()) or '-'}; "
            f"broken: {sum(len(r['broken']) for r in mine)}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
