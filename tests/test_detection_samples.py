"""The detector's training samples: rendered scenes and users' photos zoomed, relit and with
rendered plates pasted in. Shapes, determinism, boxes that hold their plates."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from conftest import draw_plate, random_background
from plateocr.detection.geometry import INPUT_HEIGHT, INPUT_WIDTH, PAD_VALUE, letterbox
from plateocr.detection.samples import photo_sample, scene_sample

SHAPE = (INPUT_HEIGHT, INPUT_WIDTH, 3)


def _check(image, boxes):
    assert image.shape == SHAPE and image.dtype == np.uint8
    assert boxes.dtype.kind == "i" and boxes.ndim == 2 and boxes.shape[1] == 4
    for xmin, xmax, ymin, ymax in boxes:
        assert 0 <= xmin < xmax <= INPUT_WIDTH and 0 <= ymin < ymax <= INPUT_HEIGHT, boxes


def _photo(seed=0, size=(600, 800), plates=((300, 420, 400, 430),)):
    """An RGB photo with plates (white, black text) at the given boxes."""
    rng = np.random.default_rng(seed)
    img = random_background(rng, size)
    for i, box in enumerate(plates):
        draw_plate(img, f"AB{i}23CD", box)
    return np.ascontiguousarray(img[..., ::-1]), np.array(plates)


def test_scene_samples_have_plates_of_many_sizes_some_none():
    counts, widths = [], []
    for i in range(60):
        image, boxes = scene_sample(np.random.default_rng([3, i]))
        _check(image, boxes)
        counts.append(len(boxes))
        widths += list(boxes[:, 1] - boxes[:, 0])
    assert counts.count(0) >= 2 and max(counts) >= 2  # scenes without a plate; several plates
    assert min(widths) < 45 and max(widths) > 150 and np.median(widths) > 60


def test_scene_samples_are_letterboxed_renderings():
    # photos of other shapes than the input's leave the grey border a letterbox would
    grey = 0
    for i in range(20):
        image, _ = scene_sample(np.random.default_rng([4, i]))
        grey += bool((image[-1] == PAD_VALUE).all() or (image[:, -1] == PAD_VALUE).all())
    assert 3 <= grey < 20


def test_samples_are_deterministic_per_seed():
    photo, boxes = _photo()
    for make in (scene_sample, lambda rng: photo_sample(rng, photo, boxes)):
        a, ba = make(np.random.default_rng(7))
        b, bb = make(np.random.default_rng(7))
        c, _ = make(np.random.default_rng(8))
        assert np.array_equal(a, b) and np.array_equal(ba, bb)
        assert not np.array_equal(a, c)


def test_photo_sample_without_jitter_is_the_letterbox():
    photo, boxes = _photo(size=(900, 1600))
    image, out = photo_sample(np.random.default_rng(0), photo, boxes, paste=False, jitter=False, light=False)
    expected, s = letterbox(photo)
    assert np.array_equal(image, expected)
    assert np.abs(out - boxes * s).max() <= 1


def test_photo_sample_boxes_stay_inside_and_hold_their_plates():
    plates = ((40, 160, 30, 58), (500, 640, 420, 452), (700, 790, 560, 585))
    photo, boxes = _photo(size=(600, 800), plates=plates)
    for i in range(40):
        image, out = photo_sample(np.random.default_rng([1, i]), photo, boxes, paste=False)
        _check(image, out)
        assert len(out) >= 1  # one plate is always kept whole in the frame
        for xmin, xmax, ymin, ymax in out:  # white plates: mostly light pixels inside each box
            assert np.median(image[ymin:ymax, xmin:xmax]) > 100, (i, out)


def test_photo_sample_drops_plates_mostly_cut_off_and_clips_the_rest():
    photo, boxes = _photo(size=(600, 800), plates=((10, 130, 10, 40), (660, 790, 560, 590)))
    seen = set()
    for i in range(60):
        _, out = photo_sample(np.random.default_rng([2, i]), photo, boxes, paste=False, light=False)
        seen.add(len(out))
        for xmin, xmax, ymin, ymax in out:
            assert (xmax - xmin) / (ymax - ymin) > 1.3  # no sliver of a plate
    assert seen >= {1, 2}  # zoomed in, one plate is cut off; zoomed out, both show


@pytest.mark.parametrize("light", [False, True])
def test_pasted_plates_change_their_boxes_and_little_else(light):
    photo, boxes = _photo(size=(480, 640), plates=((250, 370, 300, 330),))
    # the holder's rim around a pasted plate, up to a tenth of its height; blur and JPEG blocks
    # spread a change further
    pasted = 0
    for i in range(12):
        rng = [5, i]
        plain, real = photo_sample(np.random.default_rng(rng), photo, boxes, paste=False, light=light)
        image, out = photo_sample(np.random.default_rng(rng), photo, boxes, paste=True, light=light)
        _check(image, out)
        assert np.array_equal(out[: len(real)], real)
        new = out[len(real) :]
        pasted += len(new)
        diff = np.abs(image.astype(int) - plain.astype(int)).max(axis=2)
        near = np.zeros(diff.shape, bool)
        for xmin, xmax, ymin, ymax in new:
            assert 20 <= xmax - xmin <= 300
            assert (diff[ymin:ymax, xmin:xmax] > 20).mean() > 0.3  # the plate is really there
            m = int(0.12 * (ymax - ymin)) + 2 + (16 if light else 0)
            near[max(0, ymin - m) : ymax + m, max(0, xmin - m) : xmax + m] = True
            for r in real:  # clear of the real plates
                assert xmax <= r[0] or r[1] <= xmin or ymax <= r[2] or r[3] <= ymin
        assert diff[~near].max(initial=0) <= (0 if not light else 255)
        assert (diff[~near] > 2).mean() < 0.01
    assert pasted >= 12


def test_photo_sample_of_a_real_photo_keeps_its_plate(real_plates):
    with open(real_plates / "annot.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:8]
    small = (32, 8)  # plates compared at one small size: rounding and blur aside
    for n, r in enumerate(rows):
        photo = cv2.imread(str(real_plates / "images" / r["files"]))[..., ::-1].copy()
        box = np.array([[int(r[k]) for k in ("xmin", "xmax", "ymin", "ymax")]])
        image, out = photo_sample(np.random.default_rng(n), photo, box, paste=False, jitter=False, light=False)
        expected, s = letterbox(photo)
        assert np.array_equal(image, expected) and np.abs(out - box * s).max() <= 1
        # zoomed, shifted (and relit): the box still frames the plate, its pixels the plate's
        x0, x1, y0, y1 = box[0]
        plate = cv2.resize(cv2.cvtColor(photo[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY), small, interpolation=cv2.INTER_AREA)
        for i, light in enumerate([False, False, True, True]):
            image, out = photo_sample(np.random.default_rng([n, i]), photo, box, paste=False, light=light)
            assert len(out) == 1
            a, b, c, d = out[0]
            if a == 0 or c == 0 or b == INPUT_WIDTH or d == INPUT_HEIGHT:
                continue  # zoomed past the frame: clipped, another part of the plate
            seen = cv2.resize(cv2.cvtColor(image[c:d, a:b], cv2.COLOR_RGB2GRAY), small, interpolation=cv2.INTER_AREA)
            corr = np.corrcoef(seen.ravel().astype(float), plate.ravel().astype(float))[0, 1]
            assert corr > (0.35 if light else 0.6), (r["files"], i, corr)
