"""Zero-shot accuracy on both real development sets, for base models side by side in one run.

Every renderer or base-model change is judged here on ../shared/realplates/eu (108 photos, cut
as `plateocr crop` cuts them) and ../shared/realplates/ar (147 crops) together, all plates,
read as `plateocr predict` reads by default (five views; --no-tta for one), never on one set.

    python benchmarks/zero_shot.py                              # the bundled base model
    python benchmarks/zero_shot.py --model new=../base_v8/model # beside the bundled one
    python benchmarks/zero_shot.py --json out.json

Columns: full-sequence accuracy, character accuracy (per position, as `eval`), "O=0" (sequence
accuracy when the letter O and the digit 0 count as one: label noise against misreading) and
the most common character confusions (truth>read) over the plates whose reading has the right
length.
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

from realplates import labelled_crops  # noqa: E402


def score(texts: list[str], truths: list[str]) -> dict:
    from plateocr.model.metrics import differs_only_in_o_and_0

    seq = sum(t == r for t, r in zip(truths, texts)) / len(truths)
    o0 = sum(t == r or differs_only_in_o_and_0(t, r) for t, r in zip(truths, texts)) / len(truths)
    chars = sum(max(len(t), len(r)) for t, r in zip(truths, texts))
    right = sum(a == b for t, r in zip(truths, texts) for a, b in zip(t, r))
    confusions = Counter(f"{a}>{b}" for t, r in zip(truths, texts) if len(t) == len(r) for a, b in zip(t, r) if a != b)
    return {
        "plates": len(truths),
        "sequence_accuracy": round(seq, 4),
        "character_accuracy": round(right / chars, 4),
        "o_equals_0": round(o0, 4),
        "confusions": confusions.most_common(6),
        "wrong": [(t, r) for t, r in zip(truths, texts) if t != r],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a model dir to score beside the bundled base model (repeatable)",
    )
    p.add_argument("--no-bundled", action="store_true", help="leave the bundled base model out")
    p.add_argument("--no-tta", action="store_true", help="read one view (predict --no-tta)")
    p.add_argument("--json", type=Path, help="also write the figures (and every wrong reading) here")
    args = p.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from plateocr.base_model import BASE_MODEL_DIR
    from plateocr.inference.reader import PlateReader

    models = [] if args.no_bundled else [("bundled", BASE_MODEL_DIR)]
    models += [tuple(m.split("=", 1)) if "=" in m else (Path(m).name, m) for m in args.model]
    sets = {name: labelled_crops(name) for name in ("eu", "ar")}
    results: dict = {}
    for name, model_dir in models:
        with PlateReader(model_dir, tta=not args.no_tta) as reader:
            for set_name, (paths, truths) in sets.items():
                texts = [r.text for r in reader.read_batch(paths)]
                results.setdefault(name, {})[set_name] = score(texts, truths)
    table = Table(title=f"zero-shot, all plates, read {'one view' if args.no_tta else 'five views'}")
    for col in ("model", "set", "plates", "seq", "char", "O=0", "top confusions (truth>read)"):
        table.add_column(col, justify="left" if col in ("model", "set", "top confusions (truth>read)") else "right")
    for name, per_set in results.items():
        for set_name, r in per_set.items():
            table.add_row(
                name,
                set_name,
                str(r["plates"]),
                f"{r['sequence_accuracy']:.3f}",
                f"{r['character_accuracy']:.3f}",
                f"{r['o_equals_0']:.3f}",
                " ".join(f"{c}x{n}" for c, n in r["confusions"]),
            )
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
