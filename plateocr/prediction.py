"""`plateocr predict`: what to read (image files, or plates cut from photos in memory), reading it
with a PlateReader, and one row per plate, with an error row for anything unreadable.

No TensorFlow here: the reader is passed in (plateocr.inference.reader.PlateReader).
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from plateocr.attention_view import attention_picture, save_attention_picture
from plateocr.defaults import MARGIN, READ_BATCH_SIZE, READING_THRESHOLD
from plateocr.errors import PlateOCRError
from plateocr.imaging import read_bgr

Progress = Callable[[int, int], None]  # (plates done, plates in total)


@dataclass(frozen=True)
class PlateSource:
    """One plate to read: `load()` returns it as a BGR image of any size (or raises PlateOCRError)."""

    path: str  # the image file (a crop, or the photo the plate is cut from)
    load: Callable[[], np.ndarray]
    picture_name: str  # file name of its attention picture
    line: int | None = None  # annotation CSV line, with --annotations
    truth: str | None = None  # annotated text, with --annotations


@dataclass
class PredictionRow:
    path: str
    text: str = ""
    confidence: float | None = None
    char_confidences: tuple[float, ...] = ()
    error: str = ""
    line: int | None = None
    truth: str | None = None
    attention: str = ""  # the attention picture written, if any
    # predict --detect: the box found in the photo, its score, and a note for a photo without
    # plates, a plate missed or a box where none is annotated
    box: tuple[int, int, int, int] | None = None
    detection_score: float | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def correct(self) -> bool | None:
        """Whether the text equals the annotated truth (None without a truth or on error; False
        for an annotated plate the detector missed)."""
        if self.truth is None or self.error:
            return None
        if self.box is None and self.note:
            return False
        return self.text == self.truth


@dataclass
class PredictResult:
    rows: list[PredictionRow]
    annotated: bool  # rows come from an annotation CSV (photo, line, truth)
    detected: bool = False  # rows are plates found in whole photos (predict --detect)
    detection: dict | None = None  # with --annotations --detect: plateocr.detection.scoring's counts

    @property
    def read(self) -> list[PredictionRow]:
        return [r for r in self.rows if r.ok and not r.note]

    @property
    def failed(self) -> list[PredictionRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def sequence_accuracy(self) -> float | None:
        """Exactly-read plates / plates with a truth that could be read (None without truths)."""
        judged = [r.correct for r in self.rows if r.correct is not None]
        return sum(judged) / len(judged) if judged else None


# --- sources ----------------------------------------------------------------------------------


def _unique_names(stems: Iterable[str]) -> list[str]:
    """`<stem>.png` for each, with _2, _3... added where stems repeat (a.png and a.jpg)."""
    counts: dict[str, int] = {}
    names = []
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
        names.append(f"{stem}.png" if counts[stem] == 1 else f"{stem}_{counts[stem]}.png")
    return names


def sources_from_paths(paths: Iterable[str | os.PathLike]) -> list[PlateSource]:
    """One source per image file (a crop, or any picture of a plate)."""
    paths = [Path(p) for p in paths]
    names = _unique_names(p.stem for p in paths)
    return [PlateSource(str(p), functools.partial(read_bgr, p), n) for p, n in zip(paths, names)]


class _PhotoCache:
    """Decoded photos shared by the plates cut from them (rows of a photo are usually adjacent)."""

    def __init__(self, keep: int = 8):
        self._lock = threading.Lock()
        self._photos: dict[str, tuple[threading.Lock, list]] = {}
        self._keep = keep

    def get(self, path: str) -> np.ndarray:
        with self._lock:
            entry = self._photos.get(path)
            if entry is None:
                entry = self._photos[path] = (threading.Lock(), [])
                while len(self._photos) > self._keep:
                    self._photos.pop(next(iter(self._photos)))
        lock, slot = entry
        with lock:  # one decode per photo, even when its plates load on several threads
            if not slot:
                slot.append(read_bgr(path))
            return slot[0]


def _cut(photos: _PhotoCache, photo: str, annotation, size, keep_aspect: bool, margin: float) -> np.ndarray:
    from plateocr.cropping import box_problem, crop_one

    image = photos.get(photo)
    height, width = image.shape[:2]
    box = annotation.pixel_box(width, height)
    problem = box_problem(box, width, height)
    if problem:
        raise PlateOCRError(f"{photo} (line {annotation.line}): {problem}")
    return crop_one(image, box, size, keep_aspect, margin)


def sources_from_annotations(
    annot_csv: str | os.PathLike,
    size: tuple[int, int],
    keep_aspect: bool,
    margin: float | None = None,
    images_dir: str | os.PathLike | None = None,
) -> tuple[list[PlateSource], list]:
    """One source per good annotation row, cut from its photo in memory the way `crop` cuts it,
    and the rows skipped (empty text, bad box...). Photos are looked up like `crop` does:
    `images/` beside the CSV if present, else the CSV's folder."""
    # Imported here: the crop stage costs a cold `predict IMAGE` time it does not need.
    from plateocr.annotations import read_annotations
    from plateocr.cropping import crop_name, default_images_dir

    annotations, problems = read_annotations(annot_csv)
    folder = Path(images_dir) if images_dir is not None else default_images_dir(annot_csv)
    margin = MARGIN if margin is None else margin
    photos = _PhotoCache()
    sources = []
    for a in annotations:
        photo = os.path.normpath(folder / a.file)
        load = functools.partial(_cut, photos, photo, a, tuple(size), keep_aspect, margin)
        sources.append(PlateSource(photo, load, crop_name(a), line=a.line, truth=a.text))
    return sources, problems


# --- reading ----------------------------------------------------------------------------------


def _error_text(path: str, error: PlateOCRError) -> str:
    """The reason alone: the row already names the file."""
    text = str(error)
    for prefix in (f"{path}: ", f"{path} "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def predict_sources(
    reader,
    sources: list[PlateSource],
    batch_size: int = READ_BATCH_SIZE,
    attention_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    annotated: bool = False,
) -> PredictResult:
    """Read every source with `reader` (a PlateReader), in order; unreadable ones give error rows.
    With `attention_dir`, also write one attention picture per plate read."""
    out_dir = Path(attention_dir) if attention_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    loaders = [lambda s=s: reader.prepare_bgr(s.load()) for s in sources]
    rows: list[PredictionRow] = []
    results = reader.read_many(loaders, batch_size, attention=out_dir is not None)
    for source, (image, reading) in zip(sources, results):
        row = PredictionRow(source.path, line=source.line, truth=source.truth)
        if isinstance(reading, PlateOCRError):
            row.error = _error_text(source.path, reading)
        else:
            row.text = reading.text
            row.confidence = reading.confidence
            row.char_confidences = reading.char_confidences
            if out_dir is not None:
                picture = attention_picture(
                    image, reading.attention, reading.text, reading.char_confidences, reading.confidence
                )
                target = out_dir / source.picture_name
                save_attention_picture(target, picture)
                row.attention = str(target)
        rows.append(row)
        if progress:
            progress(len(rows), len(sources))
    return PredictResult(rows, annotated)


def check_arguments(
    images: list[str], annotations, batch_size: int, attention_dir: str | os.PathLike | None, force: bool
) -> None:
    """Refuse what predict cannot do, before the model is loaded (seconds of TensorFlow)."""
    from plateocr.outputs import check_can_write

    if annotations is None and not images:
        raise PlateOCRError("no images given (name files, globs, folders, or - to read paths from stdin)")
    if annotations is not None and images:
        raise PlateOCRError("give either images or --annotations, not both")
    if attention_dir is not None:
        check_can_write(attention_dir, force, "attention folder", folder=True)
    if batch_size < 1:
        raise PlateOCRError(f"--batch-size {batch_size}: must be at least 1")


def predict(
    images: Iterable[str] = (),
    *,
    model_dir: str | os.PathLike | None = None,
    annotations: str | os.PathLike | None = None,
    images_dir: str | os.PathLike | None = None,
    checkpoint: str | None = None,
    batch_size: int = READ_BATCH_SIZE,
    attention_dir: str | os.PathLike | None = None,
    force: bool = False,
    stdin=None,
    progress: Progress | None = None,
    reader=None,
) -> PredictResult:
    """Read the plates in `images` (files, globs, folders, '-' for paths on `stdin`) or, with
    `annotations`, the plates the CSV boxes on its photos (cut in memory, as `crop` cuts them).

    Names that give no image and annotation rows that cannot be used become error rows; the
    rest are read with one PlateReader (pass `reader` to reuse one). Raises PlateOCRError when
    there is nothing to read, or when `attention_dir` holds files and `force` is not set.
    """
    from plateocr.image_paths import expand_image_args

    images = list(images)
    check_arguments(images, annotations, batch_size, attention_dir, force)

    own_reader = reader is None
    if own_reader:
        from plateocr.inference.reader import PlateReader

        reader = PlateReader(model_dir, checkpoint)
    try:
        early: list[tuple[int, PredictionRow]] = []  # (rows before it, error row)
        if annotations is not None:
            margin = reader.spec.margin
            sources, problems = sources_from_annotations(
                annotations, reader.size, reader.keep_aspect, margin, images_dir
            )
            early = [(0, PredictionRow(p.image, error=p.reason, line=p.line)) for p in problems]
        else:
            paths, missing = expand_image_args(images, stdin)
            sources = sources_from_paths(paths)
            early = [(u.before, PredictionRow(u.name, error=u.reason)) for u in missing]
        result = predict_sources(
            reader, sources, batch_size, attention_dir, progress, annotated=annotations is not None
        )
    finally:
        if own_reader:
            reader.close()
    result.rows = _merge(result.rows, early)
    if result.annotated:
        result.rows.sort(key=lambda r: r.line or 0)
    return result


def _merge(rows: list[PredictionRow], inserts: list[tuple[int, PredictionRow]]) -> list[PredictionRow]:
    """`rows` with each insert placed after the first `n` of them, keeping the inserts' order."""
    merged, taken = [], 0
    for n, row in inserts:
        merged += rows[taken:n]
        taken = max(taken, n)
        merged.append(row)
    return merged + rows[taken:]


# --- whole photos (--detect) -------------------------------------------------------------------


def _photo_row(path: str, plate, line=None, truth=None, note: str = "") -> PredictionRow:
    r = plate.reading
    return PredictionRow(
        path,
        text=r.text,
        confidence=r.confidence,
        char_confidences=r.char_confidences,
        line=line,
        truth=truth,
        box=plate.box,
        detection_score=plate.detection_score,
        note=note,
    )


def predict_photos(
    reader,
    detector,
    images: Iterable[str] = (),
    *,
    annotations: str | os.PathLike | None = None,
    images_dir: str | os.PathLike | None = None,
    attention_dir: str | os.PathLike | None = None,
    stdin=None,
    progress: Progress | None = None,
    reading_threshold: float = READING_THRESHOLD,
) -> PredictResult:
    """Find and read the plates of whole photos (plateocr.photo_reading): one row per plate
    found (a box kept where its reading's per-character confidence is at least
    `reading_threshold`), a row saying so for a photo without one, an
    error row for a photo that does not load (with `annotations`, one per annotated row of it,
    naming its line and text).

    With `annotations` the photos are the CSV's: found boxes are matched to the annotated ones
    (IoU >= 0.5, plateocr.detection.scoring), rows carry the annotated text, plates missed and
    boxes where none is annotated get rows saying so, and `detection` holds recall, precision
    and plates read exactly. With `attention_dir`, each photo is drawn with its boxes and texts.
    """
    from plateocr.detection.scoring import DetectionScore
    from plateocr.image_paths import expand_image_args
    from plateocr.photo_reading import draw_plates, photo_loader, read_photos, save_drawing

    early: list[tuple[int, PredictionRow]] = []
    truths: dict[str, list] = {}
    if annotations is not None:
        from plateocr.annotations import read_annotations
        from plateocr.cropping import default_images_dir

        rows, problems = read_annotations(annotations)
        folder = Path(images_dir) if images_dir is not None else default_images_dir(annotations)
        for a in rows:
            truths.setdefault(os.path.normpath(folder / a.file), []).append(a)
        paths = list(truths)
        early = [(0, PredictionRow(p.image, error=p.reason, line=p.line)) for p in problems]
    else:
        found, missing = expand_image_args(list(images), stdin)
        paths = [str(p) for p in found]
        early = [(u.before, PredictionRow(u.name, error=u.reason)) for u in missing]
    out_dir = Path(attention_dir) if attention_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    names = _unique_names(Path(p).stem for p in paths)
    score = DetectionScore() if annotations is not None else None
    result_rows: list[PredictionRow] = []
    rows_before: list[int] = []  # rows of the photos before each photo, for placing `early`
    found_in = read_photos(reader, detector, map(photo_loader, paths), reading_threshold=reading_threshold)
    for done, (path, found) in enumerate(zip(paths, found_in), 1):
        rows_before.append(len(result_rows))
        if isinstance(found, PlateOCRError):  # each annotated row of the photo names its line
            why = _error_text(path, found)
            lines = [(a.line, a.text) for a in truths.get(path, [])] or [(None, None)]
            result_rows += [PredictionRow(path, error=why, line=line, truth=text) for line, text in lines]
            if progress:
                progress(done, len(paths))
            continue
        annotated, plates = truths.get(path, []), found.plates
        if score is not None:
            photo_rows = _match_rows(path, found, annotated, score)
        else:
            photo_rows = [_photo_row(path, p) for p in plates] or [PredictionRow(path, note="no plate found")]
        result_rows.extend(photo_rows)
        if out_dir is not None:
            photo = read_bgr(path)
            shown = [(a.pixel_box(photo.shape[1], photo.shape[0]), a.text) for a in annotated]
            target = save_drawing(out_dir / names[done - 1], draw_plates(photo, plates, shown))
            for r in photo_rows:
                r.attention = target
        if progress:
            progress(done, len(paths))
    rows_before.append(len(result_rows))
    early = [(rows_before[min(n, len(paths))], row) for n, row in early]  # photos before -> rows before
    result = PredictResult(_merge(result_rows, early), annotations is not None, detected=True)
    if score is not None:
        result.detection = score.to_dict()
    return result


def _match_rows(path: str, found, annotated, score) -> list[PredictionRow]:
    """Rows of one annotated photo (a PhotoReading): each found plate with the annotation it
    matches, the boxes matching none, and the annotated plates no box found."""
    from plateocr.cropping import box_problem

    plates, bad = found.plates, []
    for a in annotated:  # a box no crop could be cut from is an error row, as predict --annotations has it
        problem = box_problem(a.pixel_box(found.width, found.height), found.width, found.height)
        if problem:
            bad.append(PredictionRow(path, error=problem, line=a.line, truth=a.text))
    annotated = [a for a in annotated if a.line not in {r.line for r in bad}]
    true_boxes = [a.pixel_box(found.width, found.height) for a in annotated]
    m = score.add(
        [p.box for p in plates],
        [p.detection_score for p in plates],
        true_boxes,
        [p.text for p in plates],
        [a.text for a in annotated],
    )
    rows = [_photo_row(path, plates[p], annotated[t].line, annotated[t].text) for p, t in m.pairs]
    rows += [_photo_row(path, plates[p], note="no annotated plate here") for p in m.unmatched_predictions]
    rows += [
        PredictionRow(path, line=annotated[t].line, truth=annotated[t].text, note="missed: no plate found here")
        for t in m.unmatched_truths
    ]
    return sorted(rows + bad, key=lambda r: (r.line is None, r.line or 0))
