"""The bundled base model reads plates it never saw: synthetic ones of an unseen seed, and the real
EU plates of ../shared (the issue's zero-shot target, >= 0.80) and the real Argentine crops,
through the public PlateReader."""

from __future__ import annotations

import itertools

import pytest
from conftest import BUNDLED_BASE_MODEL

pytestmark = pytest.mark.slow

UNSEEN_SEED = 90210  # the base-model stages trained on seeds 0-9
AR_FLOOR = 0.80  # the bundled model reads 0.871 (128 of 147); stage 6 read 0.476


@pytest.fixture(scope="module")
def reader():
    from plateocr.inference.reader import PlateReader

    if not (BUNDLED_BASE_MODEL / "config.json").is_file():
        pytest.skip("this install has no bundled base model")
    return PlateReader(BUNDLED_BASE_MODEL)


def test_reads_synthetic_plates_of_an_unseen_seed(reader, builtin_fonts):
    # built-in faces only: the same crops on any machine, whatever fonts it has (with all 25
    # font packages installed the model reads 41 of these 60 plates; built-in faces 47)
    from plateocr.synth.crops import iter_crops

    crops = list(itertools.islice(iter_crops(UNSEEN_SEED), 60))
    readings = reader.read_batch([image for image, _ in crops])
    right = sum(r.text == text for r, (_, text) in zip(readings, crops))
    assert right >= 0.6 * len(crops), [(r.text, t) for r, (_, t) in zip(readings, crops) if r.text != t]


def test_reads_real_plates_zero_shot(reader, real_plates, tmp_path):
    import csv

    from plateocr.cropping import crop_annotations

    result = crop_annotations(real_plates / "annot.csv", out_dir=tmp_path / "crops")
    with open(result.manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    readings = reader.read_batch([result.manifest.parent / row["files"] for row in rows])
    texts = [row["text"] for row in rows]
    misses = [(t, r.text) for t, r in zip(texts, readings) if r.text != t]
    assert len(rows) >= 100
    assert 1 - len(misses) / len(rows) >= 0.80, misses
    # most of the rest are single characters, not garbage
    assert sum(len(t) == len(read) for t, read in misses) >= 0.6 * len(misses), misses


def test_reads_argentine_plates_it_was_never_tuned_on(reader, real_ar_plates):
    # ../shared/realplates/ar: 147 real crops of a country whose plates no renderer change was
    # chosen on alone (every change was judged on eu and ar together). The stage-6 model read
    # 0.48 of them; the bundled model reads 0.87 (see the README); the margin absorbs another
    # CPU's numerics.
    import csv

    with open(real_ar_plates / "labels.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    readings = reader.read_batch([real_ar_plates / "images" / row["files"] for row in rows])
    misses = [(row["text"], r.text) for row, r in zip(rows, readings) if r.text != row["text"]]
    assert len(rows) == 147
    assert 1 - len(misses) / len(rows) >= AR_FLOOR, misses
