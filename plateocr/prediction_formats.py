"""Writing predict's rows: a rich table for people, CSV or JSON for programs."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from plateocr.defaults import PREDICT_FORMATS as FORMATS
from plateocr.errors import PlateOCRError
from plateocr.outputs import check_can_write, write_text_atomic
from plateocr.prediction import PredictionRow, PredictResult


def choose_format(fmt: str | None, output: str | os.PathLike | None) -> str:
    """The format asked for; without one, the output file's extension (.csv/.json), else a table."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise PlateOCRError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        return fmt
    suffix = Path(output).suffix.lower().lstrip(".") if output is not None else ""
    return suffix if suffix in ("csv", "json") else "table"


BOX_COLUMNS = ["xmin", "xmax", "ymin", "ymax", "detection_score"]


def _columns(annotated: bool, with_truth: bool = False, detected: bool = False) -> list[str]:
    if detected:  # predict --detect: one row per plate found in a photo
        head = ["photo", *BOX_COLUMNS] + (["line", "truth"] if annotated else [])
        tail = ["correct"] if annotated else []
        return head + ["text", *tail, "confidence", "char_confidences", "note", "error"]
    if annotated:
        return ["photo", "line", "truth", "text", "correct", "confidence", "char_confidences", "error"]
    if with_truth:
        return ["path", "truth", "text", "correct", "confidence", "char_confidences", "error"]
    return ["path", "text", "confidence", "char_confidences", "error"]


def _with_truth(result: PredictResult) -> bool:
    return any(r.truth is not None for r in result.rows)


def row_dict(row: PredictionRow, annotated: bool, with_truth: bool = False, detected: bool = False) -> dict:
    """The row as plain JSON-able values (confidences as floats, a list per character)."""
    d = {
        "path": row.path,
        "text": row.text if row.ok and (row.box is not None or not detected) else None,
        "confidence": row.confidence,
        "char_confidences": list(row.char_confidences),
        "error": row.error or None,
    }
    if detected:
        box = dict(zip(BOX_COLUMNS, row.box)) if row.box is not None else dict.fromkeys(BOX_COLUMNS[:4])
        d = {"photo": d.pop("path"), **box, "detection_score": row.detection_score, **d, "note": row.note or None}
        if annotated:
            d = {**d, "line": row.line, "truth": row.truth, "correct": row.correct}
    elif annotated:
        d = {"photo": d.pop("path"), "line": row.line, "truth": row.truth, **d, "correct": row.correct}
    elif with_truth:
        d = {"path": d.pop("path"), "truth": row.truth, **d, "correct": row.correct}
    if row.attention:
        d["attention"] = row.attention
    return d


def to_csv(result: PredictResult) -> str:
    with_truth = _with_truth(result)
    cols = _columns(result.annotated, with_truth, result.detected)
    if any(r.attention for r in result.rows):
        cols.append("attention")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for row in result.rows:
        d = row_dict(row, result.annotated, with_truth, result.detected)
        d["confidence"] = "" if row.confidence is None else f"{row.confidence:.6g}"
        if row.detection_score is not None:
            d["detection_score"] = f"{row.detection_score:.4g}"
        d["char_confidences"] = " ".join(f"{c:.6g}" for c in row.char_confidences)
        d["text"] = row.text
        d["error"] = row.error
        d["note"] = row.note
        if result.annotated or with_truth:
            d["correct"] = "" if row.correct is None else int(row.correct)
        w.writerow(["" if d.get(c) is None else d.get(c) for c in cols])
    return buf.getvalue()


def to_json(result: PredictResult) -> str:
    with_truth = _with_truth(result)
    rows = [row_dict(r, result.annotated, with_truth, result.detected) for r in result.rows]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def to_table(result: PredictResult, max_rows: int | None = None) -> Table:
    annotated, with_truth = result.annotated, result.annotated or _with_truth(result)
    title = f"{len(result.read)} of {len(result.rows)} plates read"
    if result.detected:
        photos = len({r.path for r in result.rows})
        title = f"{sum(r.box is not None for r in result.rows)} plates found in {photos} photos"
    table = Table(title=title, title_justify="left")
    table.add_column("photo" if annotated or result.detected else "image", overflow="fold")
    if result.detected:
        table.add_column("box (x, y)")
        table.add_column("found", justify="right")
    if annotated:
        table.add_column("line", justify="right")
    if with_truth:
        table.add_column("truth")
    table.add_column("text", style="bold")
    table.add_column("conf", justify="right")
    table.add_column("per character")
    rows = result.rows if max_rows is None else result.rows[:max_rows]
    for row in rows:
        cells = [row.path]
        if result.detected:
            if row.box is None:
                cells += ["", ""]
            else:
                x0, x1, y0, y1 = row.box
                cells += [f"{x0}-{x1}, {y0}-{y1}", f"{row.detection_score:.2f}"]
        if annotated:
            cells.append("" if row.line is None else str(row.line))
        if with_truth:
            cells.append(row.truth or "")
        if row.ok and row.box is None and row.note:
            cells += [f"[yellow]{row.note}[/yellow]", "", ""]
        elif row.ok:
            mark = {True: "[green]", False: "[red]"}.get(row.correct, "")
            cells += [
                f"{mark}{row.text}" if mark else row.text,
                f"{row.confidence:.3f}",
                " ".join(f"{c:.2f}" for c in row.char_confidences),
            ]
        else:
            cells += ["[red]error[/red]", "", row.error]
        table.add_row(*cells)
    if max_rows is not None and len(result.rows) > max_rows:
        table.caption = f"... {len(result.rows) - max_rows} more rows (use --out to keep them all)"
    return table


def render(result: PredictResult, fmt: str) -> str:
    """The whole result as text in `fmt` (a table is rendered without colours, for files)."""
    if fmt == "csv":
        return to_csv(result)
    if fmt == "json":
        return to_json(result)
    console = Console(file=io.StringIO(), width=160, color_system=None, force_terminal=False)
    console.print(to_table(result))
    return console.file.getvalue()


def write_result(result: PredictResult, path: str | os.PathLike, fmt: str, force: bool) -> None:
    """Write atomically; refuse to overwrite an existing file without force."""
    check_can_write(path, force, "prediction output", folder=False)
    write_text_atomic(path, render(result, fmt))
