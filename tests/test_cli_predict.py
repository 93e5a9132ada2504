"""`plateocr predict`: arguments, error rows, output formats, --annotations, attention pictures,
and agreement with `eval` on the same crops."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_crops, make_photos, pixel_bomb_png
from tiny_model import random_model_dir
from typer.testing import CliRunner

from plateocr.cli import app

SIZE = (32, 96)
TEXTS = ["AB12", "CD345", "EF6", "K9"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return random_model_dir(tmp_path_factory.mktemp("predict") / "model", TEXTS, size=SIZE).path


@pytest.fixture
def crops(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_crops(tmp_path / "crops", TEXTS, size=SIZE)  # also writes crops/labels.csv
    return tmp_path / "crops"


def invoke(*args, input=None):
    return CliRunner().invoke(app, ["predict", *map(str, args)], input=input)


def test_glob_folder_and_stdin_give_one_row_per_image_with_error_rows(model, crops):
    (crops / "broken.png").write_bytes(b"junk")
    res = invoke("crops/plate0003.png", "nothere.png", "crops/*", "--model-dir", model, "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    # in argument order; the glob gives images only (not labels.csv), each image once
    assert [r["path"] for r in rows] == ["crops/plate0003.png", "nothere.png", "crops/broken.png"] + [
        f"crops/plate{i:04d}.png" for i in range(3)
    ]
    assert rows[1]["error"] == "no such file or directory" and rows[1]["text"] == ""
    assert "not a readable image" in rows[2]["error"]
    rows = [rows[3], rows[4], rows[5], rows[0]]  # plate0000..0003
    for r in rows:
        assert r["error"] == "" and r["text"]
        chars = [float(c) for c in r["char_confidences"].split()]
        assert len(chars) == len(r["text"]) and all(0 < c <= 1 for c in chars)
        assert 0 < float(r["confidence"]) <= min(chars)

    # the same images by folder and by stdin read the same
    by_dir = json.loads(invoke("crops", "--model-dir", model, "--format", "json").stdout)
    by_stdin = json.loads(
        invoke("-", "--model-dir", model, "--format", "json", input="crops/plate0000.png\ncrops/plate0001.png\n").stdout
    )
    assert [d["path"] for d in by_dir] == ["crops/broken.png"] + [f"crops/plate{i:04d}.png" for i in range(4)]
    assert by_dir[1]["text"] == rows[0]["text"] and by_dir[1]["confidence"] == pytest.approx(
        float(rows[0]["confidence"]), rel=1e-5
    )
    assert [d["path"] for d in by_stdin] == [d["path"] for d in by_dir[1:3]]
    assert [d["text"] for d in by_stdin] == [d["text"] for d in by_dir[1:3]]
    # batch composition moves floats by ~1e-6 only
    assert [d["confidence"] for d in by_stdin] == pytest.approx([d["confidence"] for d in by_dir[1:3]], rel=1e-4)


def test_a_pixel_bomb_is_an_error_row_and_the_other_images_are_read(model, crops, tmp_path):
    (tmp_path / "bomb.png").write_bytes(pixel_bomb_png(60000, 60000))
    res = invoke("crops/plate0000.png", "bomb.png", "crops/plate0001.png", "--model-dir", model, "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["path"] for r in rows] == ["crops/plate0000.png", "bomb.png", "crops/plate0001.png"]
    assert rows[1]["error"] == "image too large to decode (60000x60000 pixels; the limit is 120 megapixels)"
    assert rows[0]["text"] and rows[2]["text"] and not rows[0]["error"] and not rows[2]["error"]


def test_exit_status_is_non_zero_only_when_nothing_could_be_read(model, crops, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"junk")
    res = invoke("bad.png", "missing.png", "--model-dir", model)
    assert res.exit_code == 1
    assert "no image could be read" in res.output
    assert invoke("bad.png", "crops/plate0000.png", "--model-dir", model).exit_code == 0


def test_output_file_is_written_atomically_and_not_overwritten_without_force(model, crops, tmp_path):
    out = tmp_path / "preds.json"
    res = invoke("crops", "--model-dir", model, "--out", out)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())  # format from the extension
    assert len(data) == 4 and set(data[0]) >= {"path", "text", "confidence", "char_confidences", "error"}
    before = out.read_text()
    res = invoke("crops/plate0000.png", "--model-dir", model, "-o", out)
    assert res.exit_code != 0 and "--force" in str(res.exception)
    assert out.read_text() == before
    res = invoke("crops/plate0000.png", "--model-dir", model, "--out", out, "--force", "--format", "table")
    assert res.exit_code == 0 and "plate0000.png" in out.read_text() and "1 of 1 plates read" in out.read_text()
    assert not list(tmp_path.glob(".preds.json.*"))


def test_attention_pictures_show_the_crop_and_each_character(model, crops, tmp_path):
    res = invoke("crops", "--model-dir", model, "--attention", tmp_path / "att", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    for d in data:
        pic = cv2.imread(d["attention"])
        assert pic is not None and Path(d["attention"]).parent == tmp_path / "att"
        # the crop tile plus one tile per character, each at least the crop's size
        tiles = 1 + len(d["text"])
        assert pic.shape[0] * pic.shape[1] >= tiles * SIZE[0] * SIZE[1]
    assert sorted(p.name for p in (tmp_path / "att").iterdir()) == [f"plate{i:04d}.png" for i in range(4)]
    res = invoke("crops", "--model-dir", model, "--attention", tmp_path / "att")
    assert res.exit_code != 0 and "--force" in str(res.exception)


def test_annotations_cut_plates_in_memory_like_crop(model, tmp_path, monkeypatch):
    from plateocr import PlateReader
    from plateocr.cropping import crop_one
    from plateocr.defaults import MARGIN

    monkeypatch.chdir(tmp_path)
    photos = make_photos(
        tmp_path,
        [
            ("car1.png", "AB12", (40, 200, 60, 100)),
            ("car1.png", "K9", (220, 300, 150, 180)),
            ("car2.png", "EF6", (30, 170, 120, 160)),
        ],
        extra_rows=[
            ("car2.png", "", 1, 2, 3, 4),
            ("car2.png", "XY1", 500, 600, 10, 20),
            ("gone.png", "AB12", 1, 50, 1, 20),
        ],
    )
    res = invoke("--annotations", photos.csv, "--model-dir", model, "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [(r["line"], r["truth"]) for r in rows] == [
        (2, "AB12"),
        (3, "K9"),
        (4, "EF6"),
        (5, None),
        (6, "XY1"),
        (7, "AB12"),
    ]
    assert rows[3]["error"] == "empty text"
    assert "box lies outside the 320x240 photo" in rows[4]["error"] and "image not found" in rows[5]["error"]
    assert all(r["error"] is None for r in rows[:3])
    assert rows[0]["photo"].endswith("car1.png") and rows[0]["correct"] == (rows[0]["text"] == "AB12")
    # what the crop stage would have cut, read directly, gives the same reading
    with PlateReader(model) as reader:
        crop = crop_one(photos.read("car1.png"), (220, 300, 150, 180), SIZE, False, MARGIN)
        direct = reader.read(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
    assert rows[1]["text"] == direct.text and rows[1]["confidence"] == pytest.approx(direct.confidence, rel=1e-4)


def test_bad_invocations_are_one_line_errors(model, crops):
    assert "no images given" in str(invoke("--model-dir", model).exception)
    res = invoke("crops", "--model-dir", model, "--format", "xml")  # refused while parsing, before any reading
    assert res.exit_code == 2 and "'--format'" in res.output and "'xml' is not one of" in res.output
    res = invoke("crops", "--model-dir", "nomodel")
    assert res.exit_code != 0 and "model directory not found" in str(res.exception)


@pytest.mark.slow
def test_predict_on_the_crops_reproduces_eval(tmp_path, monkeypatch):
    """Used-by order: crops -> tfrecords -> train; `predict crops/*.png` then reads exactly what
    eval scored: same texts, same confidences, same sequence accuracy."""
    from plateocr.training.evaluate import evaluate
    from plateocr.training.loop import train
    from plateocr.records import RecordsOptions, write_records
    from tiny_model import TINY

    monkeypatch.chdir(tmp_path)
    texts = ["AB12", "CD345", "EF6", "K9", "XY77", "PL5"]
    make_crops(tmp_path / "crops", texts, size=SIZE)
    write_records(tmp_path / "crops", tmp_path / "records", RecordsOptions(split=1.0, val=0, size=SIZE))
    train(
        tmp_path / "records",
        tmp_path / "model",
        {"steps": 60, "batch_size": 6, "optimizer": "adam", "learning_rate": 0.003, "augment": False, "seed": 1},
        config_overrides=TINY,
    )
    ev = evaluate(tmp_path / "model", tmp_path / "records", split="train")
    res = invoke("crops/*.png", "--format", "json")  # as written: model/ is the default
    assert res.exit_code == 0, res.output
    labels = {r["files"]: r["text"] for r in csv.DictReader(open(tmp_path / "crops" / "labels.csv"))}
    by_truth = {labels[Path(d["path"]).name]: d for d in json.loads(res.stdout)}
    assert len(by_truth) == len(texts) == ev.num_examples
    for e in ev.examples:
        assert by_truth[e.truth]["text"] == e.prediction
        assert by_truth[e.truth]["confidence"] == pytest.approx(e.confidence, rel=1e-4)
    predict_accuracy = np.mean([d["text"] == t for t, d in by_truth.items()])
    assert predict_accuracy == pytest.approx(ev.sequence_accuracy)
    assert ev.sequence_accuracy > 0  # it learnt something, so the equality says something


@pytest.mark.slow
def test_without_a_model_dir_predict_reads_with_the_bundled_base_model(tmp_path, monkeypatch):
    import plateocr.base_model
    from conftest import BUNDLED_BASE_MODEL

    if not (BUNDLED_BASE_MODEL / "config.json").is_file():
        pytest.skip("this install has no bundled base model")
    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", BUNDLED_BASE_MODEL)
    monkeypatch.chdir(tmp_path)
    texts = ["AB123CD", "XY9876", "K777LM", "PL55"]
    make_crops(tmp_path / "crops", texts)  # no model/ here
    out = invoke("crops/*.png", "--out", "read.csv")
    assert out.exit_code == 0, out.output
    assert "bundled base model" in out.output
    with open(tmp_path / "read.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(texts) and all(r["error"] == "" for r in rows)
    assert all(set(r["text"]) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for r in rows)
