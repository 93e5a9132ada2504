"""Cutting plates out of photos: one crop per annotation row, plus the manifest `tfrecords` reads.

The whole stage: crop_annotations reads the CSV, crops every photo (reusing what --resume
may), and writes skipped.csv, crop.json and, last, labels.csv (see plateocr.cropping).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from plateocr.annotations import Annotation, read_annotations
from plateocr.cropping.journal import (
    JOURNAL_FILE,
    Journal,
    remove_stale,
    reusable,
    take_over,
)
from plateocr.cropping.photo import PhotoJob, run_jobs
from plateocr.cropping.plate import Box
from plateocr.cropping.settings import SETTINGS_FILE, CropSettings
from plateocr.defaults import CROP_SIZE, CROPS_DIR, KEEP_ASPECT, LABELS_FILE, MARGIN
from plateocr.errors import PlateOCRError
from plateocr.outputs import write_text_atomic
from plateocr.problems import Problem, write_report
from plateocr.workers import cpu_count

REPORT_FILE = "skipped.csv"
MANIFEST_COLUMNS = ("files", "text", "source", "line", "xmin", "xmax", "ymin", "ymax")


@dataclass
class CropResult:
    rows: int  # annotation rows read
    photos: int  # distinct photos named by usable rows
    written: int  # crops in the manifest
    reused: int  # of those, crops an interrupted run had already written (--resume)
    problems: list[Problem]  # skipped rows, in CSV order
    out_dir: Path
    manifest: Path | None  # None when the run failed
    report: Path
    settings: CropSettings
    elapsed: float  # seconds, reading the CSV included
    notes: list[str] = field(default_factory=list)  # worth telling, e.g. boxes converted from fractions

    @property
    def crops_per_s(self) -> float:
        return (self.written - self.reused) / self.elapsed if self.elapsed > 0 else 0.0


class CropError(PlateOCRError):
    """The run finished but produced no usable dataset; `result` says what was done."""

    def __init__(self, message: str, result: CropResult):
        super().__init__(message)
        self.result = result


def default_images_dir(annot_csv: str | os.PathLike) -> Path:
    """`images/` beside the CSV if it exists, else the CSV's own folder."""
    folder = Path(annot_csv).parent
    return folder / "images" if (folder / "images").is_dir() else folder


def group_by_photo(annotations: list[Annotation], images_dir: Path) -> list[PhotoJob]:
    """One job per photo (several plates per photo share one decode), in CSV order."""
    jobs: dict[str, PhotoJob] = {}
    for a in annotations:
        path = os.path.normpath(os.path.join(images_dir, a.file))  # an absolute `files` stays as is
        jobs.setdefault(path, PhotoJob(path, [])).rows.append(a)
    return list(jobs.values())


def _images_seen_from(out_dir: Path, images_dir: Path) -> str:
    """The images folder relative to the manifest's folder (absolute if there is no such path)."""
    try:
        return os.path.relpath(images_dir, out_dir)
    except ValueError:  # another drive on Windows
        return os.path.abspath(images_dir)


def write_manifest(path: Path, rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MANIFEST_COLUMNS)
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def crop_annotations(
    annot_csv: str | os.PathLike,
    images_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike = CROPS_DIR,
    size: tuple[int, int] = CROP_SIZE,
    keep_aspect: bool = KEEP_ASPECT,
    margin: float = MARGIN,
    workers: int | None = None,
    force: bool = False,
    resume: bool = False,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CropResult:
    """Crop every annotated plate; write crops, skipped.csv, crop.json and (last) labels.csv.

    Bad rows are skipped and reported. Raises PlateOCRError for an unusable CSV or an output
    folder holding an earlier run (unless force, or resume), and CropError (after writing the
    report) when no crop was written or, with strict, when any row was skipped.
    `progress(done, total)` is called after each photo.
    """
    start = time.perf_counter()
    settings = CropSettings(tuple(size), keep_aspect, margin)
    annot_csv = Path(annot_csv)
    annotations, problems = read_annotations(annot_csv)
    rows_read = len(annotations) + len(problems)
    if rows_read == 0:
        raise PlateOCRError(f"{annot_csv}: no rows under the header, nothing to crop")
    images_dir = Path(images_dir) if images_dir is not None else default_images_dir(annot_csv)
    if not images_dir.is_dir():
        raise PlateOCRError(f"{images_dir}: images folder not found")
    out_dir = Path(out_dir)
    journal = Journal(out_dir / JOURNAL_FILE)
    previous = take_over(out_dir, journal, settings, force, resume)

    jobs = group_by_photo(annotations, images_dir)
    reused = [j for j in jobs if reusable(previous.get(j.path), j, out_dir)]
    reused_paths = {j.path for j in reused}
    todo = [j for j in jobs if j.path not in reused_paths]
    journal.start(settings, (previous[j.path] for j in reused))

    made: dict[int, tuple[str, Box]] = {}  # line -> crop name, region
    for j in reused:
        for line, name, region in previous[j.path]["crops"]:
            made[line] = (name, tuple(region))
    by_line = {a.line: a for a in annotations}
    done_photos = len(reused)
    if progress:
        progress(done_photos, len(jobs))
    try:
        for batch in run_jobs(todo, settings, out_dir, workers or cpu_count()):
            for done in batch:
                for line, name, region in done.crops:
                    made[line] = (name, region)
                for line, reason in done.failures:
                    problems.append(Problem(str(annot_csv), line, by_line[line].file, reason))
                if not done.failures:
                    journal.add(todo[done.index], done)
            journal.flush()
            done_photos += len(batch)
            if progress:
                progress(done_photos, len(jobs))
    finally:
        journal.close()

    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    report = out_dir / REPORT_FILE
    write_report(problems, report)
    result = CropResult(
        rows=rows_read,
        photos=len(jobs),
        written=len(made),
        reused=sum(len(previous[j.path]["crops"]) for j in reused),
        problems=problems,
        out_dir=out_dir,
        manifest=None,
        report=report,
        settings=settings,
        elapsed=time.perf_counter() - start,
    )
    if any(a.fractions for a in annotations):
        result.notes.append(
            f"{annot_csv}: the boxes are given as 0-1 fractions of the photo's size; converted to pixels"
        )
    if not made:
        journal.path.unlink(missing_ok=True)  # nothing to resume: a fixed rerun starts afresh
        raise CropError(f"{annot_csv}: no usable rows, nothing cropped (reasons in {report})", result)
    if strict and problems:
        raise CropError(
            f"{annot_csv}: {len(problems)} row(s) skipped and --strict is set (reasons in {report}); "
            "no manifest written; fix them and re-run with --resume",
            result,
        )

    write_text_atomic(out_dir / SETTINGS_FILE, json.dumps(settings.to_dict(), indent=2) + "\n")
    if force or resume:  # the folder then holds only what the manifest lists
        remove_stale(out_dir, {name for name, _ in made.values()})
    images_rel = _images_seen_from(out_dir, images_dir)
    manifest_rows = []
    for line in sorted(made):
        name, (x0, x1, y0, y1) = made[line]
        a = by_line[line]
        source = os.path.normpath(os.path.join(images_rel, a.file)).replace(os.sep, "/")
        manifest_rows.append([name, a.text, source, line, x0, x1, y0, y1])
    result.manifest = out_dir / LABELS_FILE
    write_manifest(result.manifest, manifest_rows)
    result.elapsed = time.perf_counter() - start
    return result
