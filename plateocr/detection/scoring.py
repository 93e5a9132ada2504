"""Scoring plate detections against annotated boxes: overlap, one-to-one matching, and the
counts a benchmark or `eval` reports (plates found, boxes predicted, plates read exactly).

Boxes are (xmin, xmax, ymin, ymax) as in the annotation CSV (xmax, ymax exclusive: a box's area
is (xmax - xmin) * (ymax - ymin)). NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MATCH_IOU = 0.5  # a prediction finds a plate when their boxes overlap by at least this much


def iou(a, b) -> np.ndarray:
    """Intersection over union of boxes a [..., 4] and b [..., 4], broadcast as NumPy does: one
    box against [N, 4] gives [N]; for every pair of [N, 4] and [M, 4], pass a[:, None] and b[None].
    Boxes without area overlap nothing (0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ix = np.clip(np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 2], b[..., 2]), 0, None)
    inter = ix * iy
    area_a = np.clip(a[..., 1] - a[..., 0], 0, None) * np.clip(a[..., 3] - a[..., 2], 0, None)
    area_b = np.clip(b[..., 1] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 2], 0, None)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass(frozen=True)
class Match:
    """Which prediction found which plate (indices into the lists given to match())."""

    pairs: list[tuple[int, int]]  # (prediction, truth), best-scored prediction first
    unmatched_predictions: list[int]  # false positives
    unmatched_truths: list[int]  # plates missed


def match(pred_boxes, scores, true_boxes, threshold: float = MATCH_IOU) -> Match:
    """Greedy one-to-one matching: predictions in order of score (best first; ties in the order
    given) each take the still-unmatched annotated box they overlap most, if by at least
    `threshold` IoU."""
    preds = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
    truths = np.asarray(true_boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(scores) != len(preds):
        raise ValueError(f"{len(preds)} predicted boxes but {len(scores)} scores")
    overlaps = iou(preds[:, None], truths[None])  # [P, T]
    free = np.ones(len(truths), bool)
    pairs: list[tuple[int, int]] = []
    unmatched: list[int] = []
    for p in np.argsort(-scores, kind="stable"):
        candidates = np.where(free & (overlaps[p] >= threshold), overlaps[p], -1.0)
        t = int(np.argmax(candidates)) if len(truths) else -1
        if t >= 0 and candidates[t] >= 0:
            pairs.append((int(p), t))
            free[t] = False
        else:
            unmatched.append(int(p))
    return Match(pairs, sorted(unmatched), [int(t) for t in np.flatnonzero(free)])


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class DetectionScore:
    """Counts over photos, added one photo at a time (add()).

    found: annotated plates some prediction matched; annotated: plates in the annotations;
    predicted: boxes the detector gave; read_exactly: plates whose matched prediction was read
    as the annotated text (the same after plateocr.records.plate_key: case, spaces and
    separators aside), counted only when texts are given (else None).
    """

    threshold: float = MATCH_IOU
    found: int = 0
    annotated: int = 0
    predicted: int = 0
    read_exactly: int | None = None
    photos: int = 0
    misread: list[tuple[str, str]] = field(default_factory=list)  # (annotated, read) of found plates

    def add(self, pred_boxes, scores, true_boxes, pred_texts=None, true_texts=None) -> Match:
        """Score one photo's predictions; texts (one per box, in the same order) count reading.
        Returns the photo's Match."""
        m = match(pred_boxes, scores, true_boxes, self.threshold)
        self.photos += 1
        self.found += len(m.pairs)
        self.annotated += len(m.pairs) + len(m.unmatched_truths)
        self.predicted += len(m.pairs) + len(m.unmatched_predictions)
        if pred_texts is not None and true_texts is not None:
            from plateocr.records import plate_key

            self.read_exactly = self.read_exactly or 0
            for p, t in m.pairs:
                if plate_key(pred_texts[p]) == plate_key(true_texts[t]):
                    self.read_exactly += 1
                else:
                    self.misread.append((true_texts[t], pred_texts[p]))
        return m

    @property
    def recall(self) -> float | None:
        """Plates found / annotated (None without annotated plates)."""
        return _ratio(self.found, self.annotated)

    @property
    def precision(self) -> float | None:
        """Predictions that found a plate / predictions (None without predictions)."""
        return _ratio(self.found, self.predicted)

    @property
    def read_rate(self) -> float | None:
        """Plates read exactly / annotated: detection and reading together."""
        return None if self.read_exactly is None else _ratio(self.read_exactly, self.annotated)

    def to_dict(self) -> dict:
        return {
            "photos": self.photos,
            "annotated": self.annotated,
            "predicted": self.predicted,
            "found": self.found,
            "recall": self.recall,
            "precision": self.precision,
            "read_exactly": self.read_exactly,
            "read_rate": self.read_rate,
        }
