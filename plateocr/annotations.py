"""Reading and checking the annotation CSV: `files,text,xmin,xmax,ymin,ymax`, one row per plate."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from plateocr.errors import PlateOCRError
from plateocr.problems import Problem

COLUMNS = ("files", "text", "xmin", "xmax", "ymin", "ymax")
BOX_COLUMNS = ("xmin", "xmax", "ymin", "ymax")


@dataclass(frozen=True)
class Annotation:
    line: int  # 1-based line in the CSV (the header is line 1)
    file: str  # photo file name as written in the CSV
    text: str  # plate text, surrounding whitespace removed
    box: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax in pixels


def read_csv_strings(path: str | os.PathLike, required: tuple[str, ...]) -> pd.DataFrame:
    """A CSV as strings (no NaN guessing), checked for the required columns."""
    path = Path(path)
    if not path.is_file():
        raise PlateOCRError(f"{path}: file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise PlateOCRError(f"{path}: the file is empty (expected columns {','.join(required)})") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        msg = str(e).strip().splitlines()[0]
        raise PlateOCRError(f"{path}: not a readable CSV ({msg})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise PlateOCRError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(expected {','.join(required)}; found {','.join(df.columns)})"
        )
    return df


def read_annotations(path: str | os.PathLike) -> tuple[list[Annotation], list[Problem]]:
    """Good rows, and the rows skipped with why. Photo-dependent checks happen when cropping."""
    df = read_csv_strings(path, COLUMNS)
    source = str(path)
    good: list[Annotation] = []
    problems: list[Problem] = []
    for i, row in enumerate(df.itertuples(index=False)):
        line = i + 2
        rec = row._asdict()
        file = rec["files"].strip()
        text = rec["text"].strip()
        if not file:
            problems.append(Problem(source, line, "", "no image file named"))
            continue
        if not text:
            problems.append(Problem(source, line, file, "empty text"))
            continue
        box, bad = [], None
        for col in BOX_COLUMNS:
            raw = rec[col].strip()
            try:
                v = float(raw)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                bad = f"{col} {raw!r} is not a number"
                break
            box.append(v)
        if bad:
            problems.append(Problem(source, line, file, bad))
            continue
        xmin, xmax, ymin, ymax = box
        if xmax <= xmin or ymax <= ymin:
            problems.append(
                Problem(source, line, file, f"degenerate box: x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g}")
            )
            continue
        good.append(Annotation(line, file, text, (xmin, xmax, ymin, ymax)))
    return good, problems
