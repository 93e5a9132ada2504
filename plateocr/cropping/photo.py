"""One photo, in a worker process: decoded once, the crops of all its rows written in place;
run_jobs spreads the photos over processes (plateocr.workers.run_spans)."""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2

from plateocr.annotations import Annotation
from plateocr.cropping.plate import Box, box_problem, crop_name, crop_region
from plateocr.cropping.settings import CropSettings
from plateocr.errors import PlateOCRError
from plateocr.imaging import decode_image, encode_png, fit
from plateocr.workers import run_spans

# Stored PNGs: deflate at level 1 costs as much CPU as decoding the photo (and the benchmark
# target is 0.8 of decode-only speed); crops get ~1.8x bigger (48 KiB at 64x256) in exchange.
PNG_COMPRESSION = 0


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
                view = view[os.write(fd, view) :]
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


def run_jobs(jobs: list[PhotoJob], settings: CropSettings, out_dir: Path, workers: int) -> Iterator[list[PhotoDone]]:
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
