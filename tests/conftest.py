"""Shared test data: real photos with plates drawn on them and the CSVs that describe them.

Everything is written into a test's tmp_path, so tests exercise real files. Import the helpers
(`tests/` is on sys.path while pytest runs) or use the fixtures:

    from conftest import make_photos, make_crops, write_csv

    photos = make_photos(tmp_path, [
        ("car1.jpg", "AB123CD", (40, 200, 60, 100)),   # (file, text, (xmin, xmax, ymin, ymax))
        ("car1.jpg", "XY99", (220, 300, 150, 180)),     # a second plate on the same photo
        ("car2.png", "K777", (10, 120, 10, 40)),
    ])
    photos.csv       # tmp_path/annot.csv: files,text,xmin,xmax,ymin,ymax
    photos.images    # tmp_path/images/ holding car1.jpg, car2.png
    photos.read("car1.jpg")  # the photo as written (BGR uint8)

    crops = make_crops(tmp_path / "crops", ["AB123", "K777"])  # plate images + labels.csv

Photos are noisy random backgrounds (seeded, so reproducible) with each plate a filled
rectangle carrying its text in cv2.putText; the file extension picks JPEG or PNG. Use PNG when a
test compares pixels exactly.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import pytest

from plateocr.base_model import BASE_MODEL_DIR as BUNDLED_BASE_MODEL  # noqa: F401  (the fixture below hides it)
from plateocr.defaults import CROP_SIZE

ANNOTATION_COLUMNS = ("files", "text", "xmin", "xmax", "ymin", "ymax")
REPO_ROOT = Path(__file__).resolve().parents[1]
# Mean grey-level difference allowed between a JPEG written here and one written on another
# machine from the same pixels: codecs built for other CPUs (SIMD DCT variants) differ by about
# one level on average (1.0003 seen); another rendering differs by tens (~40 between neighbours).
JPEG_CODEC_SLACK = 3.0
# Real photos (AGPL, never copied into the repo); CI has them beside the repo.
REAL_PLATES = REPO_ROOT.parent / "shared" / "realplates" / "eu"
REAL_AR_PLATES = REPO_ROOT.parent / "shared" / "realplates" / "ar"

Box = tuple[float, float, float, float]  # xmin, xmax, ymin, ymax

# The graph cache (plateocr.user_cache) of this test session, its commands' processes included: a
# folder of its own that goes with it, never the user's.
_CACHE = tempfile.TemporaryDirectory(prefix="plateocr-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE.name


def write_csv(path: str | Path, rows: Iterable[Sequence], header: Sequence[str] = ANNOTATION_COLUMNS) -> Path:
    """A CSV with `header` and `rows` exactly as given (strings or numbers): also for bad rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def random_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A BGR photo-like background: smooth colour blobs plus pixel noise."""
    h, w = size
    coarse = rng.integers(0, 256, size=(max(2, h // 32), max(2, w // 32), 3), dtype=np.uint8)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(-20, 21, size=img.shape)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def draw_plate(
    img: np.ndarray,
    text: str,
    box: Box,
    background: tuple[int, int, int] = (255, 255, 255),
    ink: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Draw a plate in place: the box filled with `background`, `text` fitted inside in `ink`.
    Parts of the box outside the photo are simply not drawn."""
    xmin, xmax, ymin, ymax = (int(round(v)) for v in box)
    cv2.rectangle(img, (xmin, ymin), (xmax - 1, ymax - 1), background, thickness=-1)
    if text:
        font = cv2.FONT_HERSHEY_SIMPLEX
        (tw, th), _ = cv2.getTextSize(text, font, 1.0, 2)
        scale = min(0.9 * (xmax - xmin) / tw, 0.7 * (ymax - ymin) / th)
        thickness = max(1, int(round(2 * scale)))
        (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
        org = (xmin + (xmax - xmin - tw) // 2, ymin + (ymax - ymin + th) // 2)
        cv2.putText(img, text, org, font, scale, ink, thickness, cv2.LINE_AA)
    return img


def write_image(path: str | Path, img: np.ndarray) -> Path:
    """Write a BGR image in the format its extension names (works with any path)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix or ".png", img)
    assert ok, f"cannot encode {path}"
    path.write_bytes(buf.tobytes())
    return path


@dataclass
class PhotoSet:
    root: Path
    csv: Path
    images: Path
    rows: list[tuple[str, str, Box]]  # the plates drawn, in CSV order (without extra_rows)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # file -> (height, width)

    def path(self, file: str) -> Path:
        return self.images / file

    def read(self, file: str) -> np.ndarray:
        img = cv2.imdecode(np.fromfile(self.path(file), dtype=np.uint8), cv2.IMREAD_COLOR)
        assert img is not None, f"cannot read {file}"
        return img


def make_photos(
    root: str | Path,
    rows: Iterable[tuple[str, str, Box]],
    *,
    photo_size: tuple[int, int] = (240, 320),
    sizes: dict[str, tuple[int, int]] | None = None,
    colors: dict[int, tuple[int, int, int]] | None = None,
    extra_rows: Iterable[Sequence] = (),
    images: str = "images",
    csv_name: str = "annot.csv",
    seed: int = 0,
) -> PhotoSet:
    """Write the photos named in `rows` (each once, with all its plates) and the annotation CSV.

    rows: (file, text, (xmin, xmax, ymin, ymax)); several rows may name the same photo.
    photo_size / sizes: (height, width) of every photo / of particular files.
    colors: plate background colour by row index (default white), e.g. to find a box in a crop.
    extra_rows: raw CSV rows appended after `rows` (not drawn): bad rows, missing photos, ...
    images: the photos' folder, relative to root ("" puts them beside the CSV).
    """
    root = Path(root)
    rows = [(f, t, tuple(b)) for f, t, b in rows]
    sizes = dict(sizes or {})
    colors = colors or {}
    rng = np.random.default_rng(seed)
    image_dir = root / images if images else root
    photos: dict[str, np.ndarray] = {}
    for i, (file, text, box) in enumerate(rows):
        if file not in photos:
            sizes.setdefault(file, photo_size)
            photos[file] = random_background(rng, sizes[file])
        draw_plate(photos[file], text, box, background=colors.get(i, (255, 255, 255)))
    for file, img in photos.items():
        write_image(image_dir / file, img)
    csv_rows = [(f, t, *b) for f, t, b in rows] + [list(r) for r in extra_rows]
    csv_path = write_csv(root / csv_name, csv_rows)
    return PhotoSet(root, csv_path, image_dir, rows, {f: sizes[f] for f in photos})


def make_crops(
    folder: str | Path,
    texts: Sequence[str],
    size: tuple[int, int] = CROP_SIZE,
    seed: int = 0,
    labels: str = "labels.csv",
) -> Path:
    """Plate images already cut to `size` (h, w), one per text, plus `labels` (files,text).
    For stages after `crop` (records, predict). Returns the labels CSV path."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    h, w = size
    names = []
    for i, text in enumerate(texts):
        img = random_background(rng, size)
        draw_plate(img, text, (2, w - 2, 2, h - 2))
        name = f"plate{i:04d}.png"
        write_image(folder / name, img)
        names.append((name, text))
    return write_csv(folder / labels, names, header=("files", "text"))


@pytest.fixture
def photo_set(tmp_path) -> PhotoSet:
    """Three photos in tmp_path/images with four plates (two on the first), and annot.csv."""
    return make_photos(
        tmp_path,
        [
            ("car1.jpg", "AB123CD", (40, 200, 60, 100)),
            ("car1.jpg", "XY99", (220, 300, 150, 180)),
            ("car2.png", "K777LM", (30, 170, 120, 160)),
            ("car3.jpg", "PL5", (100, 260, 20, 70)),
        ],
    )


@pytest.fixture(autouse=True)
def no_bundled_base_model(monkeypatch, tmp_path_factory):
    """Tests train and read their own tiny models: hide the bundled base model (a test that
    wants it sets plateocr.base_model.BASE_MODEL_DIR back, e.g. to BUNDLED_BASE_MODEL)."""
    import plateocr.base_model

    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", tmp_path_factory.getbasetemp() / "no_base_model")


@pytest.fixture
def bundled_base_model_float32(tmp_path_factory) -> Path:
    """A copy of the bundled base model without the TFLite file it ships (float16 weights): LiteRT
    converts it with float32 weights, and reads as TensorFlow does to float rounding. A copy per
    test (the first read writes the converted file beside it). Skips the test where this install
    has no bundled base model."""
    import shutil

    from plateocr.inference.tflite_store import TFLITE_SUFFIX

    if not (BUNDLED_BASE_MODEL / "config.json").is_file():
        pytest.skip("this install has no bundled base model")
    copy = tmp_path_factory.mktemp("base_model_float32") / "model"
    shutil.copytree(BUNDLED_BASE_MODEL, copy, ignore=shutil.ignore_patterns(f"*{TFLITE_SUFFIX}"))
    return copy


@pytest.fixture
def real_plates() -> Path:
    """The folder of real EU photos and annot.csv from ../shared; skips the test when absent."""
    if not (REAL_PLATES / "annot.csv").is_file():
        pytest.skip(f"{REAL_PLATES} not present")
    return REAL_PLATES


@pytest.fixture
def real_ar_plates() -> Path:
    """The folder of real Argentine crops and labels.csv from ../shared; skips when absent."""
    if not (REAL_AR_PLATES / "labels.csv").is_file():
        pytest.skip(f"{REAL_AR_PLATES} not present")
    return REAL_AR_PLATES


@pytest.fixture
def builtin_fonts():
    """The renderer draws with its built-in faces only (as data/sample was made), whatever fonts
    this machine has; the default (system fonts) is restored afterwards."""
    from plateocr.synth.outline_fonts import FontChoice, use_fonts

    use_fonts(FontChoice(system=False))
    yield
    use_fonts(None)


def pixel_bomb_png(width: int = 60000, height: int = 60000) -> bytes:
    """A tiny PNG whose header announces width x height 8-bit RGB pixels (a "pixel bomb":
    decoding it would allocate gigabytes, or OpenCV refuses it with a cv2.error)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


@contextlib.contextmanager
def file_size_limit(nbytes: int):
    """Writes past `nbytes` fail with EFBIG inside the block, as a full disk or `ulimit -f`
    would make them fail (Python ignores SIGXFSZ)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
