"""The photos of an annotation CSV with their plate boxes, in memory, for training a detector.

Rows are checked as `crop` checks them (plateocr.annotations, plateocr.cropping.plate) and bad
ones are skipped with the same reasons; a photo that does not decode skips its rows. Photos are
kept at most MAX_SIDE pixels on their longer side (boxes scaled with them): training zooms into
the detector's 512x384 input by up to ~1.6x, so more pixels would only cost memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from plateocr.annotations import read_annotations
from plateocr.cropping.plate import box_problem
from plateocr.cropping.stage import default_images_dir, group_by_photo
from plateocr.errors import PlateOCRError
from plateocr.imaging import clip_box, read_rgb
from plateocr.problems import Problem

MAX_SIDE = 1024


@dataclass
class AnnotatedPhoto:
    path: str  # the photo on disk
    rgb: np.ndarray  # uint8 [h, w, 3], at most MAX_SIDE on its longer side
    boxes: np.ndarray  # float [N, 4] (xmin, xmax, ymin, ymax) in rgb's pixels
    texts: list[str]
    scale: float  # rgb pixels per original photo pixel

    @property
    def source(self) -> str:  # records.split_groups groups a photo's plates by this
        return self.path


def shrink(rgb: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """`rgb` scaled down (INTER_AREA) to at most max_side on its longer side, and the scale."""
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return rgb, 1.0
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), s


def load_annotated_photos(
    annot_csv: str | os.PathLike,
    images_dir: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[AnnotatedPhoto], list[Problem]]:
    """The usable photos of `annot_csv` (in CSV order) and the rows skipped, with why.
    Raises PlateOCRError for an unusable CSV or images folder."""
    annot_csv = Path(annot_csv)
    annotations, problems = read_annotations(annot_csv)
    if not annotations and not problems:
        raise PlateOCRError(f"{annot_csv}: no rows under the header, nothing to train on")
    images = Path(images_dir) if images_dir is not None else default_images_dir(annot_csv)
    if not images.is_dir():
        raise PlateOCRError(f"{images}: images folder not found")
    jobs = group_by_photo(annotations, images)
    photos: list[AnnotatedPhoto] = []
    source = str(annot_csv)
    for done, job in enumerate(jobs, 1):
        try:
            rgb = read_rgb(job.path)
        except PlateOCRError as e:
            reason = str(e).removeprefix(f"{job.path}: ")
            problems.extend(Problem(source, a.line, a.file, reason) for a in job.rows)
            if progress:
                progress(done, len(jobs))
            continue
        h, w = rgb.shape[:2]
        boxes, texts = [], []
        for a in job.rows:
            box = a.pixel_box(w, h)
            why = box_problem(box, w, h)
            if why:
                problems.append(Problem(source, a.line, a.file, why))
                continue
            boxes.append(clip_box(box, w, h))
            texts.append(a.text)
        if boxes:
            small, s = shrink(rgb)
            photos.append(AnnotatedPhoto(job.path, small, np.asarray(boxes, np.float64) * s, texts, s))
        if progress:
            progress(done, len(jobs))
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return photos, problems
