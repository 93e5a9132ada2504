"""Training samples for the plate detector, in NumPy and OpenCV (no TensorFlow): an RGB uint8
image of the detector's input size and its plate boxes, each a function of the generator alone.

- scene_sample: a rendered photo of cars (plateocr.synth.scene.render_photo) of a random
  aspect ratio, letterboxed as a user's photo would be: mostly one car close up, sometimes a row
  of parked cars, a plate seen from very near, or no plate at all among signs, grilles and lamps.
- photo_sample: a user's annotated photo zoomed, shifted and relit, and with paste=True one or
  two rendered plates set into it at new places, sizes and angles, lit as the photo is around
  them: a hundred photos teach more than a hundred boxes.

Boxes are int [N, 4] (xmin, xmax, ymin, ymax) in input pixels, xmax/ymax exclusive, each inside
the image with a positive area.
"""

from __future__ import annotations

import cv2
import numpy as np

from plateocr.detection.geometry import INPUT_HEIGHT, INPUT_WIDTH, PAD_VALUE, letterbox
from plateocr.synth import cars
from plateocr.synth.effects import jpeg_roundtrip
from plateocr.synth.plate import render_plate
from plateocr.synth.scene import MIN_VISIBLE, _overlaps, _warp_in, render_photo

# Shapes of the photos scenes are rendered as (width / height), and how often: mostly a
# camera's 4:3, then wide and portrait ones, so the grey border moves as it does for real photos.
ASPECTS = (
    (4 / 3, 0.5),
    (3 / 2, 0.1),
    (16 / 9, 0.15),
    (5 / 4, 0.08),
    (1.0, 0.05),
    (3 / 4, 0.08),
    (9 / 16, 0.02),
    (2.0, 0.02),
)
ZOOM = (0.6, 1.6)  # photo_sample's scale, relative to the letterbox's
PLATE_WIDTH = (22, 300)  # a pasted plate's width in the input, pixels


def _boxes(boxes) -> np.ndarray:
    return np.asarray(boxes, np.int64).reshape(-1, 4)


def scene_sample(rng: np.random.Generator, width: int = INPUT_WIDTH, height: int = INPUT_HEIGHT):
    """(image RGB uint8 [height, width, 3], boxes int [N, 4]) from a freshly rendered photo of a
    random aspect ratio, drawn at its letterboxed size in the top-left corner, grey around it."""
    aspect = ASPECTS[rng.choice(len(ASPECTS), p=[p for _, p in ASPECTS])][0]
    w, h = min(width, round(height * aspect)), min(height, round(width / aspect))
    photo, plates = render_photo(rng, w, h)
    image = np.full((height, width, 3), PAD_VALUE, np.uint8)
    image[:h, :w] = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
    return image, _boxes([box for _, box in plates])


def _children(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """n independent generators from one draw of rng: each stage's draws do not depend on
    whether another stage ran (a sample with paste=False is the paste=True one without plates)."""
    return [np.random.default_rng([int(s) for s in seeds]) for seeds in rng.integers(0, 2**62, (n, 2))]


def photo_sample(
    rng: np.random.Generator,
    photo_rgb: np.ndarray,
    boxes,
    paste: bool = True,
    jitter: bool = True,
    light: bool = True,
):
    """(image RGB uint8 [INPUT_HEIGHT, INPUT_WIDTH, 3], boxes int [N, 4]) from a user's photo
    (RGB uint8, any size) and its plate boxes (photo pixels, [N, 4] xmin, xmax, ymin, ymax).

    jitter: zoom by ZOOM around the letterbox's scale and shift, keeping one plate wholly in
    the frame; a plate cut by the frame by more than half is dropped, the others clipped.
    Without it the image is the photo letterboxed (geometry.letterbox). light: brightness,
    contrast, colour, blur, noise and JPEG jitter. paste: one or two rendered plates pasted in,
    away from the real ones, their boxes added.
    """
    geo, pasting, tone = _children(rng, 3)
    photo = np.asarray(photo_rgb)
    h, w = photo.shape[:2]
    fit = min(INPUT_WIDTH / w, INPUT_HEIGHT / h)
    real = np.asarray(boxes, np.float64).reshape(-1, 4)
    if jitter:
        k = fit * np.exp(geo.uniform(*np.log(ZOOM)))
        sw, sh = max(1, round(w * k)), max(1, round(h * k))
        scaled = cv2.resize(photo, (sw, sh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
        real = real * (sw / w, sw / w, sh / h, sh / h)
        tx, ty = _shift(geo, real, sw, sh)
        image = np.full((INPUT_HEIGHT, INPUT_WIDTH, 3), PAD_VALUE, np.uint8)
        x0, y0, x1, y1 = max(0, tx), max(0, ty), min(INPUT_WIDTH, tx + sw), min(INPUT_HEIGHT, ty + sh)
        image[y0:y1, x0:x1] = scaled[y0 - ty : y1 - ty, x0 - tx : x1 - tx]
        real = real + (tx, tx, ty, ty)
    else:
        image, s = letterbox(photo)
        x0, y0 = 0, 0
        x1, y1 = min(INPUT_WIDTH, max(1, round(w * s))), min(INPUT_HEIGHT, max(1, round(h * s)))
        real = real * (x1 / w, x1 / w, y1 / h, y1 / h)
    area = (x0, x1, y0, y1)  # the photo's part of the image: the rest is grey border
    kept = _clip(real, area)
    if paste:  # clear of every real plate, those cut off by the frame too
        kept = np.concatenate([kept, _paste(pasting, image, np.round(real), area)])
    if light:
        _relight(tone, image, area)
    return image, kept


def _shift(rng: np.random.Generator, boxes: np.ndarray, sw: int, sh: int) -> tuple[int, int]:
    """Where the scaled photo's corner goes: anywhere the photo still covers the frame (or stays
    in it, when smaller), keeping one plate wholly inside; often as near the top-left corner, where
    letterbox puts it, as that plate allows."""
    corner = rng.random() < 0.3
    pick = boxes[rng.integers(len(boxes))] if len(boxes) else None
    out = []
    for size, frame, lo_edge, hi_edge in ((sw, INPUT_WIDTH, 0, 1), (sh, INPUT_HEIGHT, 2, 3)):
        lo, hi = (0, frame - size) if size <= frame else (frame - size, 0)
        if pick is not None:  # the plate inside: -edge_lo <= t <= frame - edge_hi
            a, b = max(lo, int(np.ceil(-pick[lo_edge]))), min(hi, int(np.floor(frame - pick[hi_edge])))
            if a <= b:
                lo, hi = a, b
        out.append(int(np.clip(0, lo, hi)) if corner else int(rng.integers(lo, hi + 1)))
    return out[0], out[1]


def _clip(boxes: np.ndarray, area) -> np.ndarray:
    """Whole-pixel boxes clipped to area (x0, x1, y0, y1); those with less than MIN_VISIBLE of
    their area inside are dropped."""
    x0, x1, y0, y1 = area
    b = np.round(boxes).astype(np.int64).reshape(-1, 4)
    c = np.stack([b[:, 0].clip(x0, x1), b[:, 1].clip(x0, x1), b[:, 2].clip(y0, y1), b[:, 3].clip(y0, y1)], 1)
    full = np.maximum(0, b[:, 1] - b[:, 0]) * np.maximum(0, b[:, 3] - b[:, 2])
    seen = np.maximum(0, c[:, 1] - c[:, 0]) * np.maximum(0, c[:, 3] - c[:, 2])
    return c[(seen > 0) & (seen >= MIN_VISIBLE * full)]


def _paste(rng: np.random.Generator, image: np.ndarray, real: np.ndarray, area) -> np.ndarray:
    """One or two rendered plates warped into image (in place) inside area, clear of the real
    boxes and of each other, lit like the photo around them; their boxes."""
    x0, x1, y0, y1 = area
    widths = real[:, 1] - real[:, 0]
    typical = float(np.median(widths)) if len(widths) else (x1 - x0) * rng.uniform(0.12, 0.35)
    taken = [tuple(int(v) for v in b) for b in real]
    added = []
    for _ in range(1 if rng.random() < 0.7 else 2):
        plate, _text = render_plate(rng, degrade=False)
        plate = np.ascontiguousarray(plate[..., ::-1])  # BGR -> RGB
        pw = float(np.clip(typical * rng.uniform(0.5, 1.6), PLATE_WIDTH[0], min(PLATE_WIDTH[1], 0.6 * (x1 - x0))))
        ph, pw_px = plate.shape[:2]
        view = cars.View(
            0,
            0,
            pw / pw_px,
            float(np.clip(rng.normal(0, 0.35), -0.8, 0.8)),
            rng.uniform(-0.1, 0.3),
            float(np.clip(rng.normal(0, 0.06), -0.2, 0.2)),
            rng.uniform(2, 6),
        )
        quad = cars.project(view, pw_px, ph, [(0, 0, 0), (pw_px, 0, 0), (pw_px, ph, 0), (0, ph, 0)])
        lo, hi = quad.min(axis=0), quad.max(axis=0)
        if hi[0] - lo[0] > x1 - x0 - 6 or hi[1] - lo[1] > y1 - y0 - 6:
            continue
        for _try in range(30):
            dx = rng.uniform(x0 + 3 - lo[0], x1 - 3 - hi[0])
            dy = rng.uniform(y0 + 3 - lo[1], y1 - 3 - hi[1])
            rough = (int(lo[0] + dx), int(hi[0] + dx) + 1, int(lo[1] + dy), int(hi[1] + dy) + 1)
            if not _overlaps(rough, taken, pad=int(hi[1] - lo[1])):
                break
        else:
            continue
        q = quad + (dx, dy)
        plate = _lit_like(rng, image, plate, rough)
        if rng.random() < 0.5:  # the holder's dark rim, a few pixels wide
            rim_w = max(1.0, pw * ph / pw_px * rng.uniform(0.04, 0.1))
            centre = q.mean(axis=0)
            rim = centre + (q - centre) * (1 + 2 * rim_w / (hi - lo))
            colour = tuple(
                int(c) for c in image[rough[2] : rough[3], rough[0] : rough[1]].reshape(-1, 3).mean(axis=0) * 0.4
            )
            cv2.fillConvexPoly(image, np.round(rim * 16).astype(np.int32), colour, cv2.LINE_AA, 4)
        alpha, (ax, ay) = _warp_in(image, plate, q)
        ys, xs = np.nonzero(alpha >= 0.5)
        if not len(xs):
            continue
        box = (int(xs.min() + ax), int(xs.max() + ax + 1), int(ys.min() + ay), int(ys.max() + ay + 1))
        taken.append(box)
        added.append(box)
    return _boxes(added)


def _lit_like(rng: np.random.Generator, image: np.ndarray, plate: np.ndarray, box) -> np.ndarray:
    """The plate dimmed or tinted to the light of the photo around box: its white near the
    brightest things there, its colour cast the surroundings'."""
    x0, x1, y0, y1 = box
    pad_x, pad_y = 2 * (x1 - x0), 6 * (y1 - y0)
    around = image[max(0, y0 - pad_y) : y1 + pad_y, max(0, x0 - pad_x) : x1 + pad_x].reshape(-1, 3).astype(np.float32)
    grey = around.mean(axis=1)
    # never much darker than half: a plate in deep shadow is no plate the detector can learn
    gain = np.clip(np.percentile(grey, 95) / 235 * rng.uniform(0.85, 1.15), 0.45, 1.1)
    mean = around.mean(axis=0) + 1
    cast = 1 + 0.25 * (mean / mean.mean() - 1)
    return np.clip(plate.astype(np.float32) * (gain * cast), 0, 255).astype(np.uint8)


def _relight(rng: np.random.Generator, image: np.ndarray, area) -> None:
    """Brightness, contrast, gamma, saturation, blur, noise and JPEG jitter over the photo's
    part of the image (in place; the grey border stays PAD_VALUE)."""
    x0, x1, y0, y1 = area
    part = image[y0:y1, x0:x1].astype(np.float32) / 255
    part = part ** rng.uniform(0.7, 1.4)
    grey = part.mean(axis=2, keepdims=True)
    part = grey + (part - grey) * rng.uniform(0.6, 1.3)
    part = (part - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.12, 0.12)
    part *= rng.normal(1, 0.04, 3).astype(np.float32)
    part *= 255
    if rng.random() < 0.3:
        part = cv2.GaussianBlur(part, (0, 0), rng.uniform(0.5, 1.5))
    part += rng.standard_normal(part.shape, dtype=np.float32) * np.float32(rng.uniform(0, 6))
    out = np.clip(part, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = jpeg_roundtrip(out, int(rng.integers(30, 90)))
    image[y0:y1, x0:x1] = out
