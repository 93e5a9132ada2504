"""Synthetic plate crops: determinism, shapes, labels, plate-like content, and `synth --crops`
feeding `plateocr tfrecords`."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from plateocr.charset import Charset
from plateocr.defaults import BASE_ALPHABET, CROP_SIZE, MARGIN
from plateocr.synth.crop_dataset import write_crops
from plateocr.synth.crops import MAX_LABEL, crop_rng, iter_crops, plate_with_holder, render_crop
from plateocr.synth.layouts import two_line


def _take(it, n):
    return list(itertools.islice(it, n))


def test_iter_crops_is_deterministic_per_seed_and_valid():
    a = _take(iter_crops(7), 12)
    b = _take(iter_crops(7), 12)
    c = _take(iter_crops(8), 12)
    assert [t for _, t in a] == [t for _, t in b]
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b))
    assert [t for _, t in a] != [t for _, t in c]
    for img, text in a:
        assert img.shape == (*CROP_SIZE, 3) and img.dtype == np.uint8
        assert 3 <= len(text) <= MAX_LABEL and set(text) <= set(BASE_ALPHABET)
        assert img.std() > 5  # not a blank frame


def test_shards_of_the_stream_give_the_same_crops():
    whole = _take(iter_crops(3), 6)
    evens = _take(iter_crops(3, start=0, step=2), 3)
    odds = _take(iter_crops(3, start=1, step=2), 3)
    merged = [x for pair in zip(evens, odds) for x in pair]
    assert [t for _, t in merged] == [t for _, t in whole]
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(merged, whole))


def test_other_sizes_and_given_text():
    img, text = render_crop(crop_rng(1, 0), text="AB12", size=(32, 100))
    assert img.shape == (32, 100, 3) and text == "AB12"
    img, _ = next(iter_crops(1, size=(200, 200), keep_aspect=True))
    assert img.shape == (200, 200, 3)


def test_the_plate_fills_most_of_the_crop():
    # The crop is the (jittered) plate box plus the crop margin: the middle of the crop is plate,
    # so it holds the text's strong edges; the crop's width-to-height ratio was stretched away.
    strong = 0
    for img, _ in _take(iter_crops(11), 20):
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        h, w = gray.shape
        centre = gray[int(h * 0.25) : int(h * 0.75), int(w * 0.15) : int(w * 0.85)]
        strong += centre.std() > 15
    assert strong >= 14


def test_two_line_plates_and_holders_draw_the_text_rows():
    rng = np.random.default_rng(0)
    plate, label = two_line(rng, "AB1234")
    assert label == "AB1234" and plate.dtype == np.uint8 and plate.shape[1] < 2.5 * plate.shape[0]
    gray = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY).astype(np.float32)
    row_ink = np.abs(gray - np.median(gray)).mean(axis=1)
    h = gray.shape[0]
    top, bottom = row_ink[int(h * 0.15) : h // 2].max(), row_ink[h // 2 : int(h * 0.85)].max()
    assert top > 20 and bottom > 20  # ink in both halves
    sizes = {plate_with_holder(np.random.default_rng(s), "XY123")[0].shape[:2] for s in range(20)}
    assert len(sizes) > 5


def test_write_crops_is_a_crops_folder_for_any_workers(tmp_path):
    one = write_crops(tmp_path / "one", 6, seed=2, workers=1)
    two = write_crops(tmp_path / "two", 6, seed=2, workers=2)
    for name in ("labels.csv", "crop.json"):
        assert (one.out_dir / name).read_bytes() == (two.out_dir / name).read_bytes()
    with open(one.labels, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["text"] for r in rows] == [t for _, t in _take(iter_crops(2), 6)]
    for r in rows:
        a = cv2.imread(str(one.out_dir / r["files"]))
        assert a.shape == (*CROP_SIZE, 3)
        assert np.array_equal(a, cv2.imread(str(two.out_dir / r["files"])))
    assert json.loads((one.out_dir / "crop.json").read_text()) == {
        "size": list(CROP_SIZE),
        "keep_aspect": False,
        "margin": MARGIN,
    }


@pytest.mark.slow
def test_synth_crops_cli_feeds_tfrecords(tmp_path):
    out, records = tmp_path / "crops", tmp_path / "records"
    run = [sys.executable, "-m", "plateocr"]
    done = subprocess.run(
        [*run, "synth", str(out), "--crops", "--count", "12", "--seed", "4", "--workers", "1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    again = subprocess.run([*run, "synth", str(out), "--crops", "--count", "3"], capture_output=True, text=True)
    assert again.returncode != 0 and "--force" in again.stdout + again.stderr
    done = subprocess.run(
        [*run, "tfrecords", str(out), "-o", str(records), "--split", "0.5", "--max-length", "10"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    spec = json.loads((records / "dataset.json").read_text())
    assert spec["image_shape"] == [*CROP_SIZE, 3] and spec["max_sequence_length"] == 10
    assert sum(s["size"] for s in spec["splits"].values()) == 12
    charset = Charset.read(records / spec["charset_file"])
    with open(out / "labels.csv", newline="") as fh:
        texts = {r["text"] for r in csv.DictReader(fh)}

    from plateocr.model.compat import tf

    seen = set()
    shards = [p for s in spec["splits"].values() for p in records.glob(s["pattern"])]
    assert shards
    for shard in shards:
        for raw in tf.data.TFRecordDataset(str(shard)):
            ex = tf.train.Example.FromString(raw.numpy())
            text = ex.features.feature["image/text"].bytes_list.value[0].decode()
            ids = list(ex.features.feature["image/class"].int64_list.value)
            image = tf.io.decode_png(ex.features.feature["image/encoded"].bytes_list.value[0]).numpy()
            assert image.shape == (*CROP_SIZE, 3)
            assert charset.decode(ids) == text and len(ids) == 10
            seen.add(text)
    assert seen == texts
