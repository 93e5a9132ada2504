"""Photographic degradations shared by plates and whole photos (float32 images)."""

from __future__ import annotations

import cv2
import numpy as np


def shade(rng: np.random.Generator, img: np.ndarray, strength: float) -> None:
    """Multiply by a linear light ramp in a random direction and a random exposure (in place)."""
    h, w = img.shape[:2]
    a = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(a) * np.arange(w, dtype=np.float32) / w)[None, :] + (np.sin(a) * np.arange(h, dtype=np.float32) / h)[
        :, None
    ]
    ramp -= ramp.mean()  # spans about -0.7..0.7
    gain = 1.0 + rng.uniform(0, strength) * ramp
    img *= (gain * np.float32(rng.uniform(0.85, 1.1)))[..., None]


def blur(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Gaussian blur of a random small sigma (often none)."""
    sigma = rng.uniform(0, 1.1)
    if sigma < 0.3:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigma)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """uint8 img as a JPEG of that quality would decode it: blocks, ringing, smeared colour."""
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else img
