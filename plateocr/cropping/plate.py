"""One plate: its box checked against the photo, the region cut (margin added, clipped), fitted
to the crop size, and the crop's file name."""

from __future__ import annotations

import os

import numpy as np

from plateocr.annotations import Annotation
from plateocr.defaults import CROP_SIZE, KEEP_ASPECT, MARGIN
from plateocr.imaging import clip_box, expand_box, fit

Box = tuple[int, int, int, int]  # xmin, xmax, ymin, ymax in whole pixels


# A box narrower or lower than this (inside the photo) cannot hold a readable plate.
MIN_BOX_SIDE = 4


def box_problem(box, width: int, height: int) -> str | None:
    """Why a box (pixels: xmin, xmax, ymin, ymax) gives no usable crop of a width x height
    photo, or None: outside the photo, reaching far beyond it (a typo such as 1e12 would
    otherwise crop the whole photo), or a few pixels small."""
    xmin, xmax, ymin, ymax = box
    shown = f"x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g}"
    inside = clip_box(box, width, height)
    if inside is None:
        return f"box lies outside the {width}x{height} photo: {shown}"
    if xmin < -width or xmax > 2 * width or ymin < -height or ymax > 2 * height:
        return f"box reaches far outside the {width}x{height} photo: {shown}"
    x0, x1, y0, y1 = inside
    if min(x1 - x0, y1 - y0) < MIN_BOX_SIDE:
        return f"box is {x1 - x0}x{y1 - y0} pixels, too small for a plate: {shown}"
    return None


def crop_region(box, width: int, height: int, margin: float = MARGIN) -> Box | None:
    """The pixel region cut for `box` (xmin, xmax, ymin, ymax): the box grown by `margin` and
    clipped to a width x height photo; None if the box itself lies wholly outside the photo."""
    if clip_box(box, width, height) is None:
        return None
    return clip_box(expand_box(box, margin), width, height)


def crop_one(
    photo_bgr: np.ndarray,
    box,
    size: tuple[int, int] = CROP_SIZE,
    keep_aspect: bool = KEEP_ASPECT,
    margin: float = MARGIN,
) -> np.ndarray | None:
    """The plate at `box` cut from a decoded photo and fitted to `size` (h, w); None if the box
    lies outside the photo. Used by `crop` and, in memory, by `predict --annotations`."""
    height, width = photo_bgr.shape[:2]
    region = crop_region(box, width, height, margin)
    if region is None:
        return None
    x0, x1, y0, y1 = region
    return fit(photo_bgr[y0:y1, x0:x1], size, keep_aspect)


def crop_name(annotation: Annotation) -> str:
    stem = os.path.splitext(os.path.basename(annotation.file))[0]
    return f"{stem}_L{annotation.line}.png"
