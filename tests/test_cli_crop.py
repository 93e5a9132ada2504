import csv
import json
import os
import subprocess
import sys

import cv2
import pytest

from conftest import REPO_ROOT, pixel_bomb_png, write_csv
from plateocr.cli import main
from plateocr.defaults import CROP_SIZE


def plateocr(*args, cwd):
    """Run the real CLI in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "plateocr", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "120"},
    )


def cli(args, monkeypatch, capsys):
    """Run the CLI in-process (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["plateocr", *args])
    with pytest.raises(SystemExit) as e:
        main()
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_crop_as_written_in_a_folder_with_annot_csv_and_images(photo_set):
    run = plateocr("crop", "annot.csv", cwd=photo_set.root)
    assert run.returncode == 0, run.stderr
    crops = photo_set.root / "crops"
    with open(crops / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["text"] for r in rows] == ["AB123CD", "XY99", "K777LM", "PL5"]
    assert all(cv2.imread(str(crops / r["files"])).shape == (*CROP_SIZE, 3) for r in rows)
    assert "crops written" in run.stdout and "4" in run.stdout
    assert run.stderr.strip() == f"wrote {os.path.join('crops', 'labels.csv')}"  # messages on stderr, as elsewhere


def test_missing_column_is_a_one_line_error(tmp_path):
    write_csv(tmp_path / "annot.csv", [("a.jpg", "AB1", 1, 2, 3)], header=("files", "text", "xmin", "xmax", "ymin"))
    run = plateocr("crop", "annot.csv", cwd=tmp_path)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        "error: annot.csv: missing column(s) ymax (expected files,text,xmin,xmax,ymin,ymax; "
        "found files,text,xmin,xmax,ymin)"
    ]
    assert not (tmp_path / "crops").exists()


def test_tutorial_size_stretched_and_settings_recorded(photo_set, monkeypatch, capsys):
    out = photo_set.root / "tut"
    code, stdout, _ = cli(
        [
            "crop",
            str(photo_set.csv),
            "--out",
            str(out),
            "--size",
            "200x200",
            "--stretch",
            "--margin",
            "0",
            "--workers",
            "1",
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0
    assert cv2.imread(str(out / "car1_L2.png")).shape == (200, 200, 3)
    assert json.loads((out / "crop.json").read_text()) == {"size": [200, 200], "keep_aspect": False, "margin": 0.0}
    assert "200x200 stretch" in stdout


def test_no_overwrite_without_force(photo_set, monkeypatch, capsys):
    args = ["crop", str(photo_set.csv), "--out", str(photo_set.root / "c"), "--workers", "1"]
    assert cli(args, monkeypatch, capsys)[0] == 0
    code, _, err = cli(args, monkeypatch, capsys)
    assert code != 0 and "--force" in err and len(err.strip().splitlines()) == 1
    assert cli(args + ["--force"], monkeypatch, capsys)[0] == 0


def test_skipped_rows_are_tabled_and_strict_fails(photo_set, monkeypatch, capsys):
    with open(photo_set.csv, "a") as fh:
        fh.write("car1.jpg,OUT,900,990,10,40\nghost.jpg,GH1,1,20,1,20\n")
    out = photo_set.root / "c"
    code, stdout, err = cli(["crop", str(photo_set.csv), "--out", str(out)], monkeypatch, capsys)
    assert code == 0
    assert "box lies outside the 320x240 photo" in err and "image not found" in err  # the skipped rows
    assert "crops written" in stdout and "image not found" not in stdout  # stdout: the result only
    assert (out / "labels.csv").exists() and len((out / "skipped.csv").read_text().splitlines()) == 3

    code, stdout, err = cli(["crop", str(photo_set.csv), "--out", str(out), "--force", "--strict"], monkeypatch, capsys)
    assert code != 0 and "--strict" in err
    assert "image not found" in err  # the table still says why
    assert not (out / "labels.csv").exists()


def test_bad_size_is_a_one_line_error(photo_set, monkeypatch, capsys):
    code, _, err = cli(["crop", str(photo_set.csv), "--size", "64by256"], monkeypatch, capsys)
    assert code != 0 and "64by256" in err and len(err.strip().splitlines()) == 1


def test_boxes_in_fractions_from_the_issue_are_cropped_where_the_plate_is(tmp_path, monkeypatch, capsys):
    # the sample photo whose plate O505666S lies at x 109..284, y 347..398 (data/sample/annot.csv)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "synth_000000.jpg").write_bytes(
        (REPO_ROOT / "data/sample/images/synth_000000.jpg").read_bytes()
    )
    (tmp_path / "a.csv").write_text("files,text,xmin,xmax,ymin,ymax\nsynth_000000.jpg,O505666S,0.17,0.44,0.72,0.83\n")
    code, _, err = cli(
        ["crop", str(tmp_path / "a.csv"), "-o", str(tmp_path / "crops"), "--margin", "0", "--workers", "1"],
        monkeypatch,
        capsys,
    )
    assert code == 0
    assert "a.csv: the boxes are given as 0-1 fractions of the photo's size; converted to pixels" in " ".join(
        err.split()
    )
    with open(tmp_path / "crops" / "labels.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert [int(row[k]) for k in ("xmin", "xmax", "ymin", "ymax")] == [108, 282, 345, 399]


def test_a_pixel_bomb_photo_is_a_skipped_row_and_the_good_photos_are_cropped(photo_set, monkeypatch, capsys):
    (photo_set.images / "bomb.png").write_bytes(pixel_bomb_png(60000, 60000))
    with open(photo_set.csv, "a") as fh:
        fh.write("bomb.png,BOOM1,10,200,10,60\n")
    out = photo_set.root / "c"
    code, stdout, err = cli(["crop", str(photo_set.csv), "--out", str(out), "--workers", "2"], monkeypatch, capsys)
    assert code == 0, err
    with open(out / "labels.csv", newline="") as fh:
        assert [r["text"] for r in csv.DictReader(fh)] == ["AB123CD", "XY99", "K777LM", "PL5"]
    with open(out / "skipped.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["line"] == "6" and row["reason"] == (
        "image too large to decode (60000x60000 pixels; the limit is 120 megapixels)"
    )
