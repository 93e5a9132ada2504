import csv
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import plateocr.cropping.photo as crop_photo
from conftest import make_photos, write_csv, write_image
from plateocr.cropping import (
    MANIFEST_COLUMNS,
    CropError,
    CropSettings,
    crop_annotations,
    crop_one,
)
from plateocr.defaults import CROP_SIZE
from plateocr.errors import OutputExistsError, PlateOCRError

MAGENTA = (255, 0, 255)


def read_manifest(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_png(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    return img


def box_of(row: dict) -> tuple[int, int, int, int]:
    return tuple(int(row[k]) for k in ("xmin", "xmax", "ymin", "ymax"))


def skipped(result) -> dict[int, str]:
    return {p.line: p.reason for p in result.problems}


def test_crops_equal_a_manual_slice_and_resize_of_the_photo(tmp_path):
    photos = make_photos(tmp_path, [("a.png", "AB123CD", (40, 200, 60, 100)), ("b.png", "Z9", (10, 50, 30, 90))])
    out = tmp_path / "crops"
    result = crop_annotations(photos.csv, out_dir=out, size=(32, 128), margin=0.1, workers=1)
    rows = read_manifest(result.manifest)
    # margin 0.1 of a 160x40 box: 16 px left/right, 4 px above/below
    assert box_of(rows[0]) == (24, 216, 56, 104)
    # 40x60 box at x 10: 4 px and 6 px of margin, clipped at nothing
    assert box_of(rows[1]) == (6, 54, 24, 96)
    for row, file in zip(rows, ["a.png", "b.png"]):
        x0, x1, y0, y1 = box_of(row)
        expected = cv2.resize(
            photos.read(file)[y0:y1, x0:x1],
            (128, 32),
            interpolation=cv2.INTER_AREA if (y1 - y0) * (x1 - x0) > 32 * 128 else cv2.INTER_CUBIC,
        )
        assert np.array_equal(read_png(out / row["files"]), expected)


def test_a_coloured_box_fills_the_crop(tmp_path):
    box = (60, 220, 100, 140)
    photos = make_photos(tmp_path, [("a.png", "AB12", box)], colors={0: MAGENTA})
    out = tmp_path / "crops"
    crop_annotations(photos.csv, out_dir=out, size=(64, 256), margin=0.0, workers=1)
    crop = read_png(out / "a_L2.png")
    edges = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    assert (np.abs(edges.astype(int) - MAGENTA) <= 2).all()  # the plate reaches every edge
    assert (np.abs(crop.astype(int) - MAGENTA) <= 2).all(axis=-1).mean() > 0.6  # text is the rest

    # With a 25 % margin the plate spans the middle 1/1.5 of the crop and background shows around it.
    out2 = tmp_path / "crops_margin"
    crop_annotations(photos.csv, out_dir=out2, size=(64, 240), margin=0.25, workers=1)
    crop = read_png(out2 / "a_L2.png")
    is_magenta = (np.abs(crop.astype(int) - MAGENTA) <= 2).all(axis=-1)
    # The region is 240x60 px: x maps 1:1, the plate's rows 10..50 map to about 10.7..53.3.
    assert is_magenta[13, 41:199].all()  # above the text
    assert not is_magenta[13, :39].any() and not is_magenta[13, 201:].any()
    assert is_magenta[13:51, 42].all()
    assert not is_magenta[:9, 42].any() and not is_magenta[56:, 42].any()


def test_several_plates_per_photo_each_photo_decoded_once(tmp_path, photo_set, monkeypatch):
    decoded = []
    real_decode = crop_photo.decode_image
    monkeypatch.setattr(crop_photo, "decode_image", lambda data, name: decoded.append(name) or real_decode(data, name))
    result = crop_annotations(photo_set.csv, out_dir=tmp_path / "crops", workers=1)
    rows = read_manifest(result.manifest)
    assert [(r["files"], r["text"], r["line"]) for r in rows] == [
        ("car1_L2.png", "AB123CD", "2"),
        ("car1_L3.png", "XY99", "3"),
        ("car2_L4.png", "K777LM", "4"),
        ("car3_L5.png", "PL5", "5"),
    ]
    assert sorted(Path(p).name for p in decoded) == ["car1.jpg", "car2.png", "car3.jpg"]
    assert result.written == 4 and result.photos == 3 and result.rows == 4 and result.problems == []


def test_box_partly_outside_is_clipped_and_fully_outside_is_skipped(tmp_path):
    photos = make_photos(
        tmp_path,
        [("a.png", "EDGE1", (250, 400, 200, 300)), ("a.png", "IN2", (10, 100, 10, 40))],
        extra_rows=[("a.png", "OUT3", 330, 400, 10, 40)],
        photo_size=(240, 320),
    )
    result = crop_annotations(photos.csv, out_dir=tmp_path / "crops", margin=0.0, workers=1)
    rows = read_manifest(result.manifest)
    assert [r["text"] for r in rows] == ["EDGE1", "IN2"]
    assert box_of(rows[0]) == (250, 320, 200, 240)
    assert read_png(tmp_path / "crops" / rows[0]["files"]).shape == (*CROP_SIZE, 3)
    assert skipped(result) == {4: "box lies outside the 320x240 photo: x 330..400, y 10..40"}


def test_each_bad_row_is_skipped_with_its_reason_and_good_rows_kept(tmp_path):
    photos = make_photos(
        tmp_path,
        [("good1.jpg", "GOOD1", (20, 120, 20, 50)), ("good2.png", "GOOD2", (30, 200, 100, 140))],
        extra_rows=[
            ("missing.jpg", "MISS", 10, 50, 10, 30),
            ("corrupt.jpg", "CORR", 10, 50, 10, 30),
            ("good1.jpg", "", 10, 50, 10, 30),
            ("good1.jpg", "NUM", "12px", 50, 10, 30),
            ("good2.png", "DEG", 50, 50, 10, 30),
            ("good2.png", "GOOD3", 150, 300, 10, 60),
        ],
    )
    (photos.images / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg" * 10)
    out = tmp_path / "crops"
    result = crop_annotations(photos.csv, out_dir=out, workers=1)
    assert [r["text"] for r in read_manifest(result.manifest)] == ["GOOD1", "GOOD2", "GOOD3"]
    reasons = skipped(result)
    assert reasons[4] == f"image not found: {photos.images / 'missing.jpg'}"  # the path it tried
    assert reasons[5].startswith("not a readable image")
    assert reasons[6] == "empty text"
    assert reasons[7] == "xmin '12px' is not a number"
    assert reasons[8].startswith("degenerate box")
    assert {p.image for p in result.problems} == {"missing.jpg", "corrupt.jpg", "good1.jpg", "good2.png"}
    assert all(p.source == str(photos.csv) for p in result.problems)
    with open(out / "skipped.csv", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert [int(r["line"]) for r in report] == [4, 5, 6, 7, 8]
    assert report[0]["image"] == "missing.jpg" and report[0]["reason"].startswith("image not found: ")
    assert sorted(p.name for p in out.glob("*.png")) == ["good1_L2.png", "good2_L3.png", "good2_L9.png"]


def test_missing_column_is_an_error_before_any_output(tmp_path):
    csv_path = write_csv(
        tmp_path / "a.csv", [("a.jpg", "AB1", 1, 2, 3)], header=("files", "text", "xmin", "xmax", "ymin")
    )
    with pytest.raises(PlateOCRError, match="missing column"):
        crop_annotations(csv_path, out_dir=tmp_path / "crops", workers=1)
    assert not (tmp_path / "crops").exists()


def test_manifest_columns_paths_and_recorded_settings(tmp_path, photo_set):
    out = tmp_path / "deep" / "crops"
    result = crop_annotations(photo_set.csv, out_dir=out, size=(40, 160), keep_aspect=True, margin=0.2, workers=1)
    with open(result.manifest, newline="") as fh:
        assert next(csv.reader(fh)) == list(MANIFEST_COLUMNS)
    photos = {photo_set.path(f).resolve() for f, _, _ in photo_set.rows}
    for row in read_manifest(result.manifest):
        assert read_png(out / row["files"]).shape == (40, 160, 3)
        assert (out / row["source"]).resolve() in photos
    assert CropSettings.read(out) == CropSettings((40, 160), True, 0.2)
    assert json.loads((out / "crop.json").read_text()) == {"size": [40, 160], "keep_aspect": True, "margin": 0.2}
    assert (out / "skipped.csv").read_text().splitlines() == ["source,line,image,reason"]


def test_images_default_to_the_csv_folder_without_an_images_subfolder(tmp_path):
    photos = make_photos(tmp_path, [("a.jpg", "AB1", (10, 100, 10, 40))], images="")
    result = crop_annotations(photos.csv, out_dir=tmp_path / "crops", workers=1)
    assert result.written == 1
    with pytest.raises(PlateOCRError, match="images folder not found"):
        crop_annotations(photos.csv, images_dir=tmp_path / "nope", out_dir=tmp_path / "c2", workers=1)


def test_earlier_output_is_kept_without_force_and_made_consistent_with_force(tmp_path, photo_set):
    out = tmp_path / "crops"
    crop_annotations(photo_set.csv, out_dir=out, workers=1)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--force"):
        crop_annotations(photo_set.csv, out_dir=out, margin=0.3, workers=1)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "notes.txt"} == before

    # Fewer rows the second time: the crops of the dropped rows go, other files stay.
    write_csv(photo_set.csv, [("car2.png", "K777LM", 30, 170, 120, 160)])
    result = crop_annotations(photo_set.csv, out_dir=out, force=True, workers=1)
    assert result.written == 1
    assert sorted(p.name for p in out.glob("*.png")) == ["car2_L2.png"]
    assert (out / "notes.txt").read_text() == "mine"
    assert [r["files"] for r in read_manifest(out / "labels.csv")] == ["car2_L2.png"]


def test_a_rerun_rewrites_crops_in_place_and_never_through_links(tmp_path, photo_set):
    out = tmp_path / "crops"
    crop_annotations(photo_set.csv, out_dir=out, workers=1)
    expected = {p.name: p.read_bytes() for p in out.glob("*.png")}
    linked, hard_linked, longer = sorted(expected)[:3]
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"not a crop")
    (out / linked).unlink()
    (out / linked).symlink_to(outside)
    (out / hard_linked).unlink()
    os.link(outside, out / hard_linked)
    (out / longer).write_bytes(expected[longer] + bytes(5000))  # say, from a larger --size
    inode = (out / longer).stat().st_ino

    crop_annotations(photo_set.csv, out_dir=out, force=True, workers=2)
    assert outside.read_bytes() == b"not a crop" and outside.stat().st_nlink == 1
    assert not (out / linked).is_symlink() and (out / hard_linked).stat().st_nlink == 1
    assert {p.name: p.read_bytes() for p in out.glob("*.png")} == expected
    assert (out / longer).stat().st_ino == inode  # rewritten in place, cut to the new length
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_strict_fails_without_a_manifest_when_a_row_is_skipped(tmp_path, photo_set):
    with open(photo_set.csv, "a") as fh:
        fh.write("nothere.jpg,AB1,1,20,1,20\n")
    out = tmp_path / "crops"
    with pytest.raises(CropError, match="--strict") as e:
        crop_annotations(photo_set.csv, out_dir=out, strict=True, workers=1)
    assert e.value.result.written == 4 and len(e.value.result.problems) == 1
    assert not (out / "labels.csv").exists()
    assert "nothere.jpg" in (out / "skipped.csv").read_text()
    # Without --strict the same rows give a manifest of the four good ones.
    result = crop_annotations(photo_set.csv, out_dir=out, resume=True, workers=1)
    assert result.written == 4 and result.reused == 4


def test_nothing_usable_is_an_error(tmp_path):
    photos = make_photos(tmp_path, [], extra_rows=[("a.jpg", "AB1", 1, 20, 1, 20), ("b.jpg", "", 1, 2, 3, 4)])
    photos.images.mkdir()
    with pytest.raises(CropError, match="nothing cropped"):
        crop_annotations(photos.csv, out_dir=tmp_path / "crops", workers=1)
    assert not (tmp_path / "crops" / "labels.csv").exists()
    assert len((tmp_path / "crops" / "skipped.csv").read_text().splitlines()) == 3
    # nothing was cropped, so nothing is left to resume: the fixed rerun is not refused
    assert not (tmp_path / "crops" / ".progress.jsonl").exists()
    write_image(photos.images / "a.jpg", np.zeros((40, 40, 3), np.uint8))
    assert crop_annotations(photos.csv, out_dir=tmp_path / "crops", workers=1).written == 1


def test_a_header_only_csv_is_an_error_before_any_output(tmp_path):
    photos = make_photos(tmp_path, [])
    photos.images.mkdir()
    with pytest.raises(PlateOCRError, match="annot.csv: no rows under the header, nothing to crop"):
        crop_annotations(photos.csv, out_dir=tmp_path / "crops", workers=1)
    assert not (tmp_path / "crops").exists()


def test_boxes_in_fractions_are_converted_to_pixels_with_a_note(tmp_path):
    photos = make_photos(
        tmp_path,
        [("a.png", "", (64, 192, 120, 180)), ("b.png", "", (32, 160, 24, 72))],  # plain plates
        photo_size=(240, 320),
        colors={0: MAGENTA, 1: MAGENTA},
    )
    write_csv(photos.csv, [("a.png", "FRAC1", 0.2, 0.6, 0.5, 0.75), ("b.png", "FRAC2", 0.1, 0.5, 0.1, 0.3)])
    result = crop_annotations(photos.csv, out_dir=tmp_path / "crops", margin=0.0, workers=1)
    rows = read_manifest(result.manifest)
    assert [box_of(r) for r in rows] == [(64, 192, 120, 180), (32, 160, 24, 72)]
    assert all((read_png(tmp_path / "crops" / r["files"]) == MAGENTA).all() for r in rows)
    assert result.notes == [
        f"{photos.csv}: the boxes are given as 0-1 fractions of the photo's size; converted to pixels"
    ]


def test_a_fraction_box_among_pixel_boxes_is_skipped_with_its_reason(tmp_path):
    photos = make_photos(
        tmp_path, [("a.png", "PIX1", (64, 192, 120, 180))], extra_rows=[("a.png", "FRAC2", 0.17, 0.44, 0.72, 0.83)]
    )
    result = crop_annotations(photos.csv, out_dir=tmp_path / "crops", workers=1)
    assert [r["text"] for r in read_manifest(result.manifest)] == ["PIX1"]
    assert skipped(result) == {
        3: "box x 0.17..0.44, y 0.72..0.83 looks like 0-1 fractions of the photo's size, but other rows give pixels"
    }
    assert result.notes == []


def test_tiny_and_far_outside_boxes_are_skipped_not_cropped(tmp_path):
    photos = make_photos(
        tmp_path,
        [("a.png", "GOOD1", (64, 192, 120, 180))],
        extra_rows=[("a.png", "TINY", 10, 12.5, 10, 40), ("a.png", "HUGE", 10, 1e12, 10, 40)],
    )
    result = crop_annotations(photos.csv, out_dir=tmp_path / "crops", workers=1)
    assert [r["text"] for r in read_manifest(result.manifest)] == ["GOOD1"]
    assert skipped(result) == {
        3: "box is 3x30 pixels, too small for a plate: x 10..12.5, y 10..40",
        4: "box reaches far outside the 320x240 photo: x 10..1e+12, y 10..40",
    }


def test_worker_processes_write_the_same_crops_as_in_process(tmp_path):
    rows = [(f"p{i}.jpg", f"AB{i}", (10 + i, 150 + 3 * i, 20, 60 + i)) for i in range(12)]
    rows += [("p3.jpg", "SECOND", (160, 300, 150, 200))]
    photos = make_photos(tmp_path, rows)
    one = crop_annotations(photos.csv, out_dir=tmp_path / "one", workers=1)
    two = crop_annotations(photos.csv, out_dir=tmp_path / "two", workers=2)
    assert read_manifest(one.manifest) == read_manifest(two.manifest)
    for row in read_manifest(one.manifest):
        assert (tmp_path / "one" / row["files"]).read_bytes() == (tmp_path / "two" / row["files"]).read_bytes()


def test_an_interrupted_run_leaves_no_manifest_and_resumes(tmp_path):
    rows = [(f"p{i}.png", f"AB{i}", (10, 150, 20, 60)) for i in range(4)]
    photos = make_photos(tmp_path, rows)
    out = tmp_path / "crops"

    def interrupt(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        crop_annotations(photos.csv, out_dir=out, workers=1, progress=interrupt)
    assert not (out / "labels.csv").exists()
    assert sorted(p.name for p in out.glob("*.png")) == ["p0_L2.png", "p1_L3.png"]
    with pytest.raises(OutputExistsError, match="--resume"):
        crop_annotations(photos.csv, out_dir=out, workers=1)

    # A crop kept by --resume is not rewritten: mark one, and changed rows/settings are redone.
    (out / "p0_L2.png").write_bytes(b"kept")
    with pytest.raises(OutputExistsError, match="margin 0.05, not .* margin 0.2"):
        crop_annotations(photos.csv, out_dir=out, margin=0.2, resume=True, workers=1)
    result = crop_annotations(photos.csv, out_dir=out, resume=True, workers=1)
    assert result.written == 4 and result.reused == 2
    assert (out / "p0_L2.png").read_bytes() == b"kept"
    assert len(read_manifest(result.manifest)) == 4

    write_csv(photos.csv, [("p0.png", "AB0", 10, 150, 20, 60), ("p1.png", "CHANGED", 10, 150, 20, 60)])
    result = crop_annotations(photos.csv, out_dir=out, resume=True, workers=1)
    assert (result.written, result.reused) == (2, 1)
    assert sorted(p.name for p in out.glob("*.png")) == ["p0_L2.png", "p1_L3.png"]


def test_crop_one_cuts_in_memory_and_refuses_boxes_outside():
    photo = np.zeros((100, 200, 3), np.uint8)
    photo[40:60, 50:150] = MAGENTA
    plate = crop_one(photo, (50, 150, 40, 60), size=(32, 128), keep_aspect=False, margin=0.0)
    assert plate.shape == (32, 128, 3) and (plate == MAGENTA).all()
    assert crop_one(photo, (250, 300, 10, 20), size=(32, 128)) is None
    assert crop_one(photo, (190, 260, 40, 60), size=(32, 128), margin=0.0).shape == (32, 128, 3)


def test_settings_are_checked(tmp_path):
    with pytest.raises(PlateOCRError, match="margin"):
        CropSettings((64, 256), False, -0.1)
    with pytest.raises(PlateOCRError, match="crop settings not found"):
        CropSettings.read(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        '{"size": [0, 128], "keep_aspect": false, "margin": 0.05}',
        '{"size": [32, 128], "keep_aspect": false, "margin": 7}',
        '{"size": [32, 128], "keep_aspect": "no", "margin": 0.05}',
        "[1, 2]",
        '"text"',
    ],
)
def test_bad_crop_json_errors_name_the_file(tmp_path, content):
    (tmp_path / "crop.json").write_text(content)
    with pytest.raises(PlateOCRError) as e:
        CropSettings.read(tmp_path)
    assert str(e.value).startswith(f"{tmp_path / 'crop.json'}: ")


def test_real_plates_all_crop(tmp_path, real_plates):
    result = crop_annotations(real_plates / "annot.csv", out_dir=tmp_path / "crops", workers=2)
    assert result.problems == [] and result.written == result.rows > 100
    rows = read_manifest(result.manifest)
    for row in rows[:10]:
        assert read_png(tmp_path / "crops" / row["files"]).shape == (*CROP_SIZE, 3)
        assert (tmp_path / "crops" / row["source"]).is_file()


def test_an_out_path_that_is_a_file_is_a_one_line_error(tmp_path, photo_set):
    (tmp_path / "taken").write_text("not a folder")
    with pytest.raises(PlateOCRError, match="taken: exists and is not a folder"):
        crop_annotations(photo_set.csv, out_dir=tmp_path / "taken", workers=1)
