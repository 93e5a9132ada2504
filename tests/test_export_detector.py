"""The exported `photos` signature and detector.tflite find and read plates as `predict --detect`
does (PlateDetector, then read_photo_batch), and the in-graph steps equal their NumPy twins."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import make_photos
from tiny_model import random_detector_dir, random_model_dir
from typer.testing import CliRunner

from plateocr.errors import PlateOCRError

SIZE = (32, 96)
TEXTS = ["AB12", "CD345", "EF6", "K9", "XY77"]
# (file, plate text, box); photo sizes: the letterbox's identity, area shrinks by 0.8 and 0.5,
# bilinear enlargements by 1.024 and 3.2
ROWS = [
    ("a.png", "AB12", (40, 200, 60, 100)),
    ("b.png", "CD345", (100, 300, 200, 250)),
    ("c.png", "K9", (10, 60, 10, 40)),
    ("d.png", "XY77", (300, 500, 400, 460)),
    ("e.png", "EF6", (20, 120, 20, 50)),
]
PHOTO_SIZES = {"a.png": (384, 512), "b.png": (480, 640), "c.png": (200, 500), "d.png": (768, 1024), "e.png": (100, 160)}
# The random detector's peaks lie near 0.01-0.07: this keeps one to ten a photo. Graph and NumPy
# agree to 1e-6 on the letterbox's identity and area shrinks, to 2e-4 on its enlargements (c, e),
# whose peaks lie 2e-3 or more from it.
THRESHOLD = 0.035


def _saved_model_outputs(path, signature, **inputs):
    import tensorflow as tf  # plain TensorFlow: what a serving user has

    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in out.items()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A random recogniser with formats (as `train` leaves them) and a random detector, exported
    with --tflite and the detector at THRESHOLD, every box kept whatever it reads (the random
    recogniser reads noise); and the photos."""
    from plateocr.formats import FORMATS_FILE, Formats
    from plateocr.inference.export import export_model

    root = tmp_path_factory.mktemp("export-detector")
    model = random_model_dir(root / "model", TEXTS, size=SIZE, seed=3).path
    Formats.learn(TEXTS).write(model / FORMATS_FILE)
    detector = random_detector_dir(root / "detector").path
    photos = make_photos(root, ROWS, sizes=PHOTO_SIZES)
    result = export_model(
        model, root / "export", tflite=True, detector_dir=detector, detection_threshold=THRESHOLD, reading_threshold=0
    )
    return root, model, detector, photos, result


@pytest.fixture(scope="module")
def expected(exported):
    """What predict --detect finds and reads in the photos (with TensorFlow, as the export)."""
    from plateocr import PlateReader
    from plateocr.detection.detector import PlateDetector
    from plateocr.photo_reading import read_photo_batch

    root, model, detector, photos, _ = exported
    with (
        PlateReader(model, backend="tensorflow") as reader,
        PlateDetector(detector, threshold=THRESHOLD, backend="tensorflow") as found,
    ):
        return read_photo_batch(reader, found, [photos.read(f) for f, _, _ in ROWS], reading_threshold=0)


@pytest.fixture(scope="module")
def photos_output(exported):
    root, model, detector, photos, result = exported
    return _saved_model_outputs(result.out, "photos", photo_bytes=[photos.path(f).read_bytes() for f, _, _ in ROWS])


@pytest.mark.slow
def test_photos_signature_finds_the_boxes_predict_detect_finds(exported, expected, photos_output):
    out = photos_output
    assert out["boxes"].shape == (len(ROWS), 20, 4) and out["texts"].shape == (len(ROWS), 20)
    assert [len(r.plates) for r in expected] == list(out["num_plates"])
    assert all(len(r.plates) >= 1 for r in expected) and sum(len(r.plates) for r in expected) >= 15
    for i, reading in enumerate(expected):
        n = len(reading.plates)
        boxes = np.array([p.box for p in reading.plates])
        assert np.abs(out["boxes"][i, :n] - boxes).max() <= 1, ROWS[i][0]
        assert out["detection_scores"][i, :n] == pytest.approx([p.detection_score for p in reading.plates], abs=1e-3)
        # the rest is padding
        assert not out["boxes"][i, n:].any() and not out["detection_scores"][i, n:].any()
        assert not out["confidences"][i, n:].any() and set(out["texts"][i, n:]) == {b""}
    none = _saved_model_outputs(exported[-1].out, "photos", photo_bytes=np.array([], dtype="S1"))
    assert none["boxes"].shape == (0, 20, 4) and none["num_plates"].shape == (0,)


@pytest.mark.slow
def test_bytes_that_are_no_image_get_minus_one_plates_and_the_rest_are_read(exported, photos_output):
    """A batch with text, an empty string and a few stray bytes among the photos: those get
    num_plates -1 and empty slots; the photos around them read as they read alone."""
    root, model, detector, photos, result = exported
    good = [photos.path(f).read_bytes() for f, _, _ in ROWS[:2]]
    bad = [b"not a photo", b"", b"\xff\xd8"]  # the last: too short for a JPEG's first bytes
    out = _saved_model_outputs(result.out, "photos", photo_bytes=[good[0], *bad, good[1]])
    assert list(out["num_plates"]) == [photos_output["num_plates"][0], -1, -1, -1, photos_output["num_plates"][1]]
    for got, want in ((0, 0), (4, 1)):
        n = out["num_plates"][got]
        np.testing.assert_array_equal(out["boxes"][got, :n], photos_output["boxes"][want, :n])
        assert list(out["texts"][got]) == list(photos_output["texts"][want])
    assert not out["boxes"][1:4].any() and set(out["texts"][1:4].ravel()) == {b""}


@pytest.mark.slow
def test_photos_signature_reads_each_box_as_predict_detect_reads_it(exported, expected, photos_output):
    """The cuts are fitted in the graph (TensorFlow's filters, a grey level or so from OpenCV's),
    so readings agree to within that: the texts of all decided readings, every confidence
    closely. A random recogniser's undecided readings (confidence ~0) may flip."""
    out = photos_output
    decided = 0
    for i, reading in enumerate(expected):
        for k, plate in enumerate(reading.plates):
            assert out["confidences"][i, k] == pytest.approx(plate.confidence, abs=2e-3)
            if plate.confidence > 0.01:
                decided += 1
                assert out["texts"][i, k].decode() == plate.text
    assert decided >= 3


@pytest.mark.slow
def test_photos_signature_cuts_as_crop_cuts_and_reads_as_serving_default(exported, photos_output):
    """Each found box cut from the photo in NumPy as crop cuts it (the model's margin), read by
    the same export's serving_default (the same in-graph fit and reading): the same texts and
    confidences, to the letter."""
    from plateocr.cropping import crop_region
    from plateocr.defaults import MARGIN
    from plateocr.imaging import encode_png

    root, model, detector, photos, result = exported
    out = photos_output
    cuts, where = [], []
    for i, (file, _, _) in enumerate(ROWS):
        photo = photos.read(file)
        for k in range(out["num_plates"][i]):
            x0, x1, y0, y1 = crop_region(tuple(out["boxes"][i, k]), photo.shape[1], photo.shape[0], MARGIN)
            cuts.append(encode_png(photo[y0:y1, x0:x1]))
            where.append((i, k))
    read = _saved_model_outputs(result.out, "serving_default", image_bytes=cuts)
    assert [t.decode() for t in read["text"]] == [out["texts"][i, k].decode() for i, k in where]
    assert read["confidence"] == pytest.approx([out["confidences"][i, k] for i, k in where], rel=1e-4, abs=1e-7)


@pytest.mark.slow
def test_detector_tflite_heads_decode_to_the_same_boxes(exported, expected):
    from plateocr.detection.detector import OUTPUTS, to_detections
    from plateocr.detection.geometry import decode, letterbox
    from plateocr.inference.export import run_tflite

    root, model, detector, photos, result = exported
    assert result.detector_tflite == result.out / "detector.tflite" and result.detector_tflite_bytes > 0
    info = json.loads((result.out / "export.json").read_text())
    assert info["signatures"] == ["serving_default", "images", "photos"]
    d = info["detector"]
    assert d["tflite"] == "detector.tflite" and d["tflite_outputs"] == list(OUTPUTS) and d["threshold"] == THRESHOLD
    assert d["input_size"] == [384, 512] and d["pad_value"] == 114 and d["max_boxes"] == 20
    assert d["checkpoint"].startswith(str(detector)) and d["config"]["widths"] == [8, 8, 16, 16, 16]
    for (file, _, _), reading in zip(ROWS, expected):
        rgb = cv2.cvtColor(photos.read(file), cv2.COLOR_BGR2RGB)
        boxed, scale = letterbox(rgb)
        heads = run_tflite(result.detector_tflite, boxed[None], names=OUTPUTS)
        boxes, scores = decode(heads["heatmap"][0], heads["size"][0], heads["offset"][0], threshold=THRESHOLD)
        found = to_detections(boxes, scores, scale, rgb.shape[1], rgb.shape[0])
        assert [f.box for f in found] == [p.box for p in reading.plates]
        assert [f.score for f in found] == pytest.approx([p.detection_score for p in reading.plates], abs=1e-3)


def test_letterbox_in_graph_is_geometry_letterbox():
    from plateocr.detection.geometry import letterbox
    from plateocr.detection.in_graph import letterbox_in_graph
    from plateocr.model.compat import tf, tf1

    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as session:
        photo = tf1.placeholder(tf.uint8, [None, None, 3])
        boxed = letterbox_in_graph(photo)
        for h, w in [(384, 512), (480, 640), (768, 1024), (1000, 900), (200, 500), (100, 160), (7, 3)]:
            image = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (5, 5), 2)
            want, want_scale = letterbox(image)
            got, scale = session.run(boxed, {photo: image})
            assert scale == want_scale
            diff = np.abs(got.astype(int) - want)
            assert diff.max() <= (0 if (h, w) == (384, 512) else 2) and diff.mean() < 0.3, (h, w)


def test_decode_in_graph_is_geometry_decode_then_to_detections():
    """On random heads, any threshold: the same boxes (the photo's whole pixels) and scores, best
    first, ties to the first cell; and none above every score."""
    from plateocr.detection.detector import to_detections
    from plateocr.detection.geometry import GRID_HEIGHT, GRID_WIDTH, decode
    from plateocr.detection.in_graph import decode_in_graph
    from plateocr.model.compat import tf, tf1

    rng = np.random.default_rng(1)
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as session:
        heat = tf1.placeholder(tf.float32, [GRID_HEIGHT, GRID_WIDTH])
        size = tf1.placeholder(tf.float32, [GRID_HEIGHT, GRID_WIDTH, 2])
        offset = tf1.placeholder(tf.float32, [GRID_HEIGHT, GRID_WIDTH, 2])
        scale, pw, ph = tf1.placeholder(tf.float64, []), tf1.placeholder(tf.int32, []), tf1.placeholder(tf.int32, [])
        threshold = tf1.placeholder(tf.float32, [])
        found = decode_in_graph(heat, size, offset, scale, pw, ph, threshold)
        for trial, (t, photo_size) in enumerate(
            [(0.0, (480, 640)), (0.5, (300, 400)), (0.9, (2000, 1500)), (2.0, (384, 512))]
        ):
            h = rng.random((GRID_HEIGHT, GRID_WIDTH)).astype(np.float32)
            h[10:14, 20:30] = 0.95  # a plateau: ties go to the first cell
            s = rng.normal([2.5, 1.0], 1.0, (GRID_HEIGHT, GRID_WIDTH, 2)).astype(np.float32)
            o = rng.random((GRID_HEIGHT, GRID_WIDTH, 2)).astype(np.float32)
            height, width = photo_size
            sc = min(512 / width, 384 / height)
            boxes, scores = decode(h, s, o, threshold=t)
            want = to_detections(boxes, scores, sc, width, height)
            feed = {heat: h, size: s, offset: o, scale: sc, pw: width, ph: height, threshold: t}
            got_boxes, got_scores = session.run(found, feed)
            assert [tuple(b) for b in got_boxes] == [d.box for d in want], trial
            assert list(got_scores) == [d.score for d in want]
            assert (len(want) == 0) == (t > 1) and len(want) <= 20


@pytest.mark.slow
def test_a_detector_of_another_config_is_refused_by_name(exported, tmp_path):
    from plateocr.inference.export import export_model

    root, model, detector, photos, result = exported
    other = tmp_path / "other"
    shutil.copytree(detector, other)
    doc = json.loads((other / "detector.json").read_text())
    doc["detector"]["widths"] = [8, 16, 16, 16, 16]
    (other / "detector.json").write_text(json.dumps(doc))
    with pytest.raises(
        PlateOCRError, match=r"ckpt-1: cannot restore the detector from this checkpoint \(PlateDetector/"
    ):
        export_model(model, tmp_path / "exp", detector_dir=other, tta=False, formats="off")
    doc["detector"]["depth"] = 3
    (other / "detector.json").write_text(json.dumps(doc))
    with pytest.raises(PlateOCRError, match="unknown setting"):
        export_model(model, tmp_path / "exp", detector_dir=other)
    assert not (tmp_path / "exp").exists() and not list(tmp_path.glob(".exp.*"))
    with pytest.raises(PlateOCRError, match="recogniser model directory"):
        export_model(model, tmp_path / "exp", detector_dir=model)
    with pytest.raises(PlateOCRError, match="between 0 and 1"):
        export_model(model, tmp_path / "exp", detector_dir=detector, detection_threshold=1.5)
    with pytest.raises(PlateOCRError, match="reading threshold must lie between 0 and 1"):
        export_model(model, tmp_path / "exp", detector_dir=detector, reading_threshold=-0.1)


@pytest.mark.slow
def test_cli_exports_the_detector_found_here_unless_told_not_to(exported, tmp_path, monkeypatch):
    import plateocr.detection.detector
    from plateocr.cli import app

    root, model, detector, photos, result = exported
    monkeypatch.setattr(plateocr.detection.detector, "BASE_DETECTOR_DIR", tmp_path / "no-bundled-detector")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    plain = ["export", "--model-dir", str(model), "--no-tta", "--formats", "off", "--out"]
    res = runner.invoke(app, [*plain, "none"])  # no detector/ here, no bundled one
    assert res.exit_code == 0, res.output
    assert "the export has no photos signature" in " ".join(res.output.split())
    assert json.loads((tmp_path / "none" / "export.json").read_text())["signatures"] == ["serving_default", "images"]
    shutil.copytree(detector, tmp_path / "detector")
    res = runner.invoke(app, [*plain, "found"])
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "found" / "export.json").read_text())
    assert info["signatures"][-1] == "photos" and info["detector"]["folder"] == str((tmp_path / "detector").resolve())
    assert "plates from detection score 0.3" in res.output
    res = runner.invoke(app, [*plain, "without", "--no-detector"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "without" / "export.json").read_text())["detector"] is None
    res = runner.invoke(app, [*plain, "both", "--no-detector", "--detector", str(detector)])
    assert res.exit_code != 0 and "choose one" in str(res.exception)


@pytest.mark.slow
def test_the_photos_signature_drops_the_boxes_predict_detect_drops(real_plates, tmp_path, monkeypatch):
    """The bundled models on real EU photos with boxes on clutter: the graph keeps the boxes whose
    reading passes the reading threshold, as read_photo_batch does (the plates), and drops the
    rest (which read_photo_batch with threshold 0 shows were found)."""
    import plateocr.base_model
    from conftest import BUNDLED_BASE_MODEL
    from test_detection import CLUTTERED, bundled_detector

    from plateocr import PlateReader
    from plateocr.detection.detector import PlateDetector
    from plateocr.imaging import read_bgr
    from plateocr.inference.export import export_model
    from plateocr.defaults import READING_THRESHOLD
    from plateocr.photo_reading import read_photo_batch

    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", BUNDLED_BASE_MODEL)
    paths = [real_plates / "images" / name for name in CLUTTERED]
    result = export_model(None, tmp_path / "export", tta=False, formats="off", detector_dir=bundled_detector())
    assert result.reading_threshold == READING_THRESHOLD
    out = _saved_model_outputs(result.out, "photos", photo_bytes=[p.read_bytes() for p in paths])
    with PlateReader(tta=False, formats="off") as reader, PlateDetector(bundled_detector()) as detector:
        photos = [read_bgr(p) for p in paths]
        kept = read_photo_batch(reader, detector, photos)
        every = read_photo_batch(reader, detector, photos, reading_threshold=0)
    assert list(out["num_plates"]) == [len(r.plates) for r in kept]
    assert sum(len(r.plates) for r in every) > sum(len(r.plates) for r in kept) >= len(paths)
    for i, reading in enumerate(kept):
        n = len(reading.plates)
        assert np.abs(out["boxes"][i, :n] - np.array([p.box for p in reading.plates])).max() <= 1
        assert [t.decode() for t in out["texts"][i, :n]] == [p.text for p in reading.plates]
        assert not out["boxes"][i, n:].any() and set(out["texts"][i, n:]) == {b""}
