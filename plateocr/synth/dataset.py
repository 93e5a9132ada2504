"""Writing a synthetic dataset: OUT/images/*.jpg and OUT/annot.csv (the input `plateocr crop` reads)."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from plateocr.annotations import COLUMNS
from plateocr.errors import PlateOCRError
from plateocr.outputs import begin_output_dir, write_bytes_atomic, write_text_atomic
from plateocr.synth.outline_fonts import FontChoice, fonts_in_use, use_fonts
from plateocr.synth.scene import render_scene
from plateocr.workers import ordered_map

IMAGES_DIR = "images"
ANNOT_FILE = "annot.csv"
JPEG_QUALITY = 85
NAME_PATTERN = "synth_{:06d}.jpg"

Row = tuple[str, str, int, int, int, int]


@dataclass
class SynthResult:
    out_dir: Path
    annot: Path
    photos: int
    plates: int
    elapsed: float


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator for photo `index`: independent of the order or process that renders it."""
    return np.random.default_rng([seed, index])


@dataclass(frozen=True)
class _Job:
    out_dir: str
    seed: int
    width: int
    height: int
    quality: int
    fonts: FontChoice = FontChoice()


def render_photo(job: _Job, index: int) -> list[Row]:
    """Render, encode and write photo `index`; return its annotation rows."""
    use_fonts(job.fonts)  # in a worker process too
    photo, plates = render_scene(image_rng(job.seed, index), job.width, job.height)
    ok, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, job.quality])
    if not ok:
        raise PlateOCRError(f"photo {index}: JPEG encoding failed")
    name = NAME_PATTERN.format(index)
    path = Path(job.out_dir) / IMAGES_DIR / name
    try:
        write_bytes_atomic(path, jpeg.tobytes())
    except OSError as e:
        raise PlateOCRError(f"{path}: cannot write photo ({e.strerror or e})") from None
    return [(name, text, *box) for text, box in plates]


_fn: Callable | None = None
_job = None


def _init_worker(fn: Callable, job) -> None:
    global _fn, _job
    cv2.setNumThreads(1)  # one process per core already
    _fn, _job = fn, job


def _work(index: int):
    return _fn(_job, index)


def map_indices(fn: Callable, job, count: int, workers: int, chunksize: int = 4) -> Iterator:
    """fn(job, i) for i in range(count), in index order, in `workers` processes (fn and job must
    pickle: a module-level function and a plain dataclass)."""
    if workers <= 1 or count < 2:
        before = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            for i in range(count):
                yield fn(job, i)
        finally:
            cv2.setNumThreads(before)
        return
    yield from ordered_map(
        _work, range(count), min(workers, count), initializer=_init_worker, initargs=(fn, job), chunksize=chunksize
    )


def _render_all(job: _Job, count: int, workers: int) -> Iterator[list[Row]]:
    """Rows of every photo, in index order."""
    return map_indices(render_photo, job, count, workers)


def annot_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buf.getvalue()


def write_dataset(
    out_dir: str | Path,
    count: int,
    seed: int,
    workers: int = 1,
    force: bool = False,
    width: int = 640,
    height: int = 480,
    quality: int = JPEG_QUALITY,
    progress: Callable[[int, int], None] | None = None,
    fonts: FontChoice | None = None,
) -> SynthResult:
    """Render `count` photos into out_dir/images and write out_dir/annot.csv last.

    The output depends only on (count, seed, width, height, quality, the fonts), not on
    `workers`. fonts: which outline fonts to draw with (default: the system's);
    FontChoice(system=False) draws with the built-in faces alone, the same on any machine.
    The renderer's fonts in this process are back as they were after the call.
    """
    fonts = fonts or FontChoice()
    with fonts_in_use(fonts):
        if count < 1:
            raise PlateOCRError(f"--count must be at least 1 (got {count})")
        start = time.monotonic()
        out_dir = begin_output_dir(out_dir, force, ANNOT_FILE)  # annot.csv is written last
        annot = out_dir / ANNOT_FILE
        (out_dir / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        job = _Job(str(out_dir), int(seed), int(width), int(height), int(quality), fonts)
        rows: list[Row] = []
        for i, photo_rows in enumerate(_render_all(job, count, workers), 1):
            rows.extend(photo_rows)
            if progress:
                progress(i, count)
        # Photos of an earlier, larger run with the same names would otherwise linger unlisted.
        keep = {NAME_PATTERN.format(i) for i in range(count)}
        for old in (out_dir / IMAGES_DIR).glob("synth_*.jpg"):
            if old.name not in keep:
                old.unlink()
        write_text_atomic(annot, annot_csv(rows))
        return SynthResult(out_dir, annot, count, len(rows), time.monotonic() - start)
