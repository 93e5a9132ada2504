"""`plateocr demo`: the whole workflow in a work folder, every stage's output there."""

from __future__ import annotations

import csv
from pathlib import Path
import random

import cv2
import pytest
from conftest import JPEG_CODEC_SLACK, make_photos
from typer.testing import CliRunner

from plateocr.cli import app
from plateocr.errors import OutputExistsError, PlateOCRError


def sample(root, n=24, seed=0):
    """A small annotated sample like data/sample: photos with one plate each, distinct texts."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        text = f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}{i:02d}"
        x0, y0 = rng.randint(5, 100), rng.randint(5, 150)
        rows.append((f"p{i:03d}.png", text, (x0, x0 + 150, y0, y0 + 40)))
    return make_photos(root, rows, seed=seed)


@pytest.mark.slow
def test_demo_runs_every_stage_and_leaves_the_outputs(tmp_path):
    photos = sample(tmp_path / "sample")
    work = tmp_path / "work"
    # a few seconds of training: this checks the plumbing, not the accuracy
    res = CliRunner().invoke(
        app,
        ["demo", "--annotations", str(photos.root), "--workdir", str(work), "--minutes", "0.1", "--synthetic", "20"],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "crops/labels.csv",
        "records/dataset.json",
        "records_train/dataset.json",
        "synth_crops/labels.csv",
        "model/config.json",
        "model/checkpoint",
        "eval_errors.csv",
        "predictions.csv",
    ):
        assert (work / name).is_file(), name
    # training saw the sample's train split and the synthetic crops, never a test plate
    trained_on = list(csv.DictReader(open(work / "train_labels.csv", encoding="utf-8")))
    assert sum(r["files"].startswith("synth_crops") for r in trained_on) == 20
    rows = list(csv.DictReader(open(work / "predictions.csv", encoding="utf-8")))
    crops = list(csv.DictReader(open(work / "crops" / "labels.csv", encoding="utf-8")))
    test_texts = {r["truth"] for r in rows}
    # predict reads exactly the test plates: texts the training split never had
    assert 0 < len(rows) < len(crops) and len(test_texts) == len(rows)
    assert not test_texts & {r["text"] for r in trained_on if r["files"].startswith("crops")}
    # ... nor a val plate (records_train/ has no val split, so nothing there chooses on it)
    from plateocr.spec import DatasetSpec

    val = DatasetSpec.read(work / "records").splits["val"].size
    assert val > 0 and len(trained_on) == len(crops) - len(rows) - val + 20
    assert set(DatasetSpec.read(work / "records_train").splits) == {"train", "test"}
    assert all(r["error"] == "" and r["correct"] in ("0", "1") for r in rows)
    pictures = sorted((work / "attention").glob("*.png"))
    assert len(pictures) == len(rows) and cv2.imread(str(pictures[0])) is not None
    for stage in ("crop", "tfrecords", "train", "eval", "predict"):
        assert stage in res.stdout
    assert "sequence accuracy" in res.stdout

    # the folder is not reused by accident
    with pytest.raises(OutputExistsError, match="--force"):
        from plateocr.demo import run_demo

        run_demo(photos.root, work, minutes=0.1)


def test_missing_sample_is_a_clear_error(tmp_path):
    from plateocr.demo import run_demo

    with pytest.raises(PlateOCRError, match="sample annotations not found"):
        run_demo(tmp_path / "nowhere", tmp_path / "w")
    with pytest.raises(PlateOCRError, match="--minutes"):
        run_demo(sample(tmp_path / "s", n=3).root, tmp_path / "w", minutes=0)


def test_away_from_the_repository_the_sample_is_rendered_as_data_sample_was(tmp_path, monkeypatch):
    from conftest import REPO_ROOT

    from plateocr import demo
    from plateocr.synth.dataset import write_dataset
    from plateocr.synth.outline_fonts import FontChoice

    monkeypatch.chdir(tmp_path)  # no data/sample here
    assert demo.find_sample(None) is None
    repo_sample = REPO_ROOT / demo.SAMPLE_DIR
    with open(repo_sample / "annot.csv", newline="", encoding="utf-8") as fh:
        bundled = list(csv.DictReader(fh))
    assert len({r["files"] for r in bundled}) == demo.SAMPLE_PHOTOS
    # the first photos of the demo's stream are data/sample's first photos
    made = write_dataset(tmp_path / "sample", 3, demo.SAMPLE_SEED, fonts=FontChoice(system=False))
    with open(made.annot, newline="", encoding="utf-8") as fh:
        rendered = list(csv.DictReader(fh))
    assert rendered == [r for r in bundled if r["files"] in {x["files"] for x in rendered}]
    for name in {r["files"] for r in rendered}:
        a = cv2.imread(str(tmp_path / "sample" / "images" / name))
        b = cv2.imread(str(repo_sample / "images" / name))
        # JPEG codecs built for other CPUs (SIMD DCT variants) differ by about one grey level on
        # average; another rendering differs by tens (a photo against its neighbour: ~40).
        assert a.shape == b.shape and abs(a.astype(int) - b).mean() < JPEG_CODEC_SLACK


@pytest.mark.slow
def test_demo_without_data_sample_renders_it_in_the_work_folder(tmp_path, monkeypatch):
    from plateocr import demo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "SAMPLE_PHOTOS", 16)  # the wiring, not the full sample
    res = CliRunner().invoke(app, ["demo", "--workdir", "w", "--minutes", "0.05", "--synthetic", "10"])
    assert res.exit_code == 0, res.output
    assert "rendering its 16 photos" in res.output  # the stage line (stderr)
    assert "sample: 16 synthetic photos, as in data/sample" in res.output  # its done line (stderr)
    assert "│ sample" in res.stdout  # a row of the final table
    with open(tmp_path / "w" / "sample" / "annot.csv", newline="", encoding="utf-8") as fh:
        texts = {r["text"] for r in csv.DictReader(fh)}
    with open(tmp_path / "w" / "crops" / "labels.csv", newline="", encoding="utf-8") as fh:
        assert {r["text"] for r in csv.DictReader(fh)} == texts  # crop read the rendered sample
    assert (tmp_path / "w" / "predictions.csv").is_file()
    # the last stage: the test plates' whole photos, through the bundled detector
    with open(tmp_path / "w" / "photo_predictions.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {Path(r["photo"]).name for r in rows} <= {
        p.name for p in (tmp_path / "w" / "sample" / "images").iterdir()
    }
    assert any(r["xmin"] for r in rows)  # plates found in rendered photos
    assert sorted(p.suffix for p in (tmp_path / "w" / "photos").iterdir()) == [".png"] * len({r["photo"] for r in rows})
