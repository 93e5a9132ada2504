"""The detector's geometry as TensorFlow ops, for the exported SavedModel's `photos` signature
(plateocr.inference.export), which finds and reads plates with no plateocr code.

Each function is the graph twin of a NumPy step `predict --detect` takes, with the same
constants (plateocr.detection.geometry) and the same arithmetic (float64 where NumPy's is):

- letterbox_in_graph: geometry.letterbox (scale s = min(INPUT_WIDTH / w, INPUT_HEIGHT / h),
  top-left, grey PAD_VALUE around); the area filter when shrinking, bilinear when enlarging, as
  OpenCV's INTER_AREA / INTER_LINEAR to within a grey level or so;
- decode_in_graph: geometry.decode (3x3 local maxima at least a threshold, boxes from the size
  and offset heads, non-maximum suppression, at most MAX_BOXES), then detector.to_detections
  (boxes in the photo's whole pixels, clipped; empty ones dropped);
- crop_regions_in_graph: plateocr.cropping.crop_region (a box grown by the margin, clipped).
"""

from __future__ import annotations

import numpy as np

from plateocr.detection.geometry import (
    GRID_HEIGHT,
    GRID_WIDTH,
    INPUT_HEIGHT,
    INPUT_WIDTH,
    LOG_SIZE_RANGE,
    MAX_BOXES,
    NMS_IOU,
    PAD_VALUE,
    STRIDE,
    THRESHOLD,
)
from plateocr.model.compat import tf


def letterbox_in_graph(photo):
    """uint8 [h, w, 3] -> (the detector's input uint8 [INPUT_HEIGHT, INPUT_WIDTH, 3], the scale
    s as float64 scalar), as geometry.letterbox."""
    from plateocr.inference.export import resize_in_graph

    shape = tf.shape(photo)
    h, w = tf.cast(shape[0], tf.float64), tf.cast(shape[1], tf.float64)
    scale = tf.minimum(INPUT_WIDTH / w, INPUT_HEIGHT / h)
    # Python's round() and tf.round both round halves to even
    nw = tf.clip_by_value(tf.cast(tf.round(w * scale), tf.int32), 1, INPUT_WIDTH)
    nh = tf.clip_by_value(tf.cast(tf.round(h * scale), tf.int32), 1, INPUT_HEIGHT)
    resized = resize_in_graph(photo, nh, nw, shrinking=scale < 1, enlarge="bilinear")
    padding = [[0, INPUT_HEIGHT - nh], [0, INPUT_WIDTH - nw], [0, 0]]
    canvas = tf.pad(resized, padding, constant_values=PAD_VALUE)
    return tf.ensure_shape(canvas, [INPUT_HEIGHT, INPUT_WIDTH, 3]), scale


def decode_in_graph(
    heatmap,
    size,
    offset,
    scale,
    photo_width,
    photo_height,
    threshold: float = THRESHOLD,
    max_boxes: int = MAX_BOXES,
    iou_threshold: float = NMS_IOU,
):
    """One photo's heads (heatmap probabilities [GRID_HEIGHT, GRID_WIDTH], size and offset
    [..., 2]) -> its plates: boxes int32 [n, 4] (xmin, xmax, ymin, ymax in the photo's pixels,
    max exclusive) and scores float32 [n], best first, n <= max_boxes. What geometry.decode then
    detector.to_detections give, `scale` being the letterbox's."""
    heat = tf.ensure_shape(heatmap, [GRID_HEIGHT, GRID_WIDTH])
    pooled = tf.nn.max_pool2d(heat[None, :, :, None], 3, 1, "SAME")[0, :, :, 0]
    candidate = tf.logical_and(heat >= pooled, heat >= threshold)
    # every cell a box; the ones that are no candidate scored below what suppression keeps
    scores = tf.reshape(tf.where(candidate, heat, -1.0), [-1])
    rows, cols = np.divmod(np.arange(GRID_HEIGHT * GRID_WIDTH, dtype=np.float64), GRID_WIDTH)
    size = tf.clip_by_value(tf.reshape(tf.cast(size, tf.float64), [-1, 2]), *LOG_SIZE_RANGE)
    offset = tf.reshape(tf.cast(offset, tf.float64), [-1, 2])
    w, h = tf.exp(size[:, 0]) * STRIDE, tf.exp(size[:, 1]) * STRIDE
    cx, cy = (cols + offset[:, 0]) * STRIDE, (rows + offset[:, 1]) * STRIDE
    x0, x1, y0, y1 = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    # ties go to the lower index (the row-major first), as NumPy's stable sort does
    keep = tf.image.non_max_suppression(
        tf.cast(tf.stack([y0, x0, y1, x1], axis=1), tf.float32),
        scores,
        max_boxes,
        iou_threshold=iou_threshold,
        score_threshold=-0.5,
    )
    # to the photo's pixels, clipped, whole (geometry.boxes_to_photo, detector.to_detections)
    pw, ph = tf.cast(photo_width, tf.float64), tf.cast(photo_height, tf.float64)

    def photo_px(v, limit):
        return tf.clip_by_value(tf.gather(v, keep) / scale, 0.0, limit)

    boxes = tf.stack(
        [
            tf.floor(photo_px(x0, pw)),
            tf.math.ceil(photo_px(x1, pw)),
            tf.floor(photo_px(y0, ph)),
            tf.math.ceil(photo_px(y1, ph)),
        ],
        axis=1,
    )
    boxes = tf.cast(boxes, tf.int32)
    found = tf.logical_and(boxes[:, 1] > boxes[:, 0], boxes[:, 3] > boxes[:, 2])
    return tf.boolean_mask(boxes, found), tf.boolean_mask(tf.gather(scores, keep), found)


def crop_regions_in_graph(boxes, photo_width, photo_height, margin: float):
    """int32 [n, 4] boxes inside a photo -> the int32 [n, 4] regions cut for them, each grown by
    `margin` of its width / height on each side and clipped, as plateocr.cropping.crop_region."""
    b = tf.cast(boxes, tf.float64)
    dx, dy = (b[:, 1] - b[:, 0]) * margin, (b[:, 3] - b[:, 2]) * margin
    whole = [tf.floor(b[:, 0] - dx), tf.math.ceil(b[:, 1] + dx), tf.floor(b[:, 2] - dy), tf.math.ceil(b[:, 3] + dy)]
    whole = tf.cast(tf.stack(whole, axis=1), tf.int32)
    return tf.stack(
        [
            tf.maximum(whole[:, 0], 0),
            tf.minimum(whole[:, 1], photo_width),
            tf.maximum(whole[:, 2], 0),
            tf.minimum(whole[:, 3], photo_height),
        ],
        axis=1,
    )
