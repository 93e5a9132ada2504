"""Reading and checking the annotation CSV: `files,text,xmin,xmax,ymin,ymax`, one row per plate."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

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


def _check_columns(path: Path, found: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in found]
    if missing:
        raise PlateOCRError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(expected {','.join(required)}; found {','.join(found)})"
        )


def read_csv_records(
    path: str | os.PathLike, required: tuple[str, ...]
) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """Rows of a CSV as (line, {column: text}) with their exact 1-based line in the file (blank
    lines are skipped but counted), checked for the required columns; rows whose number of fields
    differs from the header's are returned as problems, not silently shifted."""
    path = Path(path)
    if not path.is_file():
        raise PlateOCRError(f"{path}: file not found")
    records: list[tuple[int, dict[str, str]]] = []
    problems: list[Problem] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, skipinitialspace=True)
            header = next(reader, None)
            if not header:
                raise PlateOCRError(f"{path}: the file is empty (expected columns {','.join(required)})")
            header = [c.strip() for c in header]
            _check_columns(path, header, required)
            end = reader.line_num
            for fields in reader:
                line, end = end + 1, reader.line_num  # a quoted field may span lines
                if not any(f.strip() for f in fields):
                    continue
                if len(fields) != len(header):
                    problems.append(
                        Problem(str(path), line, fields[0].strip(), f"{len(fields)} fields, the header has {len(header)}")
                    )
                    continue
                records.append((line, dict(zip(header, fields))))
    except (csv.Error, UnicodeDecodeError) as e:
        msg = str(e).strip().splitlines()[0]
        raise PlateOCRError(f"{path}: not a readable CSV ({msg})") from None
    return records, problems


def read_annotations(path: str | os.PathLike) -> tuple[list[Annotation], list[Problem]]:
    """Good rows, and the rows skipped with why. Photo-dependent checks happen when cropping."""
    records, problems = read_csv_records(path, COLUMNS)
    source = str(path)
    good: list[Annotation] = []
    for line, rec in records:
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
    problems.sort(key=lambda p: p.line)
    return good, problems
