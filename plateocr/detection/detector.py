"""PlateDetector: finding plates in whole photos with a trained detector directory.

    from plateocr.detection.detector import PlateDetector

    with PlateDetector() as detector:          # detector/ here, else the bundled base detector
        for d in detector.detect([photo_rgb])[0]:
            print(d.box, round(d.score, 2))      # (xmin, xmax, ymin, ymax) in the photo's pixels

Each photo is letterboxed into the detector's input (plateocr.detection.geometry), the network
runs on batches of them, and its heads are decoded in NumPy into boxes in the photo's pixels,
in the annotation CSV's convention (xmax, ymax exclusive), best score first.

Two backends, as for reading (plateocr.inference.reader): "litert" (the default where
ai-edge-litert is installed) runs the detector's graph converted to TensorFlow Lite, built once
per checkpoint and cached; "tensorflow" runs a session on the graph.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from plateocr.detection.detector_dir import DetectorDir
from plateocr.detection.geometry import INPUT_HEIGHT, INPUT_WIDTH, THRESHOLD, boxes_to_photo, decode, letterbox
from plateocr.errors import PlateOCRError
from plateocr.inference.reader import choose_backend

BASE_DETECTOR_DIR = Path(__file__).resolve().parent.parent / "assets" / "base_detector"
DETECTOR_DIR = "detector"
DETECT_BATCH_SIZE = 8
OUTPUTS = ("heatmap", "size", "offset")


def bundled_base_detector() -> Path | None:
    """The bundled base detector's folder, or None when this install has none."""
    return BASE_DETECTOR_DIR if DetectorDir.exists(BASE_DETECTOR_DIR) else None


def default_detector_dir(detector_dir: str | os.PathLike | None = None) -> Path:
    """`detector_dir` when given; else detector/ in the working directory when it holds a
    detector; else the bundled base detector; else detector/ (whose absence is then reported)."""
    if detector_dir is not None:
        return Path(detector_dir)
    if DetectorDir.exists(DETECTOR_DIR):
        return Path(DETECTOR_DIR)
    return bundled_base_detector() or Path(DETECTOR_DIR)


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # xmin, xmax, ymin, ymax in the photo's pixels (max exclusive)
    score: float


def to_detections(boxes: np.ndarray, scores: np.ndarray, scale: float, width: int, height: int) -> list[Detection]:
    """Decoded boxes (input pixels) as Detections in a width x height photo's whole pixels."""
    photo_boxes = boxes_to_photo(boxes, scale, width, height)
    found = []
    for b, s in zip(photo_boxes, scores):
        x0, x1, y0, y1 = int(np.floor(b[0])), int(np.ceil(b[1])), int(np.floor(b[2])), int(np.ceil(b[3]))
        if x1 > x0 and y1 > y0:
            found.append(Detection((x0, x1, y0, y1), float(s)))
    return found


def detector_graph(config):
    """(graph, images placeholder, {name: output tensor}, saver) for inference."""
    from plateocr.detection.network import build_detector
    from plateocr.model.compat import tf, tf1

    graph = tf.Graph()
    with graph.as_default():
        images = tf1.placeholder(tf.uint8, [None, INPUT_HEIGHT, INPUT_WIDTH, 3], name="images")
        out = build_detector(images, config, is_training=False)
        with tf.name_scope("outputs"):
            outputs = {
                "heatmap": tf.identity(out.heatmap, name="heatmap"),
                "size": tf.identity(out.size, name="size"),
                "offset": tf.identity(out.offset, name="offset"),
            }
        saver = tf1.train.Saver(tf1.global_variables())
    return graph, images, outputs, saver


class _SessionRunner:
    def __init__(self, config, checkpoint: str):
        from plateocr.model.restore import restore_checkpoint
        from plateocr.model.compat import session_config, tf1

        self.graph, self.images, self.outputs, saver = detector_graph(config)
        self.session = tf1.Session(graph=self.graph, config=session_config())
        with self.graph.as_default():
            restore_checkpoint(self.session, saver, checkpoint)

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return self.session.run(self.outputs, {self.images: images})

    def close(self) -> None:
        self.session.close()


# What builds the detector's graph and converts it: the key of its stored TFLite model.
TFLITE_SOURCES = (
    "detection/network.py",
    "detection/config.py",
    "detection/detector.py",
    "inference/tflite_conversion.py",
    "inference/litert_runner.py",
)
CHECK_TOLERANCE = 1e-3  # the converted graph's heatmap against TensorFlow's, on a sample


def build_detector_tflite(config, checkpoint: str, threads: int | None = None):
    """(TFLite flatbuffer, LiteRTRunner) of the detector with `checkpoint`'s weights, checked
    against TensorFlow on a sample (TensorFlow imported here)."""
    from plateocr.inference.tflite_conversion import tflite_flatbuffer
    from plateocr.model.restore import restore_checkpoint
    from plateocr.inference.litert_runner import LiteRTUnavailable, load_runner
    from plateocr.model.compat import tf1

    graph, images, outputs, saver = detector_graph(config)
    sample = np.random.default_rng(0).integers(0, 256, (1, INPUT_HEIGHT, INPUT_WIDTH, 3), dtype=np.uint8)
    with tf1.Session(graph=graph) as session:
        with graph.as_default():
            restore_checkpoint(session, saver, checkpoint)
        try:
            model, _ = tflite_flatbuffer(session, [images], list(outputs.values()), flex=False, metadata=False)
        except PlateOCRError as e:
            raise LiteRTUnavailable(str(e)) from None
        expected = session.run(outputs, {images: sample})
    runner = load_runner(model, threads, outputs=OUTPUTS)
    got = runner.run(sample)
    if not all(np.allclose(got[k], expected[k], rtol=0, atol=CHECK_TOLERANCE) for k in OUTPUTS):
        raise LiteRTUnavailable(f"{checkpoint}: its TensorFlow Lite graph detects a test image unlike TensorFlow")
    return model, runner


def _open_litert(config, checkpoint: str, threads: int | None):
    from plateocr.inference.litert_runner import load_runner
    from plateocr.inference.tflite_store import open_tflite

    return open_tflite(
        config,
        checkpoint,
        lambda: build_detector_tflite(config, checkpoint, threads),
        lambda model: load_runner(model, threads, outputs=OUTPUTS),
        sources=TFLITE_SOURCES,
    )


class PlateDetector:
    """One detector (start-up paid once), batched detection of RGB photos.

    detector_dir: a detector directory (default: default_detector_dir()); checkpoint: best/
    (else the latest) unless given; threshold: the least centre score that counts as a plate;
    backend: "auto", "litert" or "tensorflow" as PlateReader's ($PLATEOCR_BACKEND when None).
    """

    def __init__(
        self,
        detector_dir: str | os.PathLike | None = None,
        checkpoint: str | None = None,
        threshold: float = THRESHOLD,
        backend: str | None = None,
        threads: int | None = None,
    ):
        self.dir = DetectorDir(default_detector_dir(detector_dir))
        self.checkpoint = self.dir.resolve_checkpoint(checkpoint)
        self.threshold = threshold
        self.backend_note: str | None = None
        self._runner = None
        choice = choose_backend(backend)
        if choice != "tensorflow":
            from plateocr.inference.litert_runner import LiteRTUnavailable, available

            try:
                if not available():
                    raise LiteRTUnavailable("ai-edge-litert is not installed (pip install ai-edge-litert)")
                self._runner = _open_litert(self.dir.config, self.checkpoint, threads)
            except LiteRTUnavailable as e:
                if choice == "litert":
                    raise
                self.backend_note = f"{e}: detecting with TensorFlow"
        if self._runner is None:
            self._runner = _SessionRunner(self.dir.config, self.checkpoint)
        self.backend = "tensorflow" if isinstance(self._runner, _SessionRunner) else "litert"

    def heads(self, images: np.ndarray) -> list[dict[str, np.ndarray]]:
        """The network's outputs for letterboxed images [B, H, W, 3], one dict per image."""
        out = self._runner.run(np.ascontiguousarray(images, np.uint8))
        return [{k: out[k][i] for k in OUTPUTS} for i in range(len(images))]

    def detect(self, photos: Sequence[np.ndarray], batch_size: int = DETECT_BATCH_SIZE) -> list[list[Detection]]:
        """The plates found in each RGB uint8 photo, best score first."""
        found: list[list[Detection]] = []
        for start in range(0, len(photos), batch_size):
            chunk = photos[start : start + batch_size]
            boxed = [letterbox(p) for p in chunk]
            heads = self.heads(np.stack([b[0] for b in boxed]))
            for photo, (_, scale), out in zip(chunk, boxed, heads):
                boxes, scores = decode(out["heatmap"], out["size"], out["offset"], threshold=self.threshold)
                found.append(to_detections(boxes, scores, scale, photo.shape[1], photo.shape[0]))
        return found

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def __enter__(self) -> "PlateDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def warm_detector(detector_dir) -> str | None:
    """Convert the checkpoint `predict --detect` reads (best/, else the latest) for LiteRT now and
    store it beside the checkpoint, unless it is there: `train-detector` calls it while
    TensorFlow is loaded. Never raises: returns None, or one line saying why it was not built."""
    from plateocr.errors import tf_error_message

    try:
        PlateDetector(detector_dir).close()
    except Exception as e:  # a conversion problem must not fail the training run
        return f"the detector for LiteRT was not built ({tf_error_message(e)}); predict --detect builds it on first use"
    return None
