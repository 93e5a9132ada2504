"""The plate detector end to end on tiny runs: train-detector's directory, resume, bad rows and
refusals; predict --detect's rows (boxes, photos without plates, error rows, --annotations'
comparison); the network's loss falls on a batch it sees again."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from conftest import make_photos
from tiny_model import random_model_dir
from typer.testing import CliRunner

from plateocr.cli import app

PLATES = [
    ("car1.png", "AB123CD", (40, 240, 200, 250)),
    ("car2.png", "XY99ZZ", (300, 520, 100, 150)),
    ("car3.png", "K777KK", (100, 300, 300, 350)),
    ("car4.png", "LM456NO", (200, 420, 260, 310)),
    ("car5.png", "PQ12RS", (60, 260, 80, 130)),
    ("car6.png", "TU345VW", (340, 560, 380, 430)),
]
TINY = ["--steps", "4", "--batch-size", "2", "--eval-every", "2", "--val", "0.3", "--from-scratch"]


def invoke(*args):
    return CliRunner().invoke(app, [*map(str, args)])


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect")
    # the bad row is reported and skipped; training goes on
    return make_photos(root, PLATES, photo_size=(480, 640), extra_rows=[["car1.png", "BAD1", 5000, 5100, 10, 40]])


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return random_model_dir(tmp_path_factory.mktemp("reader") / "model", [t for _, t, _ in PLATES]).path


@pytest.fixture(scope="module")
def detector(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("det") / "detector"
    result = invoke("train-detector", photos.csv, "--detector-dir", out, *TINY)
    assert result.exit_code == 0, result.output
    return out


def test_train_detector_writes_a_self_describing_dir_and_reports_bad_rows(detector, photos):
    doc = json.loads((detector / "detector.json").read_text())
    assert doc["kind"] == "plateocr-detector" and doc["detector"]["widths"]
    assert doc["training"]["steps"] == 4 and doc["annotations"] == str(photos.csv.resolve())
    assert (detector / "ckpt-4.index").is_file()
    metrics = json.loads((detector / "best" / "metrics.json").read_text())
    assert metrics["annotated"] >= 1 and metrics["step"] in (2, 4)  # scored on val photos only
    skipped = (detector / "skipped.csv").read_text()
    assert "box lies outside" in skipped and "BAD1" not in skipped.splitlines()[0]


def test_train_detector_resumes_to_a_larger_step_count(detector, photos):
    result = invoke("train-detector", photos.csv, "--detector-dir", detector, "--steps", "6")
    assert result.exit_code == 0, result.output
    assert "4 -> 6" in result.output
    assert json.loads((detector / "detector.json").read_text())["training"]["batch_size"] == 2  # kept


def error(result) -> str:
    """The one-line error a command gave (the CLI's entry point prints it; invoked here it is
    the exception)."""
    assert result.exit_code != 0 and result.exception is not None
    from plateocr.errors import PlateOCRError

    assert isinstance(result.exception, PlateOCRError), repr(result.exception)
    return str(result.exception)


def test_a_detector_dir_of_another_config_is_refused(detector, model, photos, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(detector, other)
    doc = json.loads((other / "detector.json").read_text())
    doc["detector"]["widths"] = [8, 16, 32, 48, 64]
    (other / "detector.json").write_text(json.dumps(doc))
    assert "widths=[8, 16, 32, 48, 64]" in error(invoke("train-detector", photos.csv, "--detector-dir", other))
    predicting = ("predict", "--model-dir", model, "--detect", "--detector", other, tmp_path / "x.png")
    assert "cannot restore" in error(invoke(*predicting))
    (other / "detector.json").write_text('{"kind": "something else"}')
    assert "cannot read the detector description" in error(invoke(*predicting))


def test_a_model_dir_given_as_a_detector_is_named_as_such(model, tmp_path):
    result = invoke("predict", "--model-dir", model, "--detect", "--detector", model, tmp_path / "x.png")
    assert "recogniser model directory" in error(result)


def test_predict_detect_rows_boxes_error_rows_and_annotated_comparison(detector, model, photos, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    out = tmp_path / "rows.json"
    # threshold 0: every local maximum is a plate, so the tiny detector finds several per photo
    args = ("predict", "--model-dir", model, "--detect", "--detector", detector, "--detection-threshold", "0")
    args += ("--reading-threshold", "0")  # the tiny recogniser reads noise
    missing = tmp_path / "missing.png"
    args += (photos.images / "car1.png", broken, missing, photos.images / "car2.png", "--out", out)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    by_photo = {}
    for r in rows:
        by_photo.setdefault(r["photo"], []).append(r)
    assert by_photo[str(broken)][0]["error"]  # an error row, the other photos still read
    order = [r["photo"] for r in rows]
    given = [str(photos.images / "car1.png"), str(broken), str(missing), str(photos.images / "car2.png")]
    assert order == sorted(order, key=given.index)  # in the order given, error rows in their place
    for r in by_photo[str(photos.images / "car1.png")]:
        if r["note"] == "no plate found":
            assert r["xmin"] is None and r["text"] is None
        else:
            assert 0 <= r["xmin"] < r["xmax"] <= 640 and 0 <= r["ymin"] < r["ymax"] <= 480
            assert 0 <= r["detection_score"] <= 1 and isinstance(r["text"], str)
    out2 = tmp_path / "annotated.csv"
    result = invoke(*args[:8], "--annotations", photos.csv, "--out", out2)
    assert len(by_photo[str(photos.images / "car1.png")]) > 1
    assert result.exit_code == 0, result.output
    assert "detection:" in result.output and "annotated plates found" in result.output
    table = list(csv.DictReader(out2.open()))
    truths = {r["truth"] for r in table if r["truth"] and not r["error"]}
    assert truths == {t for _, t, _ in PLATES}  # every annotated plate has a row: found or missed
    assert any("outside" in r["error"] for r in table)  # the bad row


def test_loss_falls_on_a_batch_seen_again():
    from plateocr.detection.config import DetectorConfig
    from plateocr.detection.geometry import encode_targets
    from plateocr.detection.network import build_detector, detector_loss
    from plateocr.detection.samples import scene_sample
    from plateocr.model.compat import tf, tf1

    samples = [scene_sample(np.random.default_rng([7, i])) for i in range(2)]
    targets = [encode_targets(b) for _, b in samples]
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(0)
        images = tf1.placeholder(tf.uint8, [None, 384, 512, 3])
        out = build_detector(images, DetectorConfig(), is_training=True)
        heat = tf.constant(np.stack([t["heatmap"][..., 0] for t in targets]))
        size = tf.constant(np.stack([t["size"] for t in targets]))
        offset = tf.constant(np.stack([t["offset"] for t in targets]))
        mask = tf.constant(np.stack([t["mask"][..., 0] for t in targets]))
        loss, _ = detector_loss(out, heat, size, offset, mask)
        with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            step = tf1.train.AdamOptimizer(1e-3).minimize(loss)
        with tf1.Session() as s:
            s.run(tf1.global_variables_initializer())
            feed = {images: np.stack([im for im, _ in samples])}
            first = s.run(loss, feed)
            for _ in range(8):
                s.run(step, feed)
            assert s.run(loss, feed) < 0.7 * first


def test_read_photo_reads_as_predict_detect_and_litert_as_tensorflow(detector, model, photos, tmp_path):
    from plateocr.detection.detector import PlateDetector
    from plateocr.inference.reader import PlateReader

    photo = photos.images / "car2.png"
    out = tmp_path / "rows.json"
    keep_all = ("--reading-threshold", "0")  # the tiny recogniser reads noise
    result = invoke("predict", "--model-dir", model, "--detect", "--detector", detector, *keep_all, photo, "--out", out)
    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads(out.read_text()) if r["xmin"] is not None]
    from plateocr.detection.geometry import letterbox

    image = letterbox(cv2.cvtColor(photos.read("car2.png"), cv2.COLOR_BGR2RGB))[0][None]
    heads = {}
    for backend in ("litert", "tensorflow"):
        with PlateDetector(detector, backend=backend) as d:
            assert d.backend == backend
            heads[backend] = d.heads(image)[0]
    for name in ("heatmap", "size", "offset"):
        assert np.allclose(heads["litert"][name], heads["tensorflow"][name], atol=1e-3), name
    with PlateReader(model) as reader:
        with PlateDetector(detector) as d:  # the default threshold, as predict --detect
            photo_rgb = cv2.cvtColor(photos.read("car2.png"), cv2.COLOR_BGR2RGB)
            plates = reader.read_photo(photo_rgb, detector=d, reading_threshold=0)
    assert [(p.box, p.text) for p in plates] == [
        ((r["xmin"], r["xmax"], r["ymin"], r["ymax"]), r["text"]) for r in rows
    ]


def bundled_detector():
    from plateocr.detection.detector import bundled_base_detector

    found = bundled_base_detector()
    if found is None:
        pytest.skip("this install has no bundled base detector")
    return found


def test_the_bundled_detector_finds_the_plates_of_rendered_scenes():
    """Scenes from seeds its training never drew (training: [seed, step, i]; val: [seed, 1e9, i])."""
    from plateocr.detection.detector import PlateDetector
    from plateocr.detection.samples import scene_sample
    from plateocr.detection.scoring import DetectionScore, iou

    scenes = [scene_sample(np.random.default_rng([424242, i])) for i in range(24)]
    score, overlaps = DetectionScore(), []
    with PlateDetector(bundled_detector()) as detector:
        for (_image, boxes), found in zip(scenes, detector.detect([s[0] for s in scenes])):
            m = score.add([d.box for d in found], [d.score for d in found], boxes)
            overlaps += [float(iou(np.asarray(found[p].box, float), np.asarray(boxes[t], float))) for p, t in m.pairs]
    assert score.annotated >= 20
    assert score.recall >= 0.8 and score.precision >= 0.8, score.to_dict()
    assert np.median(overlaps) >= 0.6  # tight enough to cut a readable crop


def test_the_bundled_detector_tflite_is_current():
    """The TFLite model shipped beside the bundled detector's checkpoint records the key its current
    sources, config and checkpoint give (stale, every install would convert on first use)."""
    import subprocess
    import sys

    from conftest import REPO_ROOT

    bundled_detector()
    check = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "build_bundled_tflite.py"), "--check"],
        capture_output=True,
        text=True,
    )
    detector_line = [line for line in check.stdout.splitlines() if "base_detector" in line]
    assert detector_line and "current" in detector_line[0], (
        f"{check.stdout}\nregenerate it with `python scripts/build_bundled_tflite.py` and commit it"
    )


def test_the_bundled_models_find_and_read_real_photos(real_plates, monkeypatch):
    """Three real EU photos (../shared), whole: the bundled detector finds each plate and the
    bundled base model reads what it cut, as `predict --detect` would with no training."""
    import plateocr.base_model
    from conftest import BUNDLED_BASE_MODEL

    from plateocr.detection.detector import PlateDetector
    from plateocr.detection.scoring import DetectionScore
    from plateocr.inference.reader import PlateReader

    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", BUNDLED_BASE_MODEL)
    rows = list(csv.DictReader((real_plates / "annot.csv").open()))[:3]
    score = DetectionScore()
    with PlateReader() as reader, PlateDetector(bundled_detector()) as detector:
        for r in rows:
            plates = reader.read_photo(str(real_plates / "images" / r["files"]), detector=detector)
            truth = [[float(r[k]) for k in ("xmin", "xmax", "ymin", "ymax")]]
            score.add(
                [p.box for p in plates],
                [p.detection_score for p in plates],
                truth,
                [p.text for p in plates],
                [r["text"]],
            )
    assert score.found == 3, score.to_dict()
    assert score.read_exactly >= 2, score.misread


# Real EU photos on which the bundled detector also finds a box that is no plate (a badge, a
# grille): it reads at 0.03-0.05 per character, the plate at 0.85 or more, with five views or one.
CLUTTERED = ("test_072.jpg", "test_086.jpg", "test_093.jpg")


def test_boxes_that_read_as_noise_are_dropped(real_plates, monkeypatch):
    """predict --detect's reading threshold: with it (the default) each photo keeps its annotated
    plate and nothing else; with 0 the boxes on clutter come back, read as noise."""
    import plateocr.base_model
    from conftest import BUNDLED_BASE_MODEL

    from plateocr.detection.detector import PlateDetector
    from plateocr.detection.scoring import iou
    from plateocr.inference.reader import PlateReader
    from plateocr.defaults import READING_THRESHOLD
    from plateocr.photo_reading import per_char_confidence

    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", BUNDLED_BASE_MODEL)
    rows = {r["files"]: r for r in csv.DictReader((real_plates / "annot.csv").open())}
    with PlateReader() as reader, PlateDetector(bundled_detector()) as detector:
        for name in CLUTTERED:
            path = str(real_plates / "images" / name)
            truth = [float(rows[name][k]) for k in ("xmin", "xmax", "ymin", "ymax")]
            kept = reader.read_photo(path, detector=detector)
            every = reader.read_photo(path, detector=detector, reading_threshold=0)
            assert [(p.box, p.text) for p in kept] == [
                (p.box, p.text) for p in every if per_char_confidence(p.reading) >= READING_THRESHOLD
            ]
            assert len(kept) == 1 and iou(kept[0].box, truth) >= 0.5, (name, kept)
            assert [p for p in every if iou(p.box, truth) < 0.5], (name, every)  # boxes on clutter dropped
            assert per_char_confidence(kept[0].reading) >= 0.5  # the plate reads far above the threshold


def test_train_detector_starts_from_the_bundled_detector_and_scores_it_first(photos, tmp_path):
    bundled_detector()
    out = tmp_path / "detector"
    result = invoke("train-detector", photos.csv, "--detector-dir", out, "--steps", "2", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "starting from" in result.output and "base_detector" in result.output
    doc = json.loads((out / "detector.json").read_text())
    assert doc["training"]["learning_rate"] == 5e-4  # fine-tuning's, not from scratch's
    assert json.loads((out / "early_stopping.json").read_text())["step"] == 2
    assert (out / "best" / "metrics.json").is_file()  # step 0 (the bundled weights) scored at least


def test_the_base_detector_script_trains_on_scenes_and_installs_weights_and_tflite(tmp_path):
    import subprocess
    import sys

    from conftest import REPO_ROOT

    from plateocr.detection.detector_dir import DetectorDir

    target = tmp_path / "installed"
    command = [sys.executable, str(REPO_ROOT / "scripts" / "train_base_detector.py"), str(tmp_path / "work")]
    command += ["--steps", "2", "--batch-size", "2", "--eval-every", "1", "--install", "--target", str(target)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    dd = DetectorDir(target)
    checkpoint = dd.resolve_checkpoint()
    assert not [f for f in target.iterdir() if f.suffix == ".meta"]  # weights only
    assert (target / f"{checkpoint.rsplit('/', 1)[-1]}-litert.tflite").is_file()
    assert json.loads((target / "detector.json").read_text())["base"]["val_scenes"]["photos"] == 64


def test_ctrl_c_while_scoring_the_starting_weights_saves_and_the_resume_scores_them(photos, tmp_path, monkeypatch):
    bundled_detector()
    from plateocr.detection import training
    from plateocr.training.loop import TrainingInterrupted

    real = training.score_outputs
    calls = []

    def interrupted_once(*args):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(training, "score_outputs", interrupted_once)
    out = tmp_path / "detector"
    options = {"steps": 2, "batch_size": 2, "eval_every": 2}
    with pytest.raises(TrainingInterrupted) as stopped:
        training.train_detector(photos.csv, out, options)
    assert stopped.value.checkpoint.endswith("ckpt-0")
    training.train_detector(photos.csv, out, options)
    scored = json.loads((out / "early_stopping.json").read_text())
    assert scored["step"] == 2 and len(calls) == 3  # step 0 scored on resume, then step 2
