"""The plate detector's geometry, in NumPy: the input frame, the output grid and its targets.

A photo of any size is letterboxed into the detector's input (INPUT_WIDTH x INPUT_HEIGHT, RGB
uint8): scaled by s = min(INPUT_WIDTH / w, INPUT_HEIGHT / h), placed at the top-left corner, the
rest filled with grey PAD_VALUE, so that photo coordinates = input coordinates / s.

The network answers on a grid of STRIDE x STRIDE input pixels (GRID_HEIGHT x GRID_WIDTH cells),
CenterNet-style, with three heads:

- heatmap [GRID_HEIGHT, GRID_WIDTH, 1]: a plate's centre (logits; probabilities after a sigmoid);
- size [..., 2]: (log(w / STRIDE), log(h / STRIDE)) of the box, in input pixels;
- offset [..., 2]: where in its cell the centre lies, (x, y) in [0, 1).

encode_targets draws what the heads should answer for a list of boxes; decode turns the heads'
answers back into boxes. Boxes are (xmin, xmax, ymin, ymax) as in the annotation CSV: xmax and
ymax are exclusive, so the box covers [xmin, xmax) x [ymin, ymax) and its centre is
((xmin + xmax) / 2, (ymin + ymax) / 2). A cell (row i, column j) covers input pixels
[STRIDE j, STRIDE (j + 1)) x [STRIDE i, STRIDE (i + 1)).

No TensorFlow here: the network (plateocr.detection.network) and the training samples import it.
"""

from __future__ import annotations

import cv2
import numpy as np

from plateocr.detection.scoring import iou

INPUT_HEIGHT = 384
INPUT_WIDTH = 512
PAD_VALUE = 114  # the grey around a letterboxed photo
STRIDE = 4  # input pixels per output cell, each way
GRID_HEIGHT = INPUT_HEIGHT // STRIDE  # 96
GRID_WIDTH = INPUT_WIDTH // STRIDE  # 128

# The heatmap's Gaussian per box: sigma = GAUSSIAN_ALPHA / 6 of the box's width (height) in cells,
# as TTFNet's elliptical take on CenterNet's radius (a box whose centre moves by about a sigma
# still overlaps the true box well), and never less than MIN_SIGMA cells, so that a small plate
# still has neighbours to learn from. Drawn out to GAUSSIAN_EXTENT sigmas.
GAUSSIAN_ALPHA = 0.54
MIN_SIGMA = 0.8
GAUSSIAN_EXTENT = 3.0

# decode's defaults: a centre probability below THRESHOLD is no plate; at most MAX_BOXES per photo;
# boxes overlapping a better one by more than NMS_IOU are dropped.
THRESHOLD = 0.3
MAX_BOXES = 20
NMS_IOU = 0.5
# The size head's log-sizes are clipped to this range before exp: 1/16 cell to 400 cells.
LOG_SIZE_RANGE = (-np.log(16.0), np.log(400.0))


def letterbox(photo_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo (RGB uint8 [h, w, 3], any size) scaled into the detector's input at the
    top-left, grey around it; and the scale s (input pixels per photo pixel)."""
    photo = np.asarray(photo_rgb)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8 or min(photo.shape[:2]) < 1:
        raise ValueError(f"letterbox needs an RGB uint8 [h, w, 3] photo, got {photo.dtype} {photo.shape}")
    h, w = photo.shape[:2]
    scale = min(INPUT_WIDTH / w, INPUT_HEIGHT / h)
    nw = min(INPUT_WIDTH, max(1, round(w * scale)))
    nh = min(INPUT_HEIGHT, max(1, round(h * scale)))
    if (nw, nh) == (w, h):
        resized = photo
    else:
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(photo, (nw, nh), interpolation=interp)
    canvas = np.full((INPUT_HEIGHT, INPUT_WIDTH, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = resized
    return canvas, scale


def _as_boxes(boxes) -> np.ndarray:
    """[N, 4] float64 (xmin, xmax, ymin, ymax) from any sequence of boxes, empty included."""
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def boxes_to_input(boxes, scale: float) -> np.ndarray:
    """Photo-pixel boxes [N, 4] in the letterboxed input's pixels."""
    return _as_boxes(boxes) * scale


def boxes_to_photo(boxes, scale: float, photo_w: int, photo_h: int) -> np.ndarray:
    """Input-pixel boxes [N, 4] in the photo's pixels, clipped to the photo (a box wholly in the
    grey border comes out empty: xmin == xmax or ymin == ymax). Floats; plateocr.imaging.clip_box
    makes whole pixels of one."""
    out = _as_boxes(boxes) / scale
    out[:, :2] = np.clip(out[:, :2], 0, photo_w)
    out[:, 2:] = np.clip(out[:, 2:], 0, photo_h)
    return out


def _sigmas(width_cells: float, height_cells: float) -> tuple[float, float]:
    return (
        max(GAUSSIAN_ALPHA / 6 * width_cells, MIN_SIGMA),
        max(GAUSSIAN_ALPHA / 6 * height_cells, MIN_SIGMA),
    )


def _draw_gaussian(heatmap: np.ndarray, row: int, col: int, sigma_x: float, sigma_y: float) -> None:
    """Max-merge an elliptical Gaussian, exactly 1 at (row, col), into heatmap [H, W]."""
    rx, ry = int(np.ceil(GAUSSIAN_EXTENT * sigma_x)), int(np.ceil(GAUSSIAN_EXTENT * sigma_y))
    c0, c1 = max(0, col - rx), min(heatmap.shape[1], col + rx + 1)
    r0, r1 = max(0, row - ry), min(heatmap.shape[0], row + ry + 1)
    dx = np.arange(c0, c1) - col
    dy = np.arange(r0, r1) - row
    g = np.exp(-(dx[None, :] ** 2) / (2 * sigma_x**2) - dy[:, None] ** 2 / (2 * sigma_y**2))
    np.maximum(heatmap[r0:r1, c0:c1], g.astype(np.float32), out=heatmap[r0:r1, c0:c1])


def encode_targets(boxes_in_input_px) -> dict[str, np.ndarray]:
    """What the heads should answer for these boxes (input pixels, [N, 4]): float32 arrays

    - heatmap [GRID_HEIGHT, GRID_WIDTH, 1]: an elliptical Gaussian per box, exactly 1 at its
      centre cell, sigmas proportional to the box's size (at least MIN_SIGMA), merged by max;
    - size [..., 2]: (log(w / STRIDE), log(h / STRIDE)) at each centre cell, 0 elsewhere;
    - offset [..., 2]: the centre's (x, y) within its cell, in [0, 1), at each centre cell;
    - mask [..., 1]: 1 at each centre cell (where size and offset are to be learnt).

    A box without area, or whose centre lies outside the input, is left out. Two boxes with
    their centre in one cell: the larger one's size and offset are kept.
    """
    heatmap = np.zeros((GRID_HEIGHT, GRID_WIDTH), np.float32)
    size = np.zeros((GRID_HEIGHT, GRID_WIDTH, 2), np.float32)
    offset = np.zeros((GRID_HEIGHT, GRID_WIDTH, 2), np.float32)
    mask = np.zeros((GRID_HEIGHT, GRID_WIDTH, 1), np.float32)
    boxes = _as_boxes(boxes_in_input_px)
    widths, heights = boxes[:, 1] - boxes[:, 0], boxes[:, 3] - boxes[:, 2]
    for k in np.argsort(widths * heights, kind="stable"):  # smaller first: the larger box's cell wins
        w, h = widths[k], heights[k]
        if not (w > 0 and h > 0):
            continue
        gx = (boxes[k, 0] + boxes[k, 1]) / 2 / STRIDE
        gy = (boxes[k, 2] + boxes[k, 3]) / 2 / STRIDE
        if not (0 <= gx < GRID_WIDTH and 0 <= gy < GRID_HEIGHT):
            continue
        col, row = int(gx), int(gy)
        _draw_gaussian(heatmap, row, col, *_sigmas(w / STRIDE, h / STRIDE))
        size[row, col] = np.log(w / STRIDE), np.log(h / STRIDE)
        offset[row, col] = gx - col, gy - row
        mask[row, col] = 1.0
    return {"heatmap": heatmap[..., None], "size": size, "offset": offset, "mask": mask}


def local_maxima(heatmap: np.ndarray) -> np.ndarray:
    """Boolean [H, W]: cells no lower than any of their 8 neighbours."""
    padded = np.pad(heatmap, 1, constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    return heatmap >= windows.max(axis=(-2, -1))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU, max_boxes: int | None = None):
    """Indices of the boxes kept, best score first: each drops the later ones overlapping it by
    more than iou_threshold."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    while order.size and (max_boxes is None or len(keep) < max_boxes):
        best, order = order[0], order[1:]
        keep.append(int(best))
        if order.size:
            order = order[iou(boxes[best], boxes[order]) <= iou_threshold]
    return np.asarray(keep, np.int64)


def decode(
    heatmap_probs: np.ndarray,
    size: np.ndarray,
    offset: np.ndarray,
    threshold: float = THRESHOLD,
    max_boxes: int = MAX_BOXES,
    iou_threshold: float = NMS_IOU,
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (float [N, 4], input pixels, (xmin, xmax, ymin, ymax)) and their scores [N], best
    first, from one image's head outputs: heatmap_probs [H, W] (or [H, W, 1]) after the
    sigmoid, size and offset [H, W, 2]. A box is a 3x3 local maximum of the heatmap at least
    `threshold`, among the `max_boxes` best that survive non-maximum suppression at
    `iou_threshold`."""
    heat = np.asarray(heatmap_probs, np.float32)
    if heat.ndim == 3:
        heat = heat[..., 0]
    size, offset = np.asarray(size, np.float32), np.asarray(offset, np.float32)
    if heat.ndim != 2 or size.shape != (*heat.shape, 2) or offset.shape != (*heat.shape, 2):
        raise ValueError(
            f"decode needs heatmap [H, W], size and offset [H, W, 2]; got {heat.shape}, {size.shape}, {offset.shape}"
        )
    rows, cols = np.nonzero(local_maxima(heat) & (heat >= threshold))
    scores = heat[rows, cols]
    w = np.exp(np.clip(size[rows, cols, 0], *LOG_SIZE_RANGE)) * STRIDE
    h = np.exp(np.clip(size[rows, cols, 1], *LOG_SIZE_RANGE)) * STRIDE
    cx = (cols + offset[rows, cols, 0]) * STRIDE
    cy = (rows + offset[rows, cols, 1]) * STRIDE
    boxes = np.stack([cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2], axis=1).astype(np.float64)
    keep = nms(boxes, scores, iou_threshold, max_boxes)
    return boxes[keep].reshape(-1, 4), scores[keep].astype(np.float32)
