"""Test-time augmentation: read each crop as a few slightly re-framed views, keep what they agree on.

A hand-drawn box is a few percent off in size and position, and a misreading on one framing is
often read right on another. Each crop is read as itself, zoomed in and out, and shifted left
and right (the annotation errors the synthetic crops are trained with); the text whose views
sum to the highest confidence wins. Measured with the bundled base model: 0.861 -> 0.898 on the
108 real EU plates, 0.822 -> 0.849 on 1,000 unseen synthetic crops (README, "Reading").
"""

from __future__ import annotations

from collections import defaultdict

import cv2
import numpy as np

from plateocr.model.decoding import Reading

# (horizontal scale, vertical scale, horizontal shift, vertical shift), shifts as fractions of
# the crop's size; the first view is the crop itself.
VIEWS = (
    (1.0, 1.0, 0.0, 0.0),
    (1.06, 1.1, 0.0, 0.0),
    (0.94, 0.9, 0.0, 0.0),
    (1.0, 1.0, 0.015, 0.0),
    (1.0, 1.0, -0.015, 0.0),
)


def reframe(image: np.ndarray, scale_x: float, scale_y: float, shift_x: float, shift_y: float) -> np.ndarray:
    """The image zoomed about its centre and shifted, same size; edges repeat where it runs out."""
    h, w = image.shape[:2]
    m = np.float32([
        [scale_x, 0, (1 - scale_x) * w / 2 + shift_x * w],
        [0, scale_y, (1 - scale_y) * h / 2 + shift_y * h],
    ])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def views(images: np.ndarray) -> np.ndarray:
    """[B, H, W, C] -> [B * len(VIEWS), H, W, C]: each image's views, one after the other."""
    return np.stack([reframe(image, *v) for image in images for v in VIEWS])


def combine(readings: list[Reading]) -> list[Reading]:
    """One reading per image from its views' readings (in the order views() made them).

    The text with the highest summed confidence wins. Its confidence is that sum over all views
    (a view that read something else adds 0), its character confidences the mean over the views
    that read it, its attention that of the first of them.
    """
    n = len(VIEWS)
    if len(readings) % n:
        raise ValueError(f"{len(readings)} readings are not {n} views of each image")
    out = []
    for i in range(0, len(readings), n):
        group = readings[i : i + n]
        score: dict[str, float] = defaultdict(float)
        for r in group:
            score[r.text] += r.confidence
        text = max(score, key=score.get)  # ties: the text seen first (the crop itself first)
        agree = [r for r in group if r.text == text]
        out.append(
            Reading(
                text=text,
                confidence=score[text] / n,
                char_confidences=tuple(float(c) for c in np.mean([r.char_confidences for r in agree], axis=0))
                if text else (),
                attention=agree[0].attention,
            )
        )
    return out
