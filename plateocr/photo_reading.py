"""Reading whole photos: find the plates (a PlateDetector), cut each found box exactly as `crop`
cuts an annotated one (plateocr.cropping.crop_one, the reader's size and margin), and read the
cuts (a PlateReader). `predict --detect`, `PlateReader.read_photo` and benchmarks/detection.py
all read photos through read_photos. No TensorFlow here: the detector and reader are passed in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from plateocr.defaults import MARGIN, READING_THRESHOLD
from plateocr.errors import PlateOCRError
from plateocr.imaging import encode_png, read_bgr
from plateocr.inference.decoding import Reading
from plateocr.outputs import write_bytes_atomic
from plateocr.prefetch import prefetch_batches

PHOTO_BATCH_SIZE = 8  # photos per detector batch
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class PhotoPlate:
    """A plate found in a photo and what it reads."""

    box: tuple[int, int, int, int]  # xmin, xmax, ymin, ymax in the photo's pixels (max exclusive)
    detection_score: float
    reading: Reading

    @property
    def text(self) -> str:
        return self.reading.text

    @property
    def confidence(self) -> float:
        return self.reading.confidence

    @property
    def char_confidences(self) -> tuple[float, ...]:
        return self.reading.char_confidences


def per_char_confidence(reading: Reading) -> float:
    """The reading's confidence per character: confidence ** (1 / length); 0 for no text."""
    return float(reading.confidence) ** (1.0 / len(reading.text)) if reading.text else 0.0


@dataclass(frozen=True)
class PhotoReading:
    """The plates found in one photo, best detection first, and the photo's size."""

    width: int
    height: int
    plates: list[PhotoPlate]


def read_photo_batch(
    reader, detector, photos_bgr: list[np.ndarray], reading_threshold: float = READING_THRESHOLD
) -> list[PhotoReading]:
    """The plates of each BGR photo: detected, cut as `crop` cuts, read, and kept where the
    reading's per_char_confidence is at least `reading_threshold`; best detection first."""
    from plateocr.cropping import crop_one

    found = detector.detect([cv2.cvtColor(p, cv2.COLOR_BGR2RGB) for p in photos_bgr])
    margin = MARGIN if reader.spec.margin is None else reader.spec.margin  # records that do not say: crop's
    crops, owners = [], []
    for i, (photo, detections) in enumerate(zip(photos_bgr, found)):
        for d in detections:
            crop = crop_one(photo, d.box, reader.size, reader.keep_aspect, margin)
            crops.append(reader.prepare_bgr(crop))
            owners.append((i, d))
    readings = reader.run(np.stack(crops)) if crops else []
    plates: list[list[PhotoPlate]] = [[] for _ in photos_bgr]
    for (i, d), reading in zip(owners, readings):
        if per_char_confidence(reading) >= reading_threshold:
            plates[i].append(PhotoPlate(d.box, d.score, reading))
    return [PhotoReading(p.shape[1], p.shape[0], found) for p, found in zip(photos_bgr, plates)]


def read_photos(
    reader,
    detector,
    loaders: Iterable[Callable[[], np.ndarray]],
    batch_size: int = PHOTO_BATCH_SIZE,
    reading_threshold: float = READING_THRESHOLD,
) -> Iterator[PhotoReading | PlateOCRError]:
    """For each loader (returning a BGR photo), in order: its PhotoReading (read_photo_batch), or
    the PlateOCRError that loading it raised. Photos load on threads while the previous batch is
    detected and read."""
    for batch in prefetch_batches(loaders, batch_size):
        good = [x for x in batch if not isinstance(x, PlateOCRError)]
        results = iter(read_photo_batch(reader, detector, good, reading_threshold) if good else [])
        for x in batch:
            yield x if isinstance(x, PlateOCRError) else next(results)


def photo_loader(path: str | os.PathLike) -> Callable[[], np.ndarray]:
    return lambda: read_bgr(path)


def draw_plates(photo_bgr: np.ndarray, plates: list[PhotoPlate], truths: Iterable = ()) -> np.ndarray:
    """The photo with each found box (green) and its text and scores; annotated boxes (given as
    (box, text) pairs in `truths`) in blue beneath them."""
    out = photo_bgr.copy()
    thick = max(1, round(max(out.shape[:2]) / 500))
    scale = max(0.5, max(out.shape[:2]) / 1200)
    for box, _text in truths:
        x0, x1, y0, y1 = (int(v) for v in box)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (255, 128, 0), thick)
    for p in plates:
        x0, x1, y0, y1 = p.box
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), (0, 200, 0), thick)
        label = f"{p.text or '?'} {p.confidence:.2f} (box {p.detection_score:.2f})"
        (tw, th), base = cv2.getTextSize(label, _FONT, scale, thick)
        y = y0 - 4 if y0 - th - base - 4 > 0 else y1 + th + 4
        cv2.rectangle(out, (x0, y - th - base), (x0 + tw, y + base), (0, 0, 0), -1)
        cv2.putText(out, label, (x0, y), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def save_drawing(path: str | os.PathLike, picture_bgr: np.ndarray) -> str:
    write_bytes_atomic(Path(path), encode_png(picture_bgr, compression=3))
    return str(path)
