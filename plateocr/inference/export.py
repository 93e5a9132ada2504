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

The in-graph fit follows plateocr.imaging.fit (stretch, or keep-aspect with replicated borders;
area filter when shrinking, bicubic when enlarging); TensorFlow's filters differ from OpenCV's by
a grey level or so, so texts agree with `predict` exactly only for images already at the model's
size.

Serving it, e.g. ``tensorflow_model_server --rest_api_port=8501 --model_name=plates
--model_base_path=/models/plates`` with the export copied to ``/models/plates/1/``::

    POST /v1/models/plates:predict
    {"instances": [{"image_bytes": {"b64": "<base64 of a PNG or JPEG>"}}]}

The TFLite model (``plateocr.tflite``) takes uint8 [1, H, W, 3] RGB and returns the numeric
outputs (char_ids, char_probabilities, confidence, attention_masks), voted over the views like
the SavedModel unless ``tta=False``; map ids to text with
``charset.txt`` (written beside it). It is checked against the TensorFlow graph when written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from plateocr.errors import OutputExistsError, PlateOCRError, tf_error_message
from plateocr.inference.decoding import texts_tf
from plateocr.inference.format_search import FormatTables, build_tables, char_probabilities, search_in_graph
from plateocr.inference.test_time_augmentation import VIEWS, views_in_graph, vote_in_graph
from plateocr.model.modeldir import ModelDir

EXPORT_DIR = "export"
TFLITE_FILE = "plateocr.tflite"
INFO_FILE = "export.json"
SERVING_SIGNATURE = "serving_default"
IMAGES_SIGNATURE = "images"
NUMERIC_OUTPUTS = ("char_ids", "char_probabilities", "confidence", "attention_masks")


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

    def resize():
        as_float = tf.cast(image, tf.float32)
        out = tf.cond(
            shrinking,
            lambda: tf.image.resize(as_float, tf.stack([nh, nw]), method="area"),
            lambda: tf.image.resize(as_float, tf.stack([nh, nw]), method="bicubic"),
        )
        return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)

    same = tf.logical_and(tf.equal(ih, nh), tf.equal(iw, nw))
    resized = tf.cond(same, lambda: image, resize)
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


def _check_shapes(graph, checkpoint: str) -> None:
    """ValueError naming the first variable whose shape differs from the checkpoint's: resource
    variables take a tensor of another shape without complaint, which would leave a network of
    another config quietly broken."""
    from plateocr.model.compat import tf, tf1

    stored = dict(tf.train.list_variables(checkpoint))
    for v in graph.get_collection(tf1.GraphKeys.GLOBAL_VARIABLES):
        name = v.op.name
        if name in stored and list(stored[name]) != v.shape.as_list():
            raise ValueError(f"{name} has shape {list(stored[name])} there, {v.shape.as_list()} in this network")


def restore_checkpoint(session, saver, checkpoint: str) -> None:
    """saver.restore, a checkpoint that does not fit the graph (or is damaged) a PlateOCRError."""
    from plateocr.model.compat import tf

    try:
        _check_shapes(session.graph, checkpoint)
        saver.restore(session, checkpoint)
    except (tf.errors.OpError, ValueError) as e:
        raise PlateOCRError(
            f"{checkpoint}: cannot restore the model from this checkpoint ({tf_error_message(e)})"
        ) from None


def _write_saved_model(target: Path, md: ModelDir, checkpoint: str, tta: bool, tables: FormatTables | None) -> None:
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
        saver = tf1.train.Saver(tf1.global_variables())
        with tf1.Session(graph=graph) as session:
            restore_checkpoint(session, saver, checkpoint)
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


def tflite_outputs(interpreter) -> dict[str, np.ndarray]:
    """The outputs of an invoked plateocr TFLite interpreter, by name."""
    found = {}
    for d in interpreter.get_output_details():
        name = tflite_output_name(d)
        if name in NUMERIC_OUTPUTS:
            found[name] = interpreter.get_tensor(d["index"])
    missing = set(NUMERIC_OUTPUTS) - set(found)
    if missing:
        raise PlateOCRError(f"not a plateocr TFLite model: no output(s) {', '.join(sorted(missing))}")
    return found


def run_tflite(model_path: str | os.PathLike, images: np.ndarray) -> dict[str, np.ndarray]:
    """Run a plateocr TFLite model on uint8 RGB images [B, H, W, 3], one at a time."""
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
        per_image.append(tflite_outputs(interpreter))
    return {k: np.concatenate([o[k] for o in per_image]) for k in per_image[0]}


def tflite_flatbuffer(
    session, inputs: list, outputs: list, flex: bool = True, metadata: bool = True
) -> tuple[bytes, bool]:
    """The TFLite model of `outputs` fed by `inputs`, weights from `session`: built-in ops only,
    else, with `flex`, TensorFlow's (Flex) ops too. Returns (model, whether it needs Flex ops).
    The one conversion of plateocr: `export --tflite` and the reader's LiteRT graph
    (plateocr.inference.litert_runner, flex=False: the LiteRT wheel has no Flex delegate).
    metadata False leaves out the converter's conversion metadata (its version, options and a
    model hash), which it adds by re-encoding the whole model in Python (~0.06 s of CPU)."""
    from plateocr.model.compat import tf, tf1
    from plateocr.native_stderr import quiet_native_stderr

    def convert(ops):
        converter = tf1.lite.TFLiteConverter.from_session(session, inputs, outputs)
        converter.target_spec.supported_ops = ops
        converter.exclude_conversion_metadata = not metadata
        # quiet: grappler's C++ "Init node ... doesn't exist in graph" about the Saver's ops
        with quiet_native_stderr():
            return converter.convert()

    def failed(e: Exception) -> PlateOCRError:  # the converter raises many kinds; report the line that says why
        return PlateOCRError(f"TensorFlow Lite conversion failed: {tf_error_message(e)}")

    with _quiet_tensorflow():
        try:
            return convert([tf.lite.OpsSet.TFLITE_BUILTINS]), False
        except Exception as e:  # some op has no TFLite kernel: fall back to TensorFlow's (Flex) ops
            if not flex:
                raise failed(e) from None
        try:
            return convert([tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]), True
        except Exception as e:
            raise failed(e) from None


def _write_tflite(path: Path, md: ModelDir, checkpoint: str, tta: bool, tables: FormatTables | None) -> list[str]:
    """Convert, write and check the TFLite model; returns notes for the user."""
    notes = []
    session, images, outputs = _tflite_graph(md, checkpoint, tta, tables)
    with session:
        model, uses_flex = tflite_flatbuffer(session, [images], list(outputs.values()))
        if uses_flex:
            notes.append("the TFLite model uses TensorFlow (Flex) ops: its runtime needs the Flex delegate")
        path.write_bytes(model)
        # Check it: the interpreter must read a sample as the graph does.
        h, w, _ = md.config.image_shape
        sample = np.random.default_rng(0).integers(0, 256, (1, h, w, 3), dtype=np.uint8)
        expected = session.run(outputs, {images: sample})
    got = run_tflite(path, sample)
    if not np.array_equal(got["char_ids"], expected["char_ids"]):
        raise PlateOCRError(f"{path}: the TensorFlow Lite model reads a test image differently from the graph")
    return notes


def _check_saved_model(target: Path, h: int, w: int) -> None:
    """Load it the way a user would and run both signatures on a sample."""
    import cv2

    from plateocr.model.compat import tf

    loaded = tf.saved_model.load(str(target))
    sample = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    png = cv2.imencode(".png", cv2.cvtColor(sample, cv2.COLOR_RGB2BGR))[1].tobytes()
    by_bytes = loaded.signatures[SERVING_SIGNATURE](image_bytes=tf.constant([png]))
    by_images = loaded.signatures[IMAGES_SIGNATURE](images=tf.constant(sample[None]))
    if not np.array_equal(by_bytes["char_ids"].numpy(), by_images["char_ids"].numpy()):
        raise PlateOCRError(f"{target}: the exported signatures disagree on a test image")


def export_model(
    model_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    checkpoint: str | None = None,
    force: bool = False,
    tflite: bool = False,
    tta: bool = True,
    formats="auto",
) -> ExportResult:
    """Write the SavedModel (and with `tflite` the TFLite model) of a model directory's checkpoint
    (default best, else latest) into `out` (default <model_dir>/export), atomically: a finished
    export appears under its name only when complete. model_dir None: model/ when it holds a
    model, else the bundled base model, whose default `out` is export/ in the working directory
    (never a folder of the installed package). With `tta` (the default, as `predict`) the
    graph reads each image as the test-time views and votes; without, it reads each once.
    formats: as predict's ("auto", "off", a formats file, a Formats): the graph reads as
    PlateReader does with them, and the export holds a copy (formats.json)."""
    from plateocr.base_model import bundled_base_model, default_model_dir
    from plateocr.formats import resolve_formats

    md = ModelDir(default_model_dir(model_dir))
    chosen = resolve_formats(formats, md.path)
    ckpt = md.resolve_checkpoint(checkpoint)
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
    with _quiet_tensorflow():
        return _export(md, ckpt, out, h, w, tflite, tta, chosen)


@contextlib.contextmanager
def _quiet_tensorflow():
    """The v1 SavedModel and converter APIs log deprecation notices users cannot act on."""
    from plateocr.model.compat import tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def _export(md: ModelDir, ckpt: str, out: Path, h: int, w: int, tflite: bool, tta: bool, formats) -> ExportResult:
    from plateocr.formats import FORMATS_FILE

    tables = build_tables(formats, md.charset, md.config.max_sequence_length)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        target = work / "export"
        _write_saved_model(target, md, ckpt, tta, tables)
        _check_saved_model(target, h, w)
        md.charset.write(target / "charset.txt")
        result = ExportResult(out, ckpt, (h, w), [SERVING_SIGNATURE, IMAGES_SIGNATURE], len(VIEWS) if tta else 1)
        if tables is not None:
            formats.write(target / FORMATS_FILE)
            result.formats = tables.formats
        if tflite:
            result.notes += _write_tflite(target / TFLITE_FILE, md, ckpt, tta, tables)
            result.tflite = out / TFLITE_FILE
            result.tflite_bytes = (target / TFLITE_FILE).stat().st_size
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
        }
        (target / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(target, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result
