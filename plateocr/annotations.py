"""Reading and checking the annotation CSV: `files,text,xmin,xmax,ymin,ymax`, one row per plate."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

from plateocr.charset import text_problem
from plateocr.errors import PlateOCRError, path_problem
from plateocr.problems import Problem

COLUMNS = ("files", "text", "xmin", "xmax", "ymin", "ymax")
BOX_COLUMNS = ("xmin", "xmax", "ymin", "ymax")
# Boxes whose four values all lie in this range are 0-1 fractions of the photo's size (a common
# export format): in pixels such a box would be at most 1x1, never a plate.
FRACTION_RANGE = (-0.05, 1.05)


@dataclass(frozen=True)
class Annotation:
    line: int  # 1-based line in the CSV (the header is line 1)
    file: str  # photo file name as written in the CSV
    text: str  # plate text, surrounding whitespace removed
    box: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax: pixels, or fractions (below)
    fractions: bool = False  # box in 0-1 fractions of the photo's width and height

    def pixel_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The box in pixels of a width x height photo."""
        if not self.fractions:
            return self.box
        xmin, xmax, ymin, ymax = self.box
        return xmin * width, xmax * width, ymin * height, ymax * height


def _in_fractions(box) -> bool:
    lo, hi = FRACTION_RANGE
    return all(lo <= v <= hi for v in box)


def _check_columns(path: Path, found: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in found]
    if missing:
        raise PlateOCRError(
            f"{path}: missing column(s) {', '.join(missing)} (expected {','.join(required)}; found {','.join(found)})"
        )
    twice = [c for c in required if found.count(c) > 1]
    if twice:
        raise PlateOCRError(f"{path}: column {twice[0]} appears {found.count(twice[0])} times in the header; keep one")


def read_csv_records(
    path: str | os.PathLike, required: tuple[str, ...]
) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """Rows of a CSV as (line, {column: text}) with their exact 1-based line in the file (blank
    lines are skipped but counted), checked for the required columns; rows whose number of fields
    differs from the header's are returned as problems, not silently shifted."""
    path = Path(path)
    if not path.is_file():
        problem = path_problem(path)
        if problem is None:
            raise PlateOCRError(f"{path}: is a folder, not a CSV file")
        if problem == "no such file or directory":
            raise PlateOCRError(f"{path}: file not found")
        raise PlateOCRError(f"{path}: cannot open it ({problem})")
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
                        Problem(
                            str(path), line, fields[0].strip(), f"{len(fields)} fields, the header has {len(header)}"
                        )
                    )
                    continue
                records.append((line, dict(zip(header, fields))))
    except (csv.Error, UnicodeDecodeError) as e:
        msg = str(e).strip().splitlines()[0]
        raise PlateOCRError(f"{path}: not a readable CSV ({msg})") from None
    return records, problems


def read_annotations(path: str | os.PathLike) -> tuple[list[Annotation], list[Problem]]:
    """Good rows, and the rows skipped with why. Photo-dependent checks happen when cropping.

    When every box is given in 0-1 fractions, the annotations are marked `fractions` (see
    Annotation.pixel_box); a fraction box among pixel boxes is skipped as a problem.
    """
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
        bad = text_problem(text)
        if bad:
            problems.append(Problem(source, line, file, bad))
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
            problems.append(Problem(source, line, file, f"degenerate box: x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g}"))
            continue
        good.append(Annotation(line, file, text, (xmin, xmax, ymin, ymax)))
    fractional = [_in_fractions(a.box) for a in good]
    if good and all(fractional):
        good = [replace(a, fractions=True) for a in good]
    elif any(fractional):
        for a, frac in zip(good, fractional):
            if frac:
                xmin, xmax, ymin, ymax = a.box
                problems.append(
                    Problem(
                        source,
                        a.line,
                        a.file,
                        f"box x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g} looks like 0-1 fractions of the photo's "
                        "size, but other rows give pixels",
                    )
                )
        good = [a for a, frac in zip(good, fractional) if not frac]
    problems.sort(key=lambda p: p.line)
    return good, problems
