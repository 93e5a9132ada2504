"""Synthetic plates and photos: determinism, labels, boxes that really hold the plate, and the CLI."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import JPEG_CODEC_SLACK, REPO_ROOT
from plateocr.annotations import COLUMNS, read_annotations
from plateocr.cli import main
from plateocr.defaults import BASE_ALPHABET, CROP_SIZE
from plateocr.synth import image_rng, random_text, render_plate, render_scene, write_dataset
from plateocr.synth import font

LABEL = re.compile(r"^[0-9A-Z]{5,8}$")


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(annot):
    with open(annot, newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_gives_identical_files_for_any_workers(tmp_path):
    one = write_dataset(tmp_path / "one", count=5, seed=3, workers=1)
    two = write_dataset(tmp_path / "two", count=5, seed=3, workers=2)
    a, b = _files(one.out_dir), _files(two.out_dir)
    assert len(a) == 6 and a.keys() == b.keys()  # 5 photos + annot.csv
    assert a == b
    assert one.plates == two.plates == len(_rows(one.annot))


def test_different_seeds_give_different_photos_and_labels(tmp_path):
    a = write_dataset(tmp_path / "a", count=3, seed=3)
    b = write_dataset(tmp_path / "b", count=3, seed=4)
    assert a.annot.read_text() != b.annot.read_text()
    for name in ("synth_000000.jpg", "synth_000001.jpg", "synth_000002.jpg"):
        assert (a.out_dir / "images" / name).read_bytes() != (b.out_dir / "images" / name).read_bytes()


def test_annot_csv_columns_and_rows_fit_their_photos(tmp_path):
    result = write_dataset(tmp_path / "out", count=4, seed=7)
    with open(result.annot, newline="") as fh:
        assert next(csv.reader(fh)) == list(COLUMNS)
    annotations, problems = read_annotations(result.annot)
    assert problems == []
    assert len(annotations) == result.plates >= 4
    for a in annotations:
        photo = cv2.imread(str(tmp_path / "out" / "images" / a.file))
        assert photo.shape == (480, 640, 3)
        xmin, xmax, ymin, ymax = a.box
        assert 0 <= xmin < xmax <= 640 and 0 <= ymin < ymax <= 480
        assert LABEL.match(a.text)


def test_scene_boxes_are_the_plates_mask_bounding_boxes():
    counts = []
    for i in range(25):
        photo, plates, labels = render_scene(np.random.default_rng([11, i]), with_mask=True)
        assert photo.shape == (480, 640, 3) and photo.dtype == np.uint8
        assert labels.shape == (480, 640) and set(np.unique(labels)) == set(range(len(plates) + 1))
        counts.append(len(plates))
        for k, (text, (xmin, xmax, ymin, ymax)) in enumerate(plates, 1):
            assert LABEL.match(text)
            ys, xs = np.nonzero(labels == k)
            assert (xmin, xmax, ymin, ymax) == (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1)
            assert 0 <= xmin and xmax <= 640 and 0 <= ymin and ymax <= 480
            # slight rotation and perspective only: the plate fills much of its box; readable size
            assert len(xs) > 0.5 * (xmax - xmin) * (ymax - ymin)
            assert 80 <= xmax - xmin <= 280 and ymax - ymin >= 12
        boxes = [b for _, b in plates]
        for j, a in enumerate(boxes):
            for b in boxes[j + 1 :]:
                assert a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2], (a, b)
    assert 1 in counts and max(counts) >= 2 and max(counts) <= 3


def test_scene_plate_pixels_are_the_rendered_plate():
    # The mask marks the warped plate: ink on a plate background, so strong contrast inside it.
    photo, plates, labels = render_scene(np.random.default_rng(5), with_mask=True)
    for k, (_, (xmin, xmax, ymin, ymax)) in enumerate(plates, 1):
        inside = labels[ymin:ymax, xmin:xmax] == k
        grey = cv2.cvtColor(photo[ymin:ymax, xmin:xmax], cv2.COLOR_BGR2GRAY)[inside]
        assert np.percentile(grey, 95) - np.percentile(grey, 5) > 40


def test_car_photo_boxes_are_the_visible_plates_mask_bounding_boxes():
    """render_photo (the detector's scenes): 0-4 plates of many sizes, each box the bounding box
    of the plate's visible pixels, which show the plate's contrast; determinism per seed."""
    from plateocr.synth.scene import render_photo

    widths, counts = [], []
    for i in range(30):
        photo, plates, labels = render_photo(np.random.default_rng([12, i]), 512, 384, with_mask=True)
        assert photo.shape == (384, 512, 3) and photo.dtype == np.uint8 and labels.shape == (384, 512)
        assert set(np.unique(labels)) == set(range(len(plates) + 1))
        counts.append(len(plates))
        for k, (text, (xmin, xmax, ymin, ymax)) in enumerate(plates, 1):
            assert LABEL.match(text)
            ys, xs = np.nonzero(labels == k)
            assert (xmin, xmax, ymin, ymax) == (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1)
            grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)[ys, xs]
            assert np.percentile(grey, 95) - np.percentile(grey, 5) > 15
            widths.append(xmax - xmin)
    assert 0 in counts and max(counts) >= 2 and max(counts) <= 4
    assert min(widths) < 50 and max(widths) > 150
    a, b = render_photo(np.random.default_rng(3)), render_photo(np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_random_texts_are_5_to_8_plate_characters_of_many_patterns():
    rng = np.random.default_rng(0)
    texts = [random_text(rng) for _ in range(500)]
    assert all(LABEL.match(t) for t in texts)
    assert {len(t) for t in texts} == {5, 6, 7, 8}
    assert set("".join(texts)) == set(BASE_ALPHABET)
    assert any(t[0].isdigit() for t in texts) and any(t[0].isalpha() for t in texts)


def test_random_texts_follow_national_formats_often():
    """Half the texts come from real formats, so the reader learns where letters and digits go."""
    from plateocr.synth.plate import FORMATS

    def shape(t):
        return "".join("N" if c.isdigit() else "L" for c in t)

    shapes = {f.replace(" ", "") for f in FORMATS}
    rng = np.random.default_rng(3)
    texts = [random_text(rng) for _ in range(1000)]
    share = np.mean([shape(t) in shapes for t in texts])
    assert 0.42 <= share <= 0.8  # the formats, plus generic patterns that happen to match one
    assert sum(shape(t) == "LLNNNLL" for t in texts) >= 15


def test_same_oval_plates_draw_o_exactly_as_zero():
    from plateocr.synth.plate import text_mask

    for seed in range(12):
        zero = text_mask(np.random.default_rng([seed, 4]), "AB 101", same_oval=True)
        letter = text_mask(np.random.default_rng([seed, 4]), "AB 1O1", same_oval=True)
        assert np.array_equal(zero, letter), seed
        apart = text_mask(np.random.default_rng([seed, 4]), "AB 1O1")
        assert not np.array_equal(zero, apart), seed


def test_stroke_font_has_a_tall_middle_w_variant():
    plain, tall = np.zeros((60, 60), np.uint8), np.zeros((60, 60), np.uint8)
    font.draw_text(plain, "W", (10, 10), 40, 30, 0, 3)
    font.draw_text(tall, "W", (10, 10), 40, 30, 0, 3, glyphs={**font.GLYPHS, "W": font.W_TALL})
    middle = slice(24, 36)  # the columns around the middle apex; the tall one reaches the top rows
    assert tall[10:14, middle].max() == 255 and plain[10:14, middle].max() == 0


def test_render_plate_keeps_a_given_text_and_has_plate_shape():
    rng = np.random.default_rng(1)
    plate, text = render_plate(rng, "AB123CD")
    assert text == "AB123CD"
    with pytest.raises(ValueError, match="plate text"):
        render_plate(rng, "AB-12")
    for _ in range(40):
        plate, text = render_plate(rng)
        h, w, c = plate.shape
        assert c == 3 and plate.dtype == np.uint8 and 50 <= h <= 72 and 2.7 <= w / h <= 5.6
        assert LABEL.match(text)
        assert plate.std() > 20  # text drawn on the plate


def test_render_plate_is_deterministic():
    a, ta = render_plate(np.random.default_rng([2, 9]))
    b, tb = render_plate(np.random.default_rng([2, 9]))
    assert ta == tb and np.array_equal(a, b)


def test_stroke_font_draws_every_character_differently():
    masks = {}
    for c in BASE_ALPHABET:
        assert c in font.GLYPHS
        img = np.zeros((60, 60), np.uint8)
        font.draw_text(img, c, (10, 10), 40, 30, 0, 4)
        assert img.max() == 255
        masks[c] = img > 127
    chars = list(masks)
    for i, a in enumerate(chars):
        for b in chars[i + 1 :]:
            union = (masks[a] | masks[b]).sum()
            assert (masks[a] & masks[b]).sum() / union < 0.85, (a, b)


def _plateocr(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "plateocr", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "120"},
    )


def test_hershey_zeros_are_mostly_narrow_unslashed_os():
    """Plate fonts draw 0 as a narrow O; Hershey slashes it. The renderer draws most zeros
    without the slash, narrower than the letter O."""
    from plateocr.synth.plate import _hershey_text_mask, _ink_crop

    plain = 0
    for seed in range(40):
        zero = _ink_crop(_hershey_text_mask(np.random.default_rng([seed, 1]), "0"))
        letter = _ink_crop(_hershey_text_mask(np.random.default_rng([seed, 1]), "O"))
        h, w = zero.shape
        centre = zero[h // 2 - 2 : h // 2 + 3, w // 2 - 1 : w // 2 + 2]
        if centre.max() == 0:  # no slash through the middle
            plain += 1
            assert w < letter.shape[1], seed
    assert 28 <= plain < 40  # most, not all: some plate fonts do slash the zero


def test_cli_synth_then_crop(tmp_path):
    run = _plateocr("synth", "OUT", "--count", "3", "--seed", "1", "--workers", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    plates = _rows(tmp_path / "OUT" / "annot.csv")
    assert len(plates) >= 3 and "wrote" in run.stderr and "photos/s" in run.stdout  # messages, result
    run = _plateocr("crop", "OUT/annot.csv", "--out", "OUT2", "--workers", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    crops = _rows(tmp_path / "OUT2" / "labels.csv")
    assert [r["text"] for r in crops] == [r["text"] for r in plates]
    assert all(cv2.imread(str(tmp_path / "OUT2" / r["files"])).shape == (*CROP_SIZE, 3) for r in crops)


def _cli(args, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["plateocr", *args])
    with pytest.raises(SystemExit) as e:
        main()
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_refuses_to_overwrite_without_force(tmp_path, monkeypatch, capsys):
    out = tmp_path / "OUT"
    code, _, err = _cli(["synth", str(out), "--count", "2", "--seed", "1", "--workers", "1"], monkeypatch, capsys)
    assert code == 0, err
    before = _files(out)
    code, _, err = _cli(["synth", str(out), "--count", "1", "--seed", "2", "--workers", "1"], monkeypatch, capsys)
    assert code != 0 and "already exists" in err and "--force" in err
    assert _files(out) == before
    code, _, err = _cli(
        ["synth", str(out), "--count", "1", "--seed", "2", "--workers", "1", "--force"], monkeypatch, capsys
    )
    assert code == 0, err
    # the forced rerun replaces the old dataset: one photo, listed in annot.csv
    assert sorted(p.name for p in (out / "images").iterdir()) == ["synth_000000.jpg"]
    assert {r["files"] for r in _rows(out / "annot.csv")} == {"synth_000000.jpg"}


SAMPLE = REPO_ROOT / "data" / "sample"
needs_sample = pytest.mark.skipif(not (SAMPLE / "annot.csv").is_file(), reason="data/sample not checked out")


def _ink_stats(crop):
    """(grey-level spread, fraction of the minority tone): text on a plate is a second tone of 5-50%."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    _, tone = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light = float((tone > 0).mean())
    return float(np.percentile(grey, 95) - np.percentile(grey, 5)), min(light, 1 - light)


@needs_sample
def test_committed_sample_is_small_readable_and_well_formed():
    files = [p for p in SAMPLE.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 8 * 1024 * 1024
    rows = _rows(SAMPLE / "annot.csv")
    photos = sorted((SAMPLE / "images").glob("*.jpg"))
    assert 150 <= len(rows) <= 400 and {r["files"] for r in rows} == {p.name for p in photos}
    per_photo = {}
    for r in rows:
        per_photo[r["files"]] = per_photo.get(r["files"], 0) + 1
    assert max(per_photo.values()) >= 2
    for r in rows:
        assert LABEL.match(r["text"]), r
        img = cv2.imread(str(SAMPLE / "images" / r["files"]))
        assert img.shape == (480, 640, 3)
        x0, x1, y0, y1 = (int(r[k]) for k in ("xmin", "xmax", "ymin", "ymax"))
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480 and 85 <= x1 - x0 <= 280, r
        dx, dy = (x1 - x0) // 10, (y1 - y0) // 10
        spread, ink = _ink_stats(img[y0 + dy : y1 - dy, x0 + dx : x1 - dx])
        assert spread >= 50 and 0.05 <= ink <= 0.5, (r, spread, ink)


@needs_sample
def test_committed_sample_is_what_its_readme_command_makes(builtin_fonts):
    # `plateocr synth data/sample --count 200 --seed 0 --no-system-fonts`: photo i comes from
    # image_rng(0, i) alone. Texts must match exactly; pixels and boxes get a little slack:
    # another OpenCV build may encode/warp a hair differently.
    readme = (SAMPLE / "README.md").read_text()
    assert "--seed 0" in readme and "--no-system-fonts" in readme
    rows = _rows(SAMPLE / "annot.csv")
    for i in range(3):
        name = f"synth_{i:06d}.jpg"
        photo, plates = render_scene(image_rng(0, i))
        committed = cv2.imread(str(SAMPLE / "images" / name)).astype(np.float32)
        _, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert np.abs(committed - cv2.imdecode(jpeg, cv2.IMREAD_COLOR)).mean() < JPEG_CODEC_SLACK
        mine = [r for r in rows if r["files"] == name]
        assert [r["text"] for r in mine] == [text for text, _ in plates]
        for r, (_, box) in zip(mine, plates):
            got = [int(r[k]) for k in ("xmin", "xmax", "ymin", "ymax")]
            assert np.abs(np.subtract(got, box)).max() <= 1
