"""Writing synthetic crops as a crops folder (`plateocr synth OUT --crops`): OUT/*.png, labels.csv
(files,text) and crop.json, the layout `plateocr crop` writes, so `plateocr tfrecords OUT` reads it."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2

from plateocr.cropping import SETTINGS_FILE, CropSettings
from plateocr.defaults import CROP_SIZE, KEEP_ASPECT, LABELS_FILE
from plateocr.errors import PlateOCRError
from plateocr.imaging import encode_png
from plateocr.outputs import begin_output_dir, write_bytes_atomic, write_text_atomic
from plateocr.synth.crops import crop_rng, render_crop
from plateocr.synth.dataset import map_indices
from plateocr.synth.outline_fonts import FontChoice, fonts_in_use, use_fonts

CROP_NAME_PATTERN = "synth_crop_{:07d}.png"
PNG_COMPRESSION = 1


@dataclass
class CropsResult:
    out_dir: Path
    labels: Path
    crops: int
    elapsed: float


@dataclass(frozen=True)
class _CropJob:
    out_dir: str
    seed: int
    settings: CropSettings
    fonts: FontChoice = FontChoice()


def write_one_crop(job: _CropJob, index: int) -> tuple[str, str]:
    """Render crop `index`, write its PNG; return its (file, text) row."""
    use_fonts(job.fonts)  # in a worker process too
    rgb, text = render_crop(
        crop_rng(job.seed, index),
        size=job.settings.size,
        keep_aspect=job.settings.keep_aspect,
        margin=job.settings.margin,
    )
    name = CROP_NAME_PATTERN.format(index)
    path = Path(job.out_dir) / name
    try:
        write_bytes_atomic(path, encode_png(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), PNG_COMPRESSION))
    except OSError as e:
        raise PlateOCRError(f"{path}: cannot write crop ({e.strerror or e})") from None
    return name, text


def write_crops(
    out_dir: str | Path,
    count: int,
    seed: int,
    workers: int = 1,
    force: bool = False,
    size: tuple[int, int] = CROP_SIZE,
    keep_aspect: bool = KEEP_ASPECT,
    progress: Callable[[int, int], None] | None = None,
    fonts: FontChoice | None = None,
) -> CropsResult:
    """Write `count` synthetic crops, crop.json and (last) labels.csv into out_dir.

    Crop i depends only on (seed, i, size, keep_aspect, the fonts), not on `workers`. fonts:
    which outline fonts to draw with (default: the system's; see synth.outline_fonts).
    The renderer's fonts in this process are back as they were after the call.
    """
    fonts = fonts or FontChoice()
    with fonts_in_use(fonts):
        if count < 1:
            raise PlateOCRError(f"--count must be at least 1 (got {count})")
        start = time.monotonic()
        out_dir = begin_output_dir(out_dir, force, LABELS_FILE)  # labels.csv is written last
        labels = out_dir / LABELS_FILE
        settings = CropSettings(tuple(size), keep_aspect)
        write_text_atomic(out_dir / SETTINGS_FILE, json.dumps(settings.to_dict(), indent=2) + "\n")
        job = _CropJob(str(out_dir), int(seed), settings, fonts)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(("files", "text"))
        for i, row in enumerate(map_indices(write_one_crop, job, count, workers, chunksize=32), 1):
            writer.writerow(row)
            if progress:
                progress(i, count)
        keep = {CROP_NAME_PATTERN.format(i) for i in range(count)}
        for old in out_dir.glob("synth_crop_*.png"):  # crops of an earlier, larger run
            if old.name not in keep:
                old.unlink()
        write_text_atomic(labels, buf.getvalue())
        return CropsResult(out_dir, labels, count, time.monotonic() - start)


def write_crops_sheet(result: CropsResult, sheet: str | Path, limit: int = 256) -> Path:
    """A contact sheet (synth.contact_sheet) of the first `limit` crops of a crops folder."""
    from plateocr.synth.contact_sheet import write_contact_sheet

    with open(result.labels, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:limit]
    crops = [cv2.imread(str(result.out_dir / r["files"])) for r in rows]
    return write_contact_sheet(sheet, crops, [r["text"] for r in rows])
