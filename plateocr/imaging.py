"""Image helpers shared by crop, records and predict, so every stage prepares plates the same way."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from plateocr.errors import PlateOCRError


def parse_size(text: str) -> tuple[int, int]:
    """'64x256' -> (64, 256): height x width."""
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise PlateOCRError(f"size {text!r}: expected HEIGHTxWIDTH, e.g. 64x256") from None
    if h < 16 or w < 16:
        raise PlateOCRError(f"size {text!r}: height and width must be at least 16 pixels")
    return h, w


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode PNG/JPEG/... bytes into a BGR uint8 array; raise PlateOCRError if it is not an image."""
    arr = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(arr, cv2.IMREAD_COLOR) if arr.size else None
    if img is None:
        raise PlateOCRError(f"{name}: not a readable image (corrupt or unsupported format)")
    return img


def read_bgr(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR uint8 (works with non-ASCII paths, unlike cv2.imread)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PlateOCRError(f"{path}: image not found") from None
    except OSError as e:
        raise PlateOCRError(f"{path}: cannot read image ({e.strerror})") from None
    return decode_image(data, str(path))


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    return cv2.cvtColor(read_bgr(path), cv2.COLOR_BGR2RGB)


def expand_box(box: tuple[float, float, float, float], margin: float) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) grown by `margin` of its width/height on each side."""
    xmin, xmax, ymin, ymax = box
    dx, dy = (xmax - xmin) * margin, (ymax - ymin) * margin
    return xmin - dx, xmax + dx, ymin - dy, ymax + dy


def clip_box(box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer box clipped to the photo, or None if nothing of it lies inside."""
    xmin, xmax, ymin, ymax = box
    x0, x1 = max(0, int(np.floor(xmin))), min(width, int(np.ceil(xmax)))
    y0, y1 = max(0, int(np.floor(ymin))), min(height, int(np.ceil(ymax)))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return x0, x1, y0, y1


def fit(img: np.ndarray, size: tuple[int, int], keep_aspect: bool = False) -> np.ndarray:
    """Resize a plate image to `size` (height, width).

    stretch: fill the whole frame. keep_aspect: scale to fit inside and centre it, padding with
    the replicated border so the model sees no artificial edges. INTER_AREA when shrinking
    (no aliasing on big photos), INTER_CUBIC when enlarging small plates.
    """
    h, w = size
    ih, iw = img.shape[:2]
    if (ih, iw) == (h, w):
        return img
    if not keep_aspect:
        interp = cv2.INTER_AREA if ih * iw > h * w else cv2.INTER_CUBIC
        return cv2.resize(img, (w, h), interpolation=interp)
    scale = min(h / ih, w / iw)
    nh, nw = max(1, round(ih * scale)), max(1, round(iw * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(img, (nw, nh), interpolation=interp)
    top, left = (h - nh) // 2, (w - nw) // 2
    return cv2.copyMakeBorder(
        resized, top, h - nh - top, left, w - nw - left, cv2.BORDER_REPLICATE
    )


def encode_png(img: np.ndarray, compression: int = 1) -> bytes:
    """PNG bytes of a BGR image. Low compression: crops are small and speed matters more."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
    if compression == 0 and hasattr(cv2, "IMWRITE_PNG_FILTER"):
        # Stored, not deflated: row filters would then cost time (~10x the encode) for nothing.
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    ok, buf = cv2.imencode(".png", img, params)
    if not ok:
        raise PlateOCRError("could not encode image as PNG")
    return buf.tobytes()
