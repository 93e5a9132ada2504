"""Cutting plates out of photos: one crop per annotation row, plus the manifest `tfrecords` reads.

The output folder (default ``crops/``) holds:

- ``<photo stem>_L<csv line>.png``: one crop per usable row (the line makes names unique and
  traceable, even with several plates per photo).
- ``labels.csv``: the manifest, ``files,text,source,line,xmin,xmax,ymin,ymax``. ``files`` and
  ``source`` (the photo) are relative to the manifest's folder; the box is the pixel region cut
  from the photo (margin added, clipped to the photo), so ``photo[ymin:ymax, xmin:xmax]`` resized
  gives the crop. Written atomically and last: if it exists, the run finished.
- ``crop.json``: how the crops were made (size [h, w], keep_aspect, margin), see CropSettings.
- ``skipped.csv``: the rows skipped and why (plateocr.problems report).
- ``.progress.jsonl``: a journal of photos already cropped, so ``--resume`` skips them.

Each photo is decoded once; a worker process handles one photo and all of its rows and writes
the PNGs itself. Workers hold the job list (inherited when forked), so only spans of it go out
and only crop names and boxes come back. Crops are written in place (see write_crop): the
folder, not each file, is what is finished or not, and labels.csv says which.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from plateocr.annotations import Annotation, read_annotations
from plateocr.defaults import CROP_SIZE, CROPS_DIR, KEEP_ASPECT, LABELS_FILE, MARGIN
from plateocr.errors import OutputExistsError, PlateOCRError
from plateocr.imaging import clip_box, decode_image, encode_png, expand_box, fit
from plateocr.outputs import write_text_atomic
from plateocr.problems import Problem, write_report
from plateocr.workers import cpu_count, run_spans

SETTINGS_FILE = "crop.json"
REPORT_FILE = "skipped.csv"
JOURNAL_FILE = ".progress.jsonl"
MANIFEST_COLUMNS = ("files", "text", "source", "line", "xmin", "xmax", "ymin", "ymax")
# Files this stage may delete (with --force or --resume): its crops, and the temp files of
# interrupted writes by earlier versions (which wrote each crop through a temp file).
_CROP_NAME = re.compile(r"_L\d+\.png$")
_TEMP_NAME = re.compile(r"^\..*_L\d+\.png\.tmp$")
# Stored PNGs: deflate at level 1 costs as much CPU as decoding the photo (and the benchmark
# target is 0.8 of decode-only speed); crops get ~1.8x bigger (48 KiB at 64x256) in exchange.
PNG_COMPRESSION = 0

Box = tuple[int, int, int, int]  # xmin, xmax, ymin, ymax in whole pixels


@dataclass(frozen=True)
class CropSettings:
    """How crops are made; stored as crop.json so records and predict prepare plates the same way."""

    size: tuple[int, int] = CROP_SIZE  # height, width
    keep_aspect: bool = KEEP_ASPECT
    margin: float = MARGIN

    def __post_init__(self):
        h, w = self.size
        if h < 1 or w < 1:
            raise PlateOCRError(f"crop size {h}x{w}: height and width must be positive")
        if not 0 <= self.margin <= 1:
            raise PlateOCRError(f"margin {self.margin:g}: expected a fraction between 0 and 1")

    def to_dict(self) -> dict:
        return {"size": list(self.size), "keep_aspect": self.keep_aspect, "margin": self.margin}

    @classmethod
    def from_dict(cls, d: dict, source: str = SETTINGS_FILE) -> "CropSettings":
        try:
            h, w = (int(x) for x in d["size"])
            if not isinstance(d["keep_aspect"], bool):
                raise ValueError(f"keep_aspect {d['keep_aspect']!r} is not true or false")
            return cls((h, w), d["keep_aspect"], float(d["margin"]))
        except (KeyError, TypeError, ValueError) as e:
            raise PlateOCRError(f"{source}: not valid crop settings ({e!r})") from None
        except PlateOCRError as e:  # a size or margin out of range
            raise PlateOCRError(f"{source}: {e}") from None

    @classmethod
    def read(cls, folder: str | os.PathLike) -> "CropSettings":
        """The settings `crop` recorded in `folder` (a crops folder or its crop.json)."""
        path = Path(folder)
        if path.is_dir():
            path = path / SETTINGS_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PlateOCRError(f"{path}: crop settings not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise PlateOCRError(f"{path}: cannot read crop settings ({e})") from None
        return cls.from_dict(d, str(path))

    def describe(self) -> str:
        fitting = "keep-aspect" if self.keep_aspect else "stretch"
        return f"{self.size[0]}x{self.size[1]} {fitting}, margin {self.margin:g}"


# --- one plate -------------------------------------------------------------------------------


# A box narrower or lower than this (inside the photo) cannot hold a readable plate.
MIN_BOX_SIDE = 4


def box_problem(box, width: int, height: int) -> str | None:
    """Why a box (pixels: xmin, xmax, ymin, ymax) gives no usable crop of a width x height
    photo, or None: outside the photo, reaching far beyond it (a typo such as 1e12 would
    otherwise crop the whole photo), or a few pixels small."""
    xmin, xmax, ymin, ymax = box
    shown = f"x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g}"
    inside = clip_box(box, width, height)
    if inside is None:
        return f"box lies outside the {width}x{height} photo: {shown}"
    if xmin < -width or xmax > 2 * width or ymin < -height or ymax > 2 * height:
        return f"box reaches far outside the {width}x{height} photo: {shown}"
    x0, x1, y0, y1 = inside
    if min(x1 - x0, y1 - y0) < MIN_BOX_SIDE:
        return f"box is {x1 - x0}x{y1 - y0} pixels, too small for a plate: {shown}"
    return None


def crop_region(box, width: int, height: int, margin: float = MARGIN) -> Box | None:
    """The pixel region cut for `box` (xmin, xmax, ymin, ymax): the box grown by `margin` and
    clipped to a width x height photo; None if the box itself lies wholly outside the photo."""
    if clip_box(box, width, height) is None:
        return None
    return clip_box(expand_box(box, margin), width, height)


def crop_one(
    photo_bgr: np.ndarray,
    box,
    size: tuple[int, int] = CROP_SIZE,
    keep_aspect: bool = KEEP_ASPECT,
    margin: float = MARGIN,
) -> np.ndarray | None:
    """The plate at `box` cut from a decoded photo and fitted to `size` (h, w); None if the box
    lies outside the photo. Used by `crop` and, in memory, by `predict --annotations`."""
    height, width = photo_bgr.shape[:2]
    region = crop_region(box, width, height, margin)
    if region is None:
        return None
    x0, x1, y0, y1 = region
    return fit(photo_bgr[y0:y1, x0:x1], size, keep_aspect)


def crop_name(annotation: Annotation) -> str:
    stem = os.path.splitext(os.path.basename(annotation.file))[0]
    return f"{stem}_L{annotation.line}.png"


# --- one photo (runs in a worker process) ----------------------------------------------------


@dataclass
class PhotoJob:
    path: str  # the photo on disk
    rows: list[Annotation]


@dataclass
class PhotoDone:
    """What a worker sends back for a photo: small, the job itself stays on each side."""

    index: int  # of the job in the list run_jobs was given
    stamp: list[int] | None  # size and mtime of the photo, to tell if it changed before --resume
    crops: list[tuple[int, str, Box]] = field(default_factory=list)  # line, crop name, region
    failures: list[tuple[int, str]] = field(default_factory=list)  # line, reason


class PhotoCropper:
    """Decodes one photo once and writes the crops of all its rows."""

    def __init__(self, settings: CropSettings, out_dir: str | os.PathLike):
        self.settings = settings
        self.out_dir = os.path.join(str(out_dir), "")  # with its trailing separator

    def __call__(self, job: PhotoJob, index: int = 0) -> PhotoDone:
        # Plain strings and os calls here: pathlib and mkstemp cost as much as the crop itself.
        try:
            with open(job.path, "rb") as fh:
                st = os.fstat(fh.fileno())
                photo = decode_image(fh.read(), job.path)
        except (PlateOCRError, OSError) as e:
            if isinstance(e, PlateOCRError):
                reason = str(e).removeprefix(f"{job.path}: ")
            elif isinstance(e, FileNotFoundError):
                reason = f"image not found: {job.path}"
            else:
                reason = f"cannot read image ({e.strerror or e})"
            return PhotoDone(index, None, failures=[(a.line, reason) for a in job.rows])
        done = PhotoDone(index, [st.st_size, st.st_mtime_ns])
        height, width = photo.shape[:2]
        s = self.settings
        for a in job.rows:
            box = a.pixel_box(width, height)
            problem = box_problem(box, width, height)
            if problem:
                done.failures.append((a.line, problem))
                continue
            region = crop_region(box, width, height, s.margin)
            x0, x1, y0, y1 = region
            plate = fit(photo[y0:y1, x0:x1], s.size, s.keep_aspect)
            name = crop_name(a)
            write_crop(self.out_dir + name, encode_png(plate, PNG_COMPRESSION))
            done.crops.append((a.line, name, region))
        return done


def write_crop(path: str, data: bytes) -> None:
    """Write a crop in place: no temp file and rename. Renaming over an earlier run's crop
    makes ext4 flush the new file at once (its replace-via-rename safeguard), ~1 ms per crop,
    as much as decoding the photo. A half-written crop is never used: the folder counts as
    finished only once labels.csv is written (last), and --resume reuses only the crops of
    photos the journal lists, added after all their crops were written. A crop that is a
    symlink or has other hard links is replaced, not written through."""
    try:
        fd, old_size = _open_crop(path)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if old_size > len(data):  # an earlier, larger crop (other settings)
                os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
    except OSError as e:
        raise PlateOCRError(f"{path}: cannot write crop ({e.strerror or e})") from None


_CROP_FLAGS = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_crop(path: str) -> tuple[int, int]:
    """The crop file opened for writing, and its size so far."""
    try:
        fd = os.open(path, _CROP_FLAGS, 0o666)
    except OSError as e:
        if e.errno != errno.ELOOP:  # ELOOP: a symlink (O_NOFOLLOW)
            raise
    else:
        st = os.fstat(fd)
        if st.st_nlink <= 1:
            return fd, st.st_size
        os.close(fd)
    os.unlink(path)
    return os.open(path, _CROP_FLAGS | os.O_EXCL, 0o666), 0


# A worker's state: its cropper and the whole job list (inherited when forked, else sent once
# per worker), so that tasks and results are a few numbers and names, not annotations.
_worker: PhotoCropper | None = None
_jobs: list[PhotoJob] = []


def _init_worker(settings: CropSettings, out_dir: str, jobs: list[PhotoJob]) -> None:
    global _worker, _jobs
    cv2.setNumThreads(1)  # one process per core already; OpenCV threads would only compete
    _worker = PhotoCropper(settings, out_dir)
    _jobs = jobs


def _work(start: int, stop: int) -> list[PhotoDone]:
    return [_worker(_jobs[i], i) for i in range(start, stop)]


@contextlib.contextmanager
def _opencv_threads(n: int) -> Iterator[None]:
    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def run_jobs(
    jobs: list[PhotoJob], settings: CropSettings, out_dir: Path, workers: int
) -> Iterator[list[PhotoDone]]:
    """Crop every job, yielding batches of finished photos as they come (in any order)."""
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        cropper = PhotoCropper(settings, out_dir)
        with _opencv_threads(1):
            for i, job in enumerate(jobs):
                yield [cropper(job, i)]
        return
    # Spans of a few dozen milliseconds of work: few messages, and the workers still finish
    # together.
    chunk = max(1, min(16, len(jobs) // (workers * 8)))
    yield from run_spans(_work, len(jobs), workers, chunk, _init_worker, (settings, str(out_dir), jobs))


# --- the journal that makes runs resumable ---------------------------------------------------


def _row_key(a: Annotation) -> list:
    return [a.line, a.file, a.text, list(a.box)]


class Journal:
    """Append-only record of photos fully cropped, one JSON line each, after a settings line."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = None

    def read(self) -> tuple[CropSettings | None, dict[str, dict]]:
        """The settings the journal was written with and its entries by photo path."""
        if not self.path.is_file():
            return None, {}
        settings, entries = None, {}
        with open(self.path, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                try:
                    d = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interruption
                if i == 0:
                    settings = CropSettings.from_dict(d.get("settings", {}), str(self.path))
                elif "photo" in d:
                    entries[d["photo"]] = d
        return settings, entries

    def start(self, settings: CropSettings, kept: Iterable[dict]) -> None:
        """Rewrite the journal with `settings` and the entries still valid, then append to it."""
        buf = io.StringIO()
        buf.write(json.dumps({"settings": settings.to_dict()}) + "\n")
        for entry in kept:
            buf.write(json.dumps(entry) + "\n")
        write_text_atomic(self.path, buf.getvalue())
        self._fh = open(self.path, "a", encoding="utf-8")

    def add(self, job: PhotoJob, done: PhotoDone) -> None:
        """Record a photo cropped; call flush() to make a batch of them last."""
        entry = {
            "photo": job.path,
            "stamp": done.stamp,
            "rows": [_row_key(a) for a in job.rows],
            "crops": [[line, name, list(region)] for line, name, region in done.crops],
        }
        self._fh.write(json.dumps(entry) + "\n")

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _reusable(entry: dict | None, job: PhotoJob, out_dir: Path) -> bool:
    """An earlier run already cropped this photo for exactly these rows, and its crops are there."""
    return (
        entry is not None
        and entry["rows"] == [_row_key(a) for a in job.rows]
        and entry["stamp"] == _stamp(job.path)
        and all((out_dir / name).is_file() for _, name, _ in entry["crops"])
    )


# --- the whole stage -------------------------------------------------------------------------


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


def _earlier_output(out_dir: Path) -> str | None:
    """The name of a file an earlier run left in `out_dir`, if any (the first one found)."""
    if not out_dir.is_dir():
        return None
    with os.scandir(out_dir) as entries:
        return next(
            (e.name for e in entries if e.name in (LABELS_FILE, JOURNAL_FILE) or _CROP_NAME.search(e.name)), None
        )


def _remove_stale(out_dir: Path, keep: set[str]) -> int:
    """Delete crops (and interrupted temp files) of earlier runs that this run did not write."""
    removed = 0
    with os.scandir(out_dir) as entries:
        for e in entries:
            if e.name in keep or not (_CROP_NAME.search(e.name) or _TEMP_NAME.match(e.name)):
                continue
            os.unlink(e.path)
            removed += 1
    return removed


def _images_seen_from(out_dir: Path, images_dir: Path) -> str:
    """The images folder relative to the manifest's folder (absolute if there is no such path)."""
    try:
        return os.path.relpath(images_dir, out_dir)
    except ValueError:  # another drive on Windows
        return os.path.abspath(images_dir)


def _take_over(out_dir: Path, journal: Journal, settings: CropSettings, force: bool, resume: bool) -> dict[str, dict]:
    """Make `out_dir` ours, refusing an earlier run's output without force/resume; the journal
    entries --resume may reuse. Drops any old manifest first, so that an interrupted run never
    leaves one that looks finished."""
    if out_dir.exists() and not out_dir.is_dir():
        raise PlateOCRError(f"{out_dir}: exists and is not a folder")
    earlier = _earlier_output(out_dir)
    if earlier and not (force or resume):
        raise OutputExistsError(
            f"{out_dir}: holds crops of an earlier run ({earlier}); "
            "pass --force to replace them, or --resume to finish an interrupted run"
        )
    previous: dict[str, dict] = {}
    if resume:
        old_settings, previous = journal.read()
        if old_settings is not None and old_settings != settings:
            if not force:
                raise OutputExistsError(
                    f"{out_dir}: earlier crops were made with {old_settings.describe()}, not "
                    f"{settings.describe()}; pass --force to redo them"
                )
            previous = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / LABELS_FILE).unlink(missing_ok=True)
    return previous


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
    previous = _take_over(out_dir, journal, settings, force, resume)

    jobs = group_by_photo(annotations, images_dir)
    reused = [j for j in jobs if _reusable(previous.get(j.path), j, out_dir)]
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
        rows=rows_read, photos=len(jobs), written=len(made),
        reused=sum(len(previous[j.path]["crops"]) for j in reused),
        problems=problems, out_dir=out_dir, manifest=None, report=report,
        settings=settings, elapsed=time.perf_counter() - start,
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
        _remove_stale(out_dir, {name for name, _ in made.values()})
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
