"""Pictures of where the model looked: the crop with each decoded character's attention overlaid.

Layout: the crop, then one tile per decoded character (its attention mask resized to the crop
and blended over it as a heat map, the character and its probability in a band below), in a
grid; the read text and sequence confidence at the bottom. OpenCV only, no TensorFlow.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np

from plateocr.imaging import encode_png
from plateocr.outputs import write_bytes_atomic

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BAND = 22  # caption band height in pixels
_GAP = 4
_BACKGROUND = (255, 255, 255)
_INK = (0, 0, 0)


def heat_overlay(crop_bgr: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """`mask` ([h, w], any scale) stretched to the crop, normalised to its maximum and blended over
    the crop as a JET heat map (red = where the character was read)."""
    h, w = crop_bgr.shape[:2]
    m = np.asarray(mask, dtype=np.float32)
    m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
    peak = float(m.max())
    m = m / peak if peak > 0 else m
    heat = cv2.applyColorMap(np.clip(m * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(crop_bgr, 1 - alpha, heat, alpha, 0)


def _shown(text: str) -> str:
    # Hershey fonts draw ASCII only; show other characters as '?' rather than garbage.
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)


def _captioned(tile: np.ndarray, caption: str) -> np.ndarray:
    h, w = tile.shape[:2]
    out = np.full((h + _BAND, w, 3), _BACKGROUND, np.uint8)
    out[:h] = tile
    scale = 0.5
    (tw, _), _ = cv2.getTextSize(caption, _FONT, scale, 1)
    while tw > w - 4 and scale > 0.25:
        scale -= 0.05
        (tw, _), _ = cv2.getTextSize(caption, _FONT, scale, 1)
    cv2.putText(out, caption, (2, h + _BAND - 7), _FONT, scale, _INK, 1, cv2.LINE_AA)
    return out


def attention_picture(
    crop_rgb: np.ndarray,
    masks: np.ndarray,
    text: str,
    char_confidences,
    confidence: float,
) -> np.ndarray:
    """BGR picture: the crop and one heat-map tile per character of `text`.

    crop_rgb: the crop as the model saw it (RGB uint8); masks: [len(text), h, w] attention of
    each decoded character over the feature grid.
    """
    crop = cv2.cvtColor(np.ascontiguousarray(crop_rgb), cv2.COLOR_RGB2BGR)
    # Small crops get enlarged so the captions stay legible.
    scale = max(1, math.ceil(96 / crop.shape[1]), math.ceil(32 / crop.shape[0]))
    if scale > 1:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    tiles = [_captioned(crop, "input")]
    for i, ch in enumerate(text):
        conf = char_confidences[i] if i < len(char_confidences) else float("nan")
        tiles.append(_captioned(heat_overlay(crop, masks[i]), f"{_shown(ch)} {conf:.2f}"))
    th, tw = tiles[0].shape[:2]
    # A roughly square grid: wide plates stack vertically, square crops spread sideways.
    cols = max(1, min(len(tiles), round(math.sqrt(len(tiles) * th / tw))))
    rows = math.ceil(len(tiles) / cols)
    footer = f"{_shown(text) or '(nothing read)'}  conf {confidence:.3f}"
    width = max(cols * tw + (cols - 1) * _GAP, 200)
    canvas = np.full((rows * (th + _GAP) + _BAND + 6, width, 3), _BACKGROUND, np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y, x = r * (th + _GAP), c * (tw + _GAP)
        canvas[y : y + th, x : x + tw] = tile
    cv2.putText(canvas, footer, (2, canvas.shape[0] - 8), _FONT, 0.55, _INK, 1, cv2.LINE_AA)
    return canvas


def save_attention_picture(path: str | os.PathLike, picture_bgr: np.ndarray) -> None:
    write_bytes_atomic(path, encode_png(picture_bgr, compression=3))
