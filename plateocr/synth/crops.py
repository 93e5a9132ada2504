"""Synthetic plate crops, as `plateocr crop` would cut them from photos, for (pre)training.

A crop is made the way a real one is: a plate (render_plate, or a two-line plate) gets plate-holder
extras (frame, small slogan/state text that is NOT part of the label), is warped with a little
perspective and rotation onto a patch of car (bumper colour, edges), gets shadows, glare and dirt,
and the patch is shrunk to the plate size a photo would show (often only 12-30 px high), blurred
(defocus or motion), noised and JPEG-compressed. Then the annotation box is taken around the
plate as a person would draw it (tight, but off by up to ~5% in position and size) and
`cropping.crop_one` cuts it with the usual margin and fits it to the crop size, exactly as `crop`.

render_crop(rng) -> (RGB uint8 crop, label); iter_crops(seed) -> endless, deterministic stream.
"""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

from plateocr.cropping import crop_one
from plateocr.defaults import BASE_ALPHABET, CROP_SIZE, KEEP_ASPECT, MARGIN
from plateocr.synth.layouts import FAMILIES
from plateocr.synth.plate import HERSHEY_FONTS, random_text, render_plate

MAX_LABEL = 10  # the longest real plates
BOX_JITTER = 0.05  # annotation error: shift and scale of the box, as a fraction of its size
PLATE_HEIGHT_RANGE = (13.0, 70.0)  # plate height in the "photo", px (log-uniform)
JPEG_QUALITY_RANGE = (20, 90)
GREY_SHARE = 0.15  # traffic and parking cameras often record grey frames
_SLOGANS = (
    "CALIFORNIA",
    "TEXAS",
    "NEW YORK",
    "FLORIDA",
    "OHIO",
    "BAYERN",
    "DEUTSCHLAND",
    "ITALIA",
    "NEDERLAND",
    "POLSKA",
    "SVERIGE",
    "EMPIRE STATE",
    "SUNSHINE STATE",
    "LAND OF LINCOLN",
    "AUTOHAUS",
    "DEALER",
    "MOTORS",
    "GARAGE",
    "www.cars.com",
    "THE LONE STAR STATE",
)


# --- the label -------------------------------------------------------------------------------


def crop_text(rng: np.random.Generator) -> str:
    """A label of 3-MAX_LABEL characters: mostly render_plate's plate patterns, sometimes shorter
    or longer random runs (real plates range from 4 to 10 characters)."""
    if rng.random() < 0.8:
        return random_text(rng)
    n = int(rng.integers(3, MAX_LABEL + 1))
    return "".join(BASE_ALPHABET[i] for i in rng.integers(0, len(BASE_ALPHABET), n))


# --- the plate and its holder ----------------------------------------------------------------


def _small_text(rng: np.random.Generator, img: np.ndarray, y0: int, y1: int, colour) -> None:
    """A slogan/state/dealer name in a Hershey font, centred in rows y0..y1 (in place)."""
    text = _SLOGANS[rng.integers(len(_SLOGANS))]
    face = int(HERSHEY_FONTS[rng.integers(len(HERSHEY_FONTS))])
    band = y1 - y0
    if band < 5:
        return
    scale = cv2.getFontScaleFromHeight(face, max(4, int(band * rng.uniform(0.5, 0.8))))
    (tw, th), _ = cv2.getTextSize(text, face, scale, 1)
    w = img.shape[1]
    if tw > w * 0.95:
        scale *= w * 0.95 / tw
        (tw, th), _ = cv2.getTextSize(text, face, scale, 1)
    org = ((w - tw) // 2, y0 + (band + th) // 2)
    cv2.putText(img, text, org, face, scale, colour, 1, cv2.LINE_AA)


# Plate layout families and how often each is drawn: European plates (plate.render_plate, with
# strips, panels, seals) and the other regions' layouts (layouts.FAMILIES).
FAMILY_SHARES = {
    "european": 0.34,
    "north_american": 0.24,
    "mercosur": 0.13,
    "south_american_old": 0.12,
    "british": 0.07,
    "two_line": 0.10,
}
_FAMILY_NAMES = tuple(FAMILY_SHARES)
_FAMILY_P = np.array(list(FAMILY_SHARES.values())) / sum(FAMILY_SHARES.values())


def render_family_plate(rng: np.random.Generator, family: str, text: str | None = None) -> tuple[np.ndarray, str]:
    """A plate of one layout family (BGR uint8) and its label; text=None draws one in the
    family's formats."""
    if family == "european":
        return render_plate(rng, crop_text(rng) if text is None else text, degrade=False)
    return FAMILIES[family](rng, text)


def plate_with_holder(
    rng: np.random.Generator, text: str | None = None, family: str | None = None
) -> tuple[np.ndarray, str]:
    """A plate of a random layout family (or the given one, a FAMILY_SHARES name) with optional
    small text above/below and a plate-holder frame (BGR uint8), and its label.

    The returned image is what an annotator boxes: the plate, plus its frame when there is one.
    """
    drawn = _FAMILY_NAMES[int(rng.choice(len(_FAMILY_NAMES), p=_FAMILY_P))]
    family = family or drawn
    if text is None and family != "european" and rng.random() < 0.1:
        text = crop_text(rng)  # any text on any layout: no format rules
    if family == "two_line" and text is not None and len(text) < 4:
        family = "european"
    plate, text = render_family_plate(rng, family, text)
    if family in ("north_american", "mercosur", "south_american_old"):
        return plate, text  # their names and slogans are part of the layout
    h = plate.shape[0]
    if rng.random() < 0.25:  # state name / slogan on the plate itself, in a band of its background
        bg = np.median(plate[0], axis=0)
        band = int(round(h * rng.uniform(0.16, 0.26)))
        top = rng.random() < 0.5
        plate = cv2.copyMakeBorder(
            plate, band if top else 0, 0 if top else band, 0, 0, cv2.BORDER_CONSTANT, value=bg.tolist()
        )
        y0 = 0 if top else plate.shape[0] - band
        ink = (20, 20, 120) if rng.random() < 0.5 else tuple(int(c) for c in 255 - bg)
        _small_text(rng, plate, y0, y0 + band, ink)
    if rng.random() < 0.3:  # a plate holder: dark or chrome, sometimes with a dealer's name below
        t = max(2, int(round(h * rng.uniform(0.05, 0.14))))
        bottom = t if rng.random() < 0.5 else int(round(h * rng.uniform(0.2, 0.3)))
        colour = rng.uniform(10, 60, 3) if rng.random() < 0.7 else rng.uniform(150, 220, 1).repeat(3)
        plate = cv2.copyMakeBorder(plate, t, bottom, t, t, cv2.BORDER_CONSTANT, value=colour.tolist())
        if bottom > t:
            ink = (230, 230, 230) if colour[0] < 100 else (30, 30, 30)
            _small_text(rng, plate, plate.shape[0] - bottom, plate.shape[0] - 1, ink)
    return plate, text


# --- the patch of car around it --------------------------------------------------------------


def car_patch(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A bumper-coloured background (BGR uint8) with uneven light and a few horizontal edges."""
    r = rng.random()
    if r < 0.3:
        colour = rng.uniform(10, 60, 1).repeat(3) + rng.normal(0, 4, 3)  # black / dark grey
    elif r < 0.5:
        colour = rng.uniform(170, 240, 1).repeat(3) + rng.normal(0, 4, 3)  # white / silver
    else:
        colour = rng.uniform(0, 255, 3)
    # light: a bilinear blend of four random corner gains (a resized 2x2 image costs nothing)
    corners = np.clip(colour * rng.uniform(0.6, 1.25, (2, 2, 1)), 0, 255).astype(np.uint8)
    patch = cv2.resize(corners, (width, height), interpolation=cv2.INTER_LINEAR)
    for _ in range(int(rng.integers(0, 4))):  # bumper edges, grille bars, number-plate recess
        y = int(rng.integers(0, height))
        edge = np.clip(colour * rng.uniform(0.3, 1.6), 0, 255)
        cv2.line(
            patch,
            (0, y),
            (width - 1, y + int(rng.integers(-3, 4))),
            edge.tolist(),
            int(rng.integers(1, max(2, height // 12))),
            cv2.LINE_AA,
        )
    return patch


def _shadow(rng: np.random.Generator, img: np.ndarray) -> None:
    """Darken one side of a random straight line (a cast shadow), in place; img float32."""
    h, w = img.shape[:2]
    px, py = rng.uniform(0, w), rng.uniform(0, h)
    a = rng.uniform(0, 2 * np.pi)
    softness = max(1.0, rng.uniform(1, 0.05 * w))
    xs = ((np.arange(w, dtype=np.float32) - px) * np.float32(np.cos(a) / softness))[None, :]
    ys = ((np.arange(h, dtype=np.float32) - py) * np.float32(np.sin(a) / softness))[:, None]
    gain = 1.0 - np.float32(rng.uniform(0.3, 0.65)) * np.clip(xs + ys, 0, 1)
    img *= gain[..., None]


def _soft_mask(h: int, w: int, draw, blur: float) -> np.ndarray:
    """A float32 [h, w, 1] mask drawn by `draw(mask, scale)` at quarter resolution, blurred and
    enlarged (blurring big soft shapes at full size is the costly part)."""
    sh, sw = max(2, h // 4), max(2, w // 4)
    small = np.zeros((sh, sw), np.float32)
    draw(small, sw / w)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, blur * sw / w))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]


def _glare(rng: np.random.Generator, img: np.ndarray) -> None:
    """Add a soft bright ellipse (sun or flash reflection), in place; img float32."""
    h, w = img.shape[:2]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    ax, ay = rng.uniform(0.05, 0.3) * w, rng.uniform(0.1, 0.6) * h
    angle = float(rng.uniform(0, 180))

    def draw(mask, k):
        cv2.ellipse(
            mask, (int(cx * k), int(cy * k)), (max(1, int(ax * k)), max(1, int(ay * k))), angle, 0, 360, 1.0, -1
        )

    img += _soft_mask(h, w, draw, max(1.0, ay * 0.5)) * np.float32(rng.uniform(80, 220))


def _dirt(rng: np.random.Generator, img: np.ndarray) -> None:
    """Brownish blotches of dust and mud, in place; img float32."""
    h, w = img.shape[:2]
    n = int(rng.integers(3, 15))
    spots = np.column_stack(
        [rng.uniform(0, w, n), rng.uniform(0, h, n), rng.uniform(0.01, 0.06, n) * w, rng.uniform(0.2, 0.7, n)]
    )

    def draw(mask, k):
        for x, y, r, v in spots:
            cv2.circle(mask, (int(x * k), int(y * k)), max(1, int(r * k)), float(v), -1)

    mask = _soft_mask(h, w, draw, max(1.0, 0.01 * w))
    mud = np.asarray(rng.uniform([30, 50, 60], [90, 110, 130]), np.float32)
    img += mask * (mud - img)


def _motion_blur(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    n = int(rng.integers(3, 6))
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1.0 / n
    rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), float(rng.uniform(-30, 30)), 1.0)
    k = cv2.warpAffine(k, rot, (n, n))
    return cv2.filter2D(img, -1, k / max(k.sum(), 1e-6))


# --- one crop --------------------------------------------------------------------------------


def _place(rng: np.random.Generator, plate: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Warp the plate onto a car patch with perspective and rotation; return the patch and the
    plate's tight box (xmin, xmax, ymin, ymax) in it."""
    ph, pw = plate.shape[:2]
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    # yaw/pitch: one side shorter; then per-corner jitter and a rotation about the centre
    dst = src.copy()
    yaw = rng.uniform(-0.15, 0.15) if rng.random() < 0.6 else 0.0
    dst[[1, 2] if yaw > 0 else [0, 3], 1] += np.float32([1, -1]) * abs(yaw) * ph / 2
    pitch = rng.uniform(-0.1, 0.1) if rng.random() < 0.4 else 0.0
    dst[[2, 3] if pitch > 0 else [0, 1], 0] += np.float32([-1, 1] if pitch > 0 else [1, -1]) * abs(pitch) * pw / 2
    dst += rng.normal(0, 0.02, (4, 2)).astype(np.float32) * np.float32([pw, ph])
    angle = np.deg2rad(rng.normal(0, 3.5) if rng.random() < 0.9 else rng.uniform(-12, 12))
    c, s = np.cos(angle), np.sin(angle)
    centre = np.float32([pw / 2, ph / 2])
    dst = (dst - centre) @ np.float32([[c, s], [-s, c]])
    # The patch: the plate's box plus room for the crop's margin and the annotation's error
    # (the crop never needs more, and every pixel here costs time in all the effects).
    lo, hi = dst.min(axis=0), dst.max(axis=0)
    pad = (hi - lo) * np.float32(0.2) + 3
    dst = dst - lo + pad
    W, H = (int(np.ceil(v)) for v in hi - lo + 2 * pad)
    patch = car_patch(rng, H, W)
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    cv2.warpPerspective(plate, m, (W, H), dst=patch, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
    box = (float(dst[:, 0].min()), float(dst[:, 0].max()), float(dst[:, 1].min()), float(dst[:, 1].max()))
    return patch, box


def _annotated_box(rng: np.random.Generator, box, jitter: float = BOX_JITTER):
    """The box as a person draws it: shifted and scaled by up to `jitter` of its size."""
    xmin, xmax, ymin, ymax = box
    w, h = xmax - xmin, ymax - ymin
    cx = (xmin + xmax) / 2 + rng.uniform(-jitter, jitter) * w
    cy = (ymin + ymax) / 2 + rng.uniform(-jitter, jitter) * h
    w *= 1 + rng.uniform(-jitter, jitter)
    h *= 1 + rng.uniform(-jitter, jitter)
    return cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2


def render_crop(
    rng: np.random.Generator,
    text: str | None = None,
    size: tuple[int, int] = CROP_SIZE,
    keep_aspect: bool = KEEP_ASPECT,
    margin: float = MARGIN,
    family: str | None = None,
) -> tuple[np.ndarray, str]:
    """One synthetic crop (RGB uint8, `size` = (height, width)) and its label; family picks a
    layout family (FAMILY_SHARES) instead of a random one."""
    if text is not None and not (text and set(text) <= set(BASE_ALPHABET)):
        raise ValueError(f"plate text must be characters of {BASE_ALPHABET} (got {text!r})")
    plate, text = plate_with_holder(rng, text, family)
    # Shrink the plate to the size a photo had it at (real crops are often 12-30 px high) before
    # placing it: everything after works on few pixels, and INTER_AREA avoids warp aliasing.
    lo, hi = np.log(PLATE_HEIGHT_RANGE)
    target = float(np.exp(rng.uniform(lo, hi)))
    if plate.shape[1] < 2.5 * plate.shape[0]:  # two rows or a US plate: taller for the same characters
        target *= 1.8
    scale = min(1.0, target / plate.shape[0])
    if scale < 0.98:
        interp = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_NEAREST)[rng.choice(3, p=[0.7, 0.2, 0.1])]
        plate = cv2.resize(
            plate, (max(4, round(plate.shape[1] * scale)), max(4, round(plate.shape[0] * scale))), interpolation=interp
        )
    patch, box = _place(rng, plate)
    img = patch.astype(np.float32)
    if rng.random() < 0.3:
        _shadow(rng, img)
    if rng.random() < 0.15:
        _glare(rng, img)
    if rng.random() < 0.2:
        _dirt(rng, img)
    # blur and JPEG loss in proportion to the plate's pixels, so tiny plates stay legible
    detail = min(1.0, (box[3] - box[2]) / 40.0)
    r = rng.random()
    if r < 0.35:  # defocus
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.3 + 0.8 * detail))
    elif r < 0.5 and detail > 0.5:
        img = _motion_blur(rng, img)
    # sensor noise, mostly in brightness only (a third of the random numbers)
    noise_shape = img.shape if rng.random() < 0.3 else (*img.shape[:2], 1)
    img += rng.standard_normal(noise_shape, dtype=np.float32) * np.float32(rng.uniform(0, 8))
    photo = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < GREY_SHARE:
        photo = cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.8:
        low = JPEG_QUALITY_RANGE[0] + round(40 * (1.0 - detail))  # tiny plates: 60-90, big: 20-90
        quality = int(rng.integers(low, JPEG_QUALITY_RANGE[1] + 1))
        ok, buf = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            photo = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    crop = crop_one(photo, _annotated_box(rng, box), size, keep_aspect, margin)
    if crop is None:  # cannot happen with the patch's padding; keep the contract anyway
        crop = cv2.resize(photo, (size[1], size[0]))
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), text


def crop_rng(seed: int, index: int) -> np.random.Generator:
    """The generator for crop `index` of stream `seed` (independent of order and process)."""
    return np.random.default_rng([seed, index])


def iter_crops(
    seed: int, size: tuple[int, int] = CROP_SIZE, keep_aspect: bool = KEEP_ASPECT, start: int = 0, step: int = 1
) -> Iterator[tuple[np.ndarray, str]]:
    """Endless (RGB uint8 crop, label) pairs; crop i depends only on (seed, i).

    start/step pick every step-th crop from `start`, so `step` shards together give the same
    crops as one stream.
    """
    i = start
    while True:
        yield render_crop(crop_rng(seed, i), size=size, keep_aspect=keep_aspect)
        i += step
