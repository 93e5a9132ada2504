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
        from plateocr.inference.export import restore_checkpoint
        from plateocr.model.compat import session_config, tf1

        self.graph, self.images, self.outputs, saver = detector_graph(config)
        self.session = tf1.Session(graph=self.graph, config=session_config())
        with self.graph.as_default():
            restore_checkpoint(self.session, saver, checkpoint)

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return self.session.run(self.outputs, {self.images: images})

    def close(self) -> None:
        self.session.close()


class PlateDetector:
    """One detector (start-up paid once), batched detection of RGB photos.

    detector_dir: a detector directory (default: default_detector_dir()); checkpoint: best/
    (else the latest) unless given; threshold: the least centre score that counts as a plate.
    """

    def __init__(
        self,
        detector_dir: str | os.PathLike | None = None,
        checkpoint: str | None = None,
        threshold: float = THRESHOLD,
        backend: str | None = None,
    ):
        self.dir = DetectorDir(default_detector_dir(detector_dir))
        self.checkpoint = self.dir.resolve_checkpoint(checkpoint)
        self.threshold = threshold
        self.backend = "tensorflow"
        self._runner = _SessionRunner(self.dir.config, self.checkpoint)

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
