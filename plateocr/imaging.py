"""Image helpers shared by crop, records and predict, so every stage prepares plates the same way."""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np

from plateocr.errors import PlateOCRError

# The most pixels an image may have to be decoded. Decoding takes width x height x 3 bytes and
# more on the way: a 69-byte PNG whose header says 60000x60000 would ask for 10 GB, and a real
# 20000x20000 PNG took 2.4 GB per worker process. OpenCV's own limit (2^30 pixels) is far above
# any plate photo; this one still admits 108-megapixel phone photos.
MAX_IMAGE_PIXELS = 120_000_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers, which give the size (not DHT C4, JPG C8 or DAC CC)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def parse_size(text: str) -> tuple[int, int]:
    """'64x256' -> (64, 256): height x width."""
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise PlateOCRError(f"size {text!r}: expected HEIGHTxWIDTH, e.g. 64x256") from None
    if h < 16 or w < 16:
        raise PlateOCRError(f"size {text!r}: height and width must be at least 16 pixels")
    return h, w


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame segment, None if there is none before the scan."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # no length
            pos += 2
            continue
        if marker == 0xDA:  # start of scan: no frame header before it
            return None
        if marker in _JPEG_SOF:
            if pos + 9 > n:
                return None
            height, width = struct.unpack_from(">HH", data, pos + 5)
            return width, height
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    return None


def _header_pixels(data: bytes) -> tuple[int, str] | None:
    """The pixel count an image's header announces and how to show it ('60000x60000'), read
    without decoding; None when the header does not say (OpenCV then decides)."""
    size = None
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR":
        size = struct.unpack_from(">II", data, 16)
    elif data.startswith(b"\xff\xd8"):
        size = _jpeg_size(data)
    else:  # BMP, TIFF, WebP...: Pillow reads the header lazily
        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as im:
                    size = im.size
        except Image.DecompressionBombError:  # more than twice Pillow's limit, itself above ours
            return 2 * Image.MAX_IMAGE_PIXELS + 1, f"more than {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} million pixels"
        except Exception:  # noqa: BLE001 - not a format Pillow knows: leave it to OpenCV
            return None
    if size is None:
        return None
    width, height = size
    return width * height, f"{width}x{height} pixels"


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode PNG/JPEG/... bytes into a BGR uint8 array; raise PlateOCRError if it is not an
    image, or one of more than MAX_IMAGE_PIXELS (refused from its header, before decoding)."""
    announced = _header_pixels(data)
    if announced is not None and announced[0] > MAX_IMAGE_PIXELS:
        raise PlateOCRError(
            f"{name}: image too large to decode ({announced[1]}; the limit is {MAX_IMAGE_PIXELS / 1e6:g} megapixels)"
        )
    arr = np.frombuffer(data, dtype=np.uint8)
    try:
        img = cv2.imdecode(arr, cv2.IMREAD_COLOR) if arr.size else None
    except cv2.error as e:  # e.g. OpenCV's own size limit, for a format read here without a header
        raise PlateOCRError(
            f"{name}: not a readable image (OpenCV: {getattr(e, 'err', '') or 'decoding failed'})"
        ) from None
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
    return cv2.copyMakeBorder(resized, top, h - nh - top, left, w - nw - left, cv2.BORDER_REPLICATE)


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
