"""Exporting a trained model for serving: a SavedModel (and optionally a TensorFlow Lite model).

The SavedModel is written from the v1 inference graph with tf.compat.v1.saved_model.Builder, so
plain ``tf.saved_model.load(dir)`` (no plateocr code) runs it. Signatures:

- ``serving_default``: ``image_bytes`` (string [B], PNG/JPEG bytes: TensorFlow Serving's REST API
  accepts them as ``{"b64": ...}``), decoded and fitted to the model's input in the graph.
- ``images``: ``images`` (uint8 [B, H, W, 3] RGB at the model's input size).

Both return ``text`` (string [B]), ``confidence`` [B], ``char_ids`` [B, L], ``char_probabilities``
[B, L] and ``attention_masks`` [B, L, h, w]. By default the graph reads each image as predict
does: as the five test-time views, voted in the graph (plateocr.inference.test_time_augmentation's
views_in_graph and vote_in_graph compute what PlateReader's NumPy code does); ``tta=False``
exports a graph that reads each image once, five times less work. With formats (``formats``,
as predict's ``--formats``: the model folder's formats.json by default) each view's reading is
format-aware before the vote (plateocr.inference.format_search.search_in_graph, the same search as
PlateReader's); the formats are constants of the graph, copied beside it as formats.json.

With a plate detector (``detector``/``detector_dir``: detector/ in the working directory, else
the bundled base detector, when there is one), a third signature finds and reads the plates of
whole photos as ``predict --detect`` does, all in the one graph:

- ``photos``: ``photo_bytes`` (string [B], PNG/JPEG) -> per photo, padded to K = MAX_BOXES (20):
  ``boxes`` int32 [B, K, 4] (xmin, xmax, ymin, ymax in the photo's pixels, max exclusive, as
  predict --detect prints them), ``detection_scores`` [B, K], ``num_plates`` int32 [B],
  ``texts`` string [B, K] and ``confidences`` [B, K]; slots past num_plates hold zeros and "".
  Each photo is decoded once and letterboxed into the detector's 512x384 input
  (plateocr.detection.in_graph, the twins of geometry.letterbox and decode); the detector's
  variables, under its scope PlateDetector, come from its own checkpoint; its heads are decoded
  (3x3 peaks at least the threshold, ``detection_threshold``, boxes from the size and offset
  heads, tf.image.non_max_suppression); each box is cut as ``crop`` cuts it (the model's
  margin, clipped), fitted as ``serving_default`` fits, and read by the same reading (views,
  formats) as the other signatures; a box is kept where its reading's confidence per character
  is at least ``reading_threshold`` (plateocr.photo_reading.per_char_confidence). A photo that
  is no JPEG, PNG, GIF, BMP or WebP at all (told by its first bytes) gets ``num_plates`` -1 and
  the others are read; one that starts as an image and is damaged fails the whole call.

The in-graph fit follows plateocr.imaging.fit (stretch, or keep-aspect with replicated borders;
area filter when shrinking, bicubic when enlarging; halves rounded up, as OpenCV); TensorFlow's
filters differ from OpenCV's by a grey level or so, so texts agree with `predict` exactly only
for images already at the model's size (or shrunk by a whole factor), and a reading that is a
near tie may come out otherwise. The letterbox likewise: detection scores agree with predict
--detect's to ~1e-6 for photos it shrinks (area filter) and ~1e-3 for ones smaller than 512x384.

Serving it, e.g. ``tensorflow_model_server --rest_api_port=8501 --model_name=plates
--model_base_path=/models/plates`` with the export copied to ``/models/plates/1/``::

    POST /v1/models/plates:predict
    {"instances": [{"image_bytes": {"b64": "<base64 of a PNG or JPEG>"}}]}
    {"signature_name": "photos", "instances": [{"photo_bytes": {"b64": "<base64 of a photo>"}}]}

The TFLite model (``plateocr.tflite``) takes uint8 [1, H, W, 3] RGB and returns the numeric
outputs (char_ids, char_probabilities, confidence, attention_masks), voted over the views like
the SavedModel unless ``tta=False``; map ids to text with
``charset.txt`` (written beside it). It is checked against the TensorFlow graph when written.
With a detector, ``detector.tflite`` too: a letterboxed photo, uint8 [1, 384, 512, 3] RGB (the
photo scaled by s = min(512 / w, 384 / h) at the top-left, grey 114 around), in; the heads
``heatmap`` [1, 96, 128] (probabilities), ``size`` and ``offset`` [1, 96, 128, 2] out, within
1e-3 of TensorFlow's on a check when written. Decode them with
``plateocr.detection.geometry.decode(heatmap[0], size[0], offset[0], threshold)`` and divide the
boxes by s; export.json's "detector" records the constants (threshold, stride, sizes) for
decoding elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from plateocr.defaults import READING_THRESHOLD
from plateocr.detection.geometry import THRESHOLD
from plateocr.errors import OutputExistsError, PlateOCRError
from plateocr.inference.decoding import texts_tf
from plateocr.inference.format_search import FormatTables, build_tables, char_probabilities, search_in_graph
from plateocr.inference.test_time_augmentation import VIEWS, views_in_graph, vote_in_graph
from plateocr.inference.tflite_conversion import quiet_tensorflow, tflite_flatbuffer
from plateocr.model.modeldir import ModelDir
from plateocr.model.restore import restore_checkpoint

if TYPE_CHECKING:
    from plateocr.detection.detector_dir import DetectorDir

EXPORT_DIR = "export"
TFLITE_FILE = "plateocr.tflite"
DETECTOR_TFLITE_FILE = "detector.tflite"
INFO_FILE = "export.json"
SERVING_SIGNATURE = "serving_default"
IMAGES_SIGNATURE = "images"
PHOTOS_SIGNATURE = "photos"
NUMERIC_OUTPUTS = ("char_ids", "char_probabilities", "confidence", "attention_masks")
PHOTO_OUTPUTS = ("boxes", "detection_scores", "num_plates", "texts", "confidences")


@dataclass
class ExportResult:
    out: Path
    checkpoint: str
    input_size: tuple[int, int]
    signatures: list[str]
    views: int = 1
    formats: tuple[str, ...] = ()  # the formats the graph prefers (format-aware reading), if any
    tflite: Path | None = None
    tflite_bytes: int = 0
    notes: list[str] = field(default_factory=list)
    # the plate detector in the `photos` signature, if any: its folder, checkpoint and thresholds
    detector: Path | None = None
    detector_checkpoint: str | None = None
    detection_threshold: float | None = None
    reading_threshold: float | None = None
    detector_tflite: Path | None = None
    detector_tflite_bytes: int = 0


@dataclass(frozen=True)
class _Detector:
    """The detector an export carries: its directory, checkpoint, detection threshold, and the
    least per-character confidence of a box's reading that keeps the box."""

    dir: DetectorDir
    checkpoint: str
    threshold: float
    reading_threshold: float


def resize_in_graph(image, height, width, shrinking, enlarge: str):
    """uint8 [h, w, 3] -> uint8 [height, width, 3]: the area filter when `shrinking` (a boolean
    tensor), else the `enlarge` method of tf.image.resize; rounded back to uint8, halves up as
    OpenCV's fixed-point resizes round (its 2x area shrink averages 2x2 pixels: (sum + 2) >> 2);
    the image itself when it has that size already."""
    from plateocr.model.compat import tf

    shape = tf.shape(image)
    size = tf.stack([height, width])

    def resize():
        as_float = tf.cast(image, tf.float32)
        out = tf.cond(
            shrinking,
            lambda: tf.image.resize(as_float, size, method="area"),
            lambda: tf.image.resize(as_float, size, method=enlarge),
        )
        return tf.cast(tf.clip_by_value(tf.floor(out + 0.5), 0, 255), tf.uint8)

    same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
    return tf.cond(same, lambda: image, resize)


def _fit_in_graph(image, height: int, width: int, keep_aspect: bool):
    """uint8 [h, w, 3] -> uint8 [height, width, 3], as plateocr.imaging.fit does it."""
    from plateocr.model.compat import tf

    shape = tf.shape(image)
    ih, iw = shape[0], shape[1]
    if keep_aspect:
        scale = tf.minimum(height / tf.cast(ih, tf.float64), width / tf.cast(iw, tf.float64))
        nh = tf.maximum(1, tf.cast(tf.round(tf.cast(ih, tf.float64) * scale), tf.int32))
        nw = tf.maximum(1, tf.cast(tf.round(tf.cast(iw, tf.float64) * scale), tf.int32))
    else:
        nh, nw = tf.constant(height), tf.constant(width)
    shrinking = tf.cast(ih * iw, tf.int64) > tf.cast(nh * nw, tf.int64)
    resized = resize_in_graph(image, nh, nw, shrinking, enlarge="bicubic")
    if keep_aspect:
        # Centre it, padding with the replicated border (cv2.BORDER_REPLICATE).
        top, left = (height - nh) // 2, (width - nw) // 2
        rows = tf.clip_by_value(tf.range(height) - top, 0, nh - 1)
        cols = tf.clip_by_value(tf.range(width) - left, 0, nw - 1)
        resized = tf.gather(tf.gather(resized, rows, axis=0), cols, axis=1)
    return tf.ensure_shape(resized, [height, width, 3])


def _numeric_outputs(images, config, null_code: int, tta: bool, tables: FormatTables | None) -> dict:
    """The network on `images` (uint8 [B, H, W, 3]); with `tta`, on their views, voted per image;
    with format `tables`, each view's reading format-aware before the vote (as PlateReader)."""
    from plateocr.model.network import build_model

    ep = build_model(views_in_graph(images) if tta else images, config, is_training=False)
    chars, scores, confidence = ep.predicted_chars, ep.predicted_scores, ep.sequence_confidence
    if tables is not None:
        chars, scores, confidence = search_in_graph(tables, char_probabilities(ep), chars)
    if tta:
        return vote_in_graph(chars, scores, confidence, ep.attention_masks, null_code)
    return {
        "char_ids": chars,
        "char_probabilities": scores,
        "confidence": confidence,
        "attention_masks": ep.attention_masks,
    }


def _photo_outputs(photo_bytes, md: ModelDir, detector: _Detector, tta: bool, tables: FormatTables | None) -> dict:
    """The `photos` signature's outputs for photo_bytes (string [B]), as `predict --detect` finds
    and reads plates: each photo decoded and letterboxed, the detector on them, its heads decoded
    into at most MAX_BOXES boxes a photo, each box cut as `crop` cuts it (the model's margin,
    clipped, fitted as serving_default fits) and read as serving_default reads. Per photo, padded
    to MAX_BOXES (zero boxes and scores, empty texts): boxes int32 [B, K, 4], detection_scores
    [B, K], num_plates int32 [B] (-1 for bytes that are no image), texts string [B, K],
    confidences [B, K]. Call it after the recogniser's graph is built: it reuses its variables."""
    from plateocr.defaults import MARGIN
    from plateocr.detection.geometry import INPUT_HEIGHT, INPUT_WIDTH, MAX_BOXES, PAD_VALUE
    from plateocr.detection.in_graph import crop_regions_in_graph, decode_in_graph, letterbox_in_graph
    from plateocr.detection.network import build_detector
    from plateocr.model.compat import tf, tf1

    h, w, _ = md.config.image_shape
    keep_aspect = bool(md.spec.keep_aspect)
    margin = MARGIN if md.spec.margin is None else float(md.spec.margin)  # records that do not say: crop's
    count = tf.shape(photo_bytes)[0]

    def arrays(dtype, shape):
        return tf.TensorArray(dtype, size=count, infer_shape=False, element_shape=shape)

    def is_image(data):
        """Whether decode_image takes `data`, by its first bytes: JPEG, PNG, GIF, BMP or WebP
        (decoding anything else would fail the whole call)."""
        head = tf.strings.join([data, b"\0" * 12])  # at least 12 bytes, so the slices exist

        def at(start, magic: bytes):
            return tf.equal(tf.strings.substr(head, start, len(magic)), magic)

        kinds = [at(0, b"\xff\xd8\xff"), at(0, b"\x89PNG\r\n\x1a\n"), at(0, b"GIF8"), at(0, b"BM")]
        return tf.reduce_any(tf.stack(kinds)) | (at(0, b"RIFF") & at(8, b"WEBP"))

    def load(i, photos, inputs, scales, decoded):
        ok = is_image(photo_bytes[i])
        photo = tf.cond(
            ok,
            lambda: tf.io.decode_image(photo_bytes[i], channels=3, expand_animations=False),
            lambda: tf.fill([1, 1, 3], tf.constant(PAD_VALUE, tf.uint8)),  # a stand-in, read as no photo
        )
        boxed, scale = letterbox_in_graph(photo)
        return i + 1, photos.write(i, photo), inputs.write(i, boxed), scales.write(i, scale), decoded.write(i, ok)

    # the photos decoded once, kept (of any size) for the cuts
    start = (
        0,
        arrays(tf.uint8, [None, None, 3]),
        arrays(tf.uint8, [INPUT_HEIGHT, INPUT_WIDTH, 3]),
        arrays(tf.float64, []),
        arrays(tf.bool, []),
    )
    _, photos, inputs, scales, decoded = tf.while_loop(lambda i, *_: i < count, load, start)
    decoded = tf.reshape(decoded.stack(), [-1])  # [B]
    inputs = inputs.stack()
    # A batch of no photos is given one blank input (the network fails on an empty batch).
    blank = tf.fill([1, INPUT_HEIGHT, INPUT_WIDTH, 3], tf.constant(PAD_VALUE, tf.uint8))
    inputs = tf.cond(count > 0, lambda: inputs, lambda: blank)
    heads = build_detector(inputs, detector.dir.config, is_training=False)

    def padded(t, n):  # [n, ...] -> [MAX_BOXES, ...], zeros after the first n
        return tf.pad(t, [[0, MAX_BOXES - n]] + [[0, 0]] * (t.shape.rank - 1))

    def find(i):  # one photo's boxes, scores, their number and their cuts
        photo = photos.read(i)
        ph, pw = tf.shape(photo)[0], tf.shape(photo)[1]
        heat, size, offset = heads.heatmap[i], heads.size[i], heads.offset[i]
        threshold = tf.where(decoded[i], detector.threshold, 2.0)  # no image: no box (scores are <= 1)
        boxes, scores = decode_in_graph(heat, size, offset, scales.read(i), pw, ph, threshold)

        def cut(r):
            return _fit_in_graph(photo[r[2] : r[3], r[0] : r[1]], h, w, keep_aspect)

        regions = crop_regions_in_graph(boxes, pw, ph, margin)
        crops = tf.map_fn(cut, regions, fn_output_signature=tf.TensorSpec([h, w, 3], tf.uint8))
        n = tf.shape(boxes)[0]
        return padded(boxes, n), padded(scores, n), n, padded(crops, n)

    spec = (
        tf.TensorSpec([MAX_BOXES, 4], tf.int32),
        tf.TensorSpec([MAX_BOXES], tf.float32),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([MAX_BOXES, h, w, 3], tf.uint8),
    )
    boxes, scores, n, crops = tf.map_fn(find, tf.range(count), fn_output_signature=spec)
    found = tf.sequence_mask(n, MAX_BOXES)  # [B, K]
    flat = tf.reshape(found, [-1])
    plates = tf.boolean_mask(tf.reshape(crops, [-1, h, w, 3]), flat)
    # One blank crop more: the recogniser's batch is never empty, and empty slots point at it.
    plates = tf.concat([plates, tf.zeros([1, h, w, 3], tf.uint8)], 0)
    with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
        numeric = _numeric_outputs(plates, md.config, md.charset.null_code, tta, tables)
    slot = tf.where(flat, tf.cumsum(tf.cast(flat, tf.int32)) - 1, tf.shape(plates)[0] - 1)
    slot = tf.reshape(slot, [-1, MAX_BOXES])
    texts = tf.gather(texts_tf(numeric["char_ids"], md.charset), slot)
    confidences = tf.gather(numeric["confidence"], slot)
    # Boxes whose reading's confidence per character (plateocr.photo_reading.per_char_confidence)
    # falls below the reading threshold go; the kept ones move to the front, in their order.
    length = tf.cast(tf.strings.length(texts, unit="UTF8_CHAR"), tf.float32)
    per_char = tf.where(length > 0, tf.pow(confidences, 1.0 / tf.maximum(length, 1.0)), tf.zeros_like(confidences))
    keep = found & (per_char >= detector.reading_threshold)
    order = tf.argsort(tf.cast(tf.logical_not(keep), tf.int32), axis=1, stable=True)
    n = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1)
    kept = tf.sequence_mask(n, MAX_BOXES)

    def kept_first(t):  # [B, K, ...] in `order`, zeros (or "") past the kept ones
        t = tf.gather(t, order, batch_dims=1)
        mask = tf.reshape(kept, [-1, MAX_BOXES] + [1] * (t.shape.rank - 2))
        return tf.where(mask, t, tf.zeros_like(t))

    outputs = {
        "boxes": kept_first(boxes),
        "detection_scores": kept_first(scores),
        "num_plates": tf.where(decoded, n, -1),  # -1: not an image
        "texts": kept_first(texts),
        "confidences": kept_first(confidences),
    }
    return {k: tf.identity(v, name=k) for k, v in outputs.items()}


def _restore_all(session, detector: _Detector | None, checkpoint: str) -> None:
    """The recogniser's variables from its checkpoint, the detector's (scope PlateDetector) from its."""
    from plateocr.detection.network import SCOPE
    from plateocr.model.compat import tf1

    variables = tf1.global_variables()
    found = [v.op.name.startswith(f"{SCOPE}/") for v in variables]
    recogniser = [v for v, theirs in zip(variables, found) if not theirs]
    restore_checkpoint(session, tf1.train.Saver(recogniser), checkpoint)
    if detector is not None:
        detector_variables = [v for v, theirs in zip(variables, found) if theirs]
        restore_checkpoint(session, tf1.train.Saver(detector_variables), detector.checkpoint, "the detector")


def _write_saved_model(
    target: Path, md: ModelDir, checkpoint: str, tta: bool, tables: FormatTables | None, detector: _Detector | None
) -> None:
    from plateocr.model.compat import tf, tf1

    config, charset = md.config, md.charset
    h, w, _ = config.image_shape
    keep_aspect = bool(md.spec.keep_aspect)
    graph = tf.Graph()
    with graph.as_default():
        image_bytes = tf1.placeholder(tf.string, [None], name="image_bytes")

        def decode(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            return _fit_in_graph(image, h, w, keep_aspect)

        decoded = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec([h, w, 3], tf.uint8))
        # Fed directly by the `images` signature; computed from the bytes otherwise.
        images = tf1.placeholder_with_default(decoded, [None, h, w, 3], name="images")
        numeric = _numeric_outputs(images, config, charset.null_code, tta, tables)
        outputs = {"text": tf.identity(texts_tf(numeric["char_ids"], charset), name="text"), **numeric}
        if detector is not None:
            photo_bytes = tf1.placeholder(tf.string, [None], name="photo_bytes")
            with tf.name_scope("photos"):
                photo_outputs = _photo_outputs(photo_bytes, md, detector, tta, tables)
        with tf1.Session(graph=graph) as session:
            _restore_all(session, detector, checkpoint)
            info = tf1.saved_model.utils.build_tensor_info
            out_info = {k: info(v) for k, v in outputs.items()}
            method = tf1.saved_model.signature_constants.PREDICT_METHOD_NAME
            signatures = {
                SERVING_SIGNATURE: tf1.saved_model.signature_def_utils.build_signature_def(
                    {"image_bytes": info(image_bytes)}, out_info, method
                ),
                IMAGES_SIGNATURE: tf1.saved_model.signature_def_utils.build_signature_def(
                    {"images": info(images)}, out_info, method
                ),
            }
            if detector is not None:
                signatures[PHOTOS_SIGNATURE] = tf1.saved_model.signature_def_utils.build_signature_def(
                    {"photo_bytes": info(photo_bytes)}, {k: info(v) for k, v in photo_outputs.items()}, method
                )
            builder = tf1.saved_model.Builder(str(target))
            builder.add_meta_graph_and_variables(
                session, [tf1.saved_model.tag_constants.SERVING], signature_def_map=signatures, strip_default_attrs=True
            )
            builder.save()


def _tflite_graph(md: ModelDir, checkpoint: str, tta: bool, tables: FormatTables | None):
    """A session on a plain uint8 placeholder -> numeric outputs (no string ops: TFLite builtins)."""
    from plateocr.model.compat import tf, tf1

    config = md.config
    h, w, _ = config.image_shape
    graph = tf.Graph()
    with graph.as_default():
        images = tf1.placeholder(tf.uint8, [1, h, w, 3], name="images")
        numeric = _numeric_outputs(images, config, md.charset.null_code, tta, tables)
        # Named after the outputs, so the TFLite model's output tensors carry these names.
        with tf.name_scope("outputs"):
            outputs = {k: tf.identity(v, name=k) for k, v in numeric.items()}
        saver = tf1.train.Saver(tf1.global_variables())
    session = tf1.Session(graph=graph)
    with graph.as_default():
        restore_checkpoint(session, saver, checkpoint)
    return session, images, outputs


def tflite_output_name(detail: dict) -> str:
    """An output of a plateocr TFLite model by its name in the graph (outputs/<name>:0 -> name)."""
    return detail["name"].split(":")[0].rsplit("/", 1)[-1]


def tflite_outputs(interpreter, names=NUMERIC_OUTPUTS) -> dict[str, np.ndarray]:
    """The outputs of an invoked plateocr TFLite interpreter, by name (the recogniser's, or
    `names`: the detector's are heatmap, size and offset)."""
    found = {}
    for d in interpreter.get_output_details():
        name = tflite_output_name(d)
        if name in names:
            found[name] = interpreter.get_tensor(d["index"])
    missing = set(names) - set(found)
    if missing:
        raise PlateOCRError(f"not a plateocr TFLite model: no output(s) {', '.join(sorted(missing))}")
    return found


def run_tflite(model_path: str | os.PathLike, images: np.ndarray, names=NUMERIC_OUTPUTS) -> dict[str, np.ndarray]:
    """Run a plateocr TFLite model on uint8 RGB images [B, H, W, 3], one at a time; its outputs
    `names` (see tflite_outputs)."""
    from plateocr.model.compat import tf

    with warnings.catch_warnings():  # its deprecation notice points at a package we do not use
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(model_path))
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    per_image = []
    for image in images:
        interpreter.set_tensor(index, image[None])
        interpreter.invoke()
        per_image.append(tflite_outputs(interpreter, names))
    return {k: np.concatenate([o[k] for o in per_image]) for k in per_image[0]}


def _write_checked_tflite(path: Path, session, images, outputs: dict, agree) -> list[str]:
    """Convert the session's graph (`images` in, `outputs` out), write it to `path`, and check
    it: agree(interpreter's outputs, graph's) on a random sample must hold. Notes for the user."""
    notes = []
    with session:
        model, uses_flex = tflite_flatbuffer(session, [images], list(outputs.values()))
        if uses_flex:
            notes.append(f"{path.name} uses TensorFlow (Flex) ops: its runtime needs the Flex delegate")
        path.write_bytes(model)
        sample = np.random.default_rng(0).integers(0, 256, (1, *images.shape[1:]), dtype=np.uint8)
        expected = session.run(outputs, {images: sample})
    if not agree(run_tflite(path, sample, tuple(outputs)), expected):
        raise PlateOCRError(f"{path}: the TensorFlow Lite model answers a test image differently from the graph")
    return notes


def _write_tflite(path: Path, md: ModelDir, checkpoint: str, tta: bool, tables: FormatTables | None) -> list[str]:
    """Convert, write and check the TFLite model (it must read a sample as the graph does)."""
    session, images, outputs = _tflite_graph(md, checkpoint, tta, tables)
    return _write_checked_tflite(
        path, session, images, outputs, lambda got, expected: np.array_equal(got["char_ids"], expected["char_ids"])
    )


def _write_detector_tflite(path: Path, detector: _Detector) -> list[str]:
    """Convert, write and check the detector's TFLite model: letterboxed uint8 [1, 384, 512, 3]
    in; heatmap, size and offset out, within CHECK_TOLERANCE of TensorFlow's (as the reader's
    LiteRT detector)."""
    from plateocr.detection.detector import CHECK_TOLERANCE, detector_graph
    from plateocr.model.compat import tf1

    graph, images, outputs, saver = detector_graph(detector.dir.config)
    session = tf1.Session(graph=graph)
    with graph.as_default():
        restore_checkpoint(session, saver, detector.checkpoint, "the detector")

    def agree(got, expected):
        return all(np.allclose(got[k], expected[k], rtol=0, atol=CHECK_TOLERANCE) for k in expected)

    return _write_checked_tflite(path, session, images, outputs, agree)


def _check_saved_model(target: Path, h: int, w: int, photos: bool) -> None:
    """Load it the way a user would and run its signatures on a sample."""
    import cv2

    from plateocr.model.compat import tf

    def png(image):
        return cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()

    loaded = tf.saved_model.load(str(target))
    rng = np.random.default_rng(0)
    sample = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    by_bytes = loaded.signatures[SERVING_SIGNATURE](image_bytes=tf.constant([png(sample)]))
    by_images = loaded.signatures[IMAGES_SIGNATURE](images=tf.constant(sample[None]))
    if not np.array_equal(by_bytes["char_ids"].numpy(), by_images["char_ids"].numpy()):
        raise PlateOCRError(f"{target}: the exported signatures disagree on a test image")
    if photos:
        photo = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
        found = loaded.signatures[PHOTOS_SIGNATURE](photo_bytes=tf.constant([png(photo)]))
        if set(found) != set(PHOTO_OUTPUTS) or found["texts"].shape[0] != 1:
            raise PlateOCRError(f"{target}: the {PHOTOS_SIGNATURE} signature fails on a test photo")


def export_model(
    model_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    checkpoint: str | None = None,
    force: bool = False,
    tflite: bool = False,
    tta: bool = True,
    formats="auto",
    detector: bool = True,
    detector_dir: str | os.PathLike | None = None,
    detection_threshold: float = THRESHOLD,
    reading_threshold: float = READING_THRESHOLD,
) -> ExportResult:
    """Write the SavedModel (and with `tflite` the TFLite model) of a model directory's checkpoint
    (default best, else latest) into `out` (default <model_dir>/export), atomically: a finished
    export appears under its name only when complete. model_dir None: model/ when it holds a
    model, else the bundled base model, whose default `out` is export/ in the working directory
    (never a folder of the installed package). With `tta` (the default, as `predict`) the
    graph reads each image as the test-time views and votes; without, it reads each once.
    formats: as predict's ("auto", "off", a formats file, a Formats): the graph reads as
    PlateReader does with them, and the export holds a copy (formats.json).

    With `detector` (the default) the plate detector of `detector_dir` (best checkpoint, else
    the latest; default: detector/ here, else the bundled base detector, else none, said in the
    notes) is exported too: the `photos` signature, and with `tflite` detector.tflite.
    detection_threshold: the least centre score that counts as a plate (as PlateDetector's);
    reading_threshold: the least confidence per character of a box's reading that keeps the box
    (as predict --detect's --reading-threshold)."""
    from plateocr.base_model import bundled_base_model, default_model_dir
    from plateocr.formats import resolve_formats

    md = ModelDir(default_model_dir(model_dir))
    chosen = resolve_formats(formats, md.path)
    ckpt = md.resolve_checkpoint(checkpoint)
    notes: list[str] = []
    found = _choose_detector(detector, detector_dir, (detection_threshold, reading_threshold), notes)
    if out is None:
        out = Path(EXPORT_DIR) if md.path == bundled_base_model() else md.path / EXPORT_DIR
    out = Path(out)
    from plateocr.outputs import check_output_path

    check_output_path(out, "export folder", folder=True)  # a file, or a path under one
    if out.is_dir() and any(out.iterdir()):
        if not ((out / INFO_FILE).is_file() or (out / "saved_model.pb").is_file()):
            # --force replaces an earlier export, never an unrelated folder.
            raise PlateOCRError(
                f"{out}: holds other files, not an earlier export (no {INFO_FILE}); choose another --out"
            )
        if not force:
            raise OutputExistsError(f"{out}: an export is already there; pass --force to replace it")
    h, w, _ = md.config.image_shape
    out.parent.mkdir(parents=True, exist_ok=True)
    with quiet_tensorflow():
        result = _export(md, ckpt, out, h, w, tflite, tta, chosen, found)
    result.notes[:0] = notes
    return result


def _choose_detector(wanted: bool, detector_dir, thresholds: tuple[float, float], notes: list[str]) -> _Detector | None:
    """The detector to export (see export_model), its directory and checkpoint checked.
    thresholds: (detection, reading)."""
    from plateocr.detection.detector import default_detector_dir
    from plateocr.detection.detector_dir import DetectorDir

    if not wanted:
        if detector_dir is not None:
            raise PlateOCRError("a detector folder and no detector: choose one (--detector or --no-detector)")
        return None
    for what, value in zip(("detection", "reading"), thresholds):
        if not 0.0 <= value <= 1.0:
            raise PlateOCRError(f"the {what} threshold must lie between 0 and 1, not {value:g}")
    path = default_detector_dir(detector_dir)
    if detector_dir is None and not DetectorDir.exists(path):
        notes.append(
            "no detector/ here and no bundled base detector: the export has no photos signature "
            "(train one with `plateocr train-detector`, or pass --detector)"
        )
        return None
    folder = DetectorDir(path)
    return _Detector(folder, folder.resolve_checkpoint(None), float(thresholds[0]), float(thresholds[1]))


def _detector_info(detector: _Detector, tflite: bool) -> dict:
    """What export.json says of the exported detector: enough to use detector.tflite without
    plateocr (letterbox, then plateocr.detection.geometry.decode's steps)."""
    from plateocr.detection import geometry as g
    from plateocr.detection.detector import OUTPUTS

    return {
        "folder": str(detector.dir.path.resolve()),
        "checkpoint": detector.checkpoint,
        "config": detector.dir.config.to_dict(),
        "signature": PHOTOS_SIGNATURE,
        "outputs": list(PHOTO_OUTPUTS),
        "input_size": [g.INPUT_HEIGHT, g.INPUT_WIDTH],
        "pad_value": g.PAD_VALUE,
        "stride": g.STRIDE,
        "threshold": detector.threshold,
        "reading_threshold": detector.reading_threshold,
        "max_boxes": g.MAX_BOXES,
        "nms_iou": g.NMS_IOU,
        "log_size_range": [float(v) for v in g.LOG_SIZE_RANGE],
        "tflite": DETECTOR_TFLITE_FILE if tflite else None,
        "tflite_outputs": list(OUTPUTS),
        "tflite_decode": "plateocr.detection.geometry.decode(heatmap[0], size[0], offset[0]); boxes / scale",
    }


def _export(
    md: ModelDir,
    ckpt: str,
    out: Path,
    h: int,
    w: int,
    tflite: bool,
    tta: bool,
    formats,
    detector: _Detector | None = None,
) -> ExportResult:
    from plateocr.formats import FORMATS_FILE

    tables = build_tables(formats, md.charset, md.config.max_sequence_length)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        target = work / "export"
        _write_saved_model(target, md, ckpt, tta, tables, detector)
        _check_saved_model(target, h, w, photos=detector is not None)
        md.charset.write(target / "charset.txt")
        result = ExportResult(out, ckpt, (h, w), [SERVING_SIGNATURE, IMAGES_SIGNATURE], len(VIEWS) if tta else 1)
        if tables is not None:
            formats.write(target / FORMATS_FILE)
            result.formats = tables.formats
        if tflite:
            result.notes += _write_tflite(target / TFLITE_FILE, md, ckpt, tta, tables)
            result.tflite = out / TFLITE_FILE
            result.tflite_bytes = (target / TFLITE_FILE).stat().st_size
        if detector is not None:
            result.signatures.append(PHOTOS_SIGNATURE)
            result.detector, result.detector_checkpoint = detector.dir.path, detector.checkpoint
            result.detection_threshold = detector.threshold
            result.reading_threshold = detector.reading_threshold
            if tflite:
                result.notes += _write_detector_tflite(target / DETECTOR_TFLITE_FILE, detector)
                result.detector_tflite = out / DETECTOR_TFLITE_FILE
                result.detector_tflite_bytes = (target / DETECTOR_TFLITE_FILE).stat().st_size
        info = {
            "checkpoint": ckpt,
            "input_size": [h, w],
            "keep_aspect": bool(md.spec.keep_aspect),
            "max_sequence_length": md.config.max_sequence_length,
            "views": result.views,
            "formats": FORMATS_FILE if tables is not None else None,
            "signatures": result.signatures,
            "outputs": ["text", *NUMERIC_OUTPUTS],
            "tflite": TFLITE_FILE if tflite else None,
            "detector": _detector_info(detector, tflite) if detector is not None else None,
        }
        (target / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(target, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result
