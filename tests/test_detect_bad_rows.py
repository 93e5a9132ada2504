"""Bad input on the whole-photo paths, without a trained detector: predict --detect's rows for an
annotated photo that does not load, and train-detector's error when no row is usable."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from plateocr.errors import PlateOCRError


class _NoPlates:
    """A detector that finds nothing (so no reader is needed)."""

    def detect(self, photos):
        return [[] for _ in photos]


def test_predict_detect_names_the_lines_of_an_annotated_photo_that_does_not_load(tmp_path):
    from plateocr.prediction import predict_photos

    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "car.png"), np.full((60, 80, 3), 90, np.uint8))
    (images / "broken.jpg").write_bytes(b"not a photo")
    csv = tmp_path / "annot.csv"
    csv.write_text(
        "files,text,xmin,xmax,ymin,ymax\n"
        "car.png,AB123,10,50,10,30\n"
        "missing.jpg,CD456,1,50,1,20\n"
        "missing.jpg,EF789,1,50,30,50\n"
        "broken.jpg,GH012,1,50,1,20\n"
    )
    reader = SimpleNamespace(spec=SimpleNamespace(margin=None), size=(32, 128), keep_aspect=False)
    progress = []
    result = predict_photos(reader, _NoPlates(), annotations=csv, progress=lambda d, t: progress.append((d, t)))
    errors = {(r.line, r.truth): r.error for r in result.rows if r.error}
    assert errors == {
        (3, "CD456"): "image not found",
        (4, "EF789"): "image not found",
        (5, "GH012"): errors.get((5, "GH012")),
    }
    assert errors[(5, "GH012")] and "readable" in errors[(5, "GH012")]
    missed = [r for r in result.rows if r.note]
    assert [(r.line, r.truth) for r in missed] == [(2, "AB123")]
    assert progress[-1] == (3, 3)  # photos that do not load count as done too


def test_train_detector_says_why_no_row_was_usable(tmp_path):
    from plateocr.detection.training import train_detector

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "broken.jpg").write_bytes(b"not a photo")
    csv = tmp_path / "annot.csv"
    csv.write_text("files,text,xmin,xmax,ymin,ymax\nmissing.jpg,AB123,1,50,1,20\nbroken.jpg,CD456,1,50,1,20\n")
    with pytest.raises(PlateOCRError) as e:
        train_detector(csv, tmp_path / "detector", {"steps": 1})
    assert "2 row(s) skipped" in str(e.value) and "line 2, missing.jpg: image not found" in str(e.value)
    assert not (tmp_path / "detector").exists()


def test_force_never_clears_the_other_kind_of_checkpoint_folder(tmp_path):
    from plateocr.detection.config import DetectorConfig
    from plateocr.detection.detector_dir import DetectorDir
    from plateocr.model.modeldir import ModelDir

    model = tmp_path / "model"  # a recogniser's folder given as --detector-dir
    (model / "best").mkdir(parents=True)
    for name in ("config.json", "ckpt-100.index", "checkpoint", "best/ckpt-80.index"):
        (model / name).write_text("{}")
    with pytest.raises(PlateOCRError, match="recogniser model directory is there"):
        DetectorDir.create(model, DetectorConfig(), force=True)
    assert (model / "ckpt-100.index").is_file() and (model / "best" / "ckpt-80.index").is_file()

    detector = tmp_path / "detector"  # and a detector's given as --model-dir
    DetectorDir.create(detector, DetectorConfig())
    (detector / "ckpt-7.index").write_text("")
    with pytest.raises(PlateOCRError, match="plate detector directory is there"):
        ModelDir.create(detector, None, None, None, force=True)  # refused before these are used
    assert (detector / "ckpt-7.index").is_file() and DetectorDir.exists(detector)
