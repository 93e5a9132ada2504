"""The real development plate sets of ../shared/realplates, read in place (never copied into the
repository): eu (108 photos with an annotation CSV, cut once into .bench/ as `plateocr crop` cuts
them) and ar (147 ready-made crops). One labels CSV per set with absolute crop paths."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "realplates"
BENCH = ROOT / ".bench"
SETS = ("eu", "ar")


def labels_csv(set_name: str, size: tuple[int, int] | None = None) -> Path:
    """A files,text,source CSV of the set's crops with absolute paths. eu's photos are cut at
    `size` (default: crop's own), once, into .bench/realplates/; ar's crops are used as they are."""
    if set_name not in SETS:
        raise SystemExit(f"{set_name}: not a real plate set ({', '.join(SETS)})")
    tag = f"-{size[0]}x{size[1]}" if size else ""
    out = BENCH / "realplates" / f"{set_name}{tag}" / "labels.csv"
    if out.is_file():
        return out
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED}: the shared real plates are not beside the project")
    if set_name == "eu":
        from plateocr.cropping import crop_annotations

        crops = out.parent / "crops"
        options = {"size": size} if size else {}
        crop_annotations(SHARED / "eu" / "annot.csv", SHARED / "eu" / "images", crops, force=True, **options)
        folder, source = crops, crops / "labels.csv"
    else:
        folder, source = SHARED / set_name / "images", SHARED / set_name / "labels.csv"
    with open(source, newline="", encoding="utf-8") as fh:
        rows = [(str((folder / r["files"]).resolve()), r["text"], r.get("source", "")) for r in csv.DictReader(fh)]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["files", "text", "source"])
        w.writerows(rows)
    tmp.replace(out)
    return out


def labelled_crops(set_name: str) -> tuple[list[Path], list[str]]:
    """The set's crop paths and their label texts."""
    with open(labels_csv(set_name), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [Path(r["files"]) for r in rows], [r["text"] for r in rows]
