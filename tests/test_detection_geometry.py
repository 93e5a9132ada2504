import numpy as np
import pytest

from plateocr.detection import geometry as g
from plateocr.detection.scoring import iou
from plateocr.detection.geometry import (
    GRID_HEIGHT,
    GRID_WIDTH,
    INPUT_HEIGHT,
    INPUT_WIDTH,
    PAD_VALUE,
    STRIDE,
    boxes_to_input,
    boxes_to_photo,
    decode,
    encode_targets,
    letterbox,
    local_maxima,
)


def test_constants_agree():
    assert (INPUT_HEIGHT, INPUT_WIDTH, STRIDE) == (384, 512, 4)
    assert (GRID_HEIGHT, GRID_WIDTH) == (96, 128)


# --- letterbox -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "h, w, scale",
    [(768, 1024, 0.5), (1000, 1000, 0.384), (100, 2048, 0.25), (192, 128, 2.0), (384, 512, 1.0)],
)
def test_letterbox_scales_to_fit_at_the_top_left_and_pads_with_grey(h, w, scale):
    photo = np.full((h, w, 3), 7, np.uint8)
    canvas, s = letterbox(photo)
    assert canvas.shape == (INPUT_HEIGHT, INPUT_WIDTH, 3) and canvas.dtype == np.uint8
    assert s == pytest.approx(scale)
    nh, nw = round(h * s), round(w * s)
    assert (canvas[:nh, :nw] == 7).all()
    assert (canvas[nh:] == PAD_VALUE).all() and (canvas[:, nw:] == PAD_VALUE).all()


def test_letterbox_keeps_a_photo_of_the_input_size_as_it_is():
    photo = np.random.default_rng(0).integers(0, 256, (INPUT_HEIGHT, INPUT_WIDTH, 3), np.uint8)
    canvas, s = letterbox(photo)
    assert s == 1.0 and np.array_equal(canvas, photo)


def test_a_box_drawn_on_the_photo_lies_at_its_input_box_on_the_canvas():
    photo = np.zeros((900, 1600, 3), np.uint8)
    box = (400, 720, 500, 580)  # xmin, xmax, ymin, ymax
    photo[500:580, 400:720] = 255
    canvas, s = letterbox(photo)
    xmin, xmax, ymin, ymax = boxes_to_input([box], s)[0]
    white = np.argwhere(canvas[..., 0] > 127)
    assert white[:, 1].min() == pytest.approx(xmin, abs=1) and white[:, 1].max() + 1 == pytest.approx(xmax, abs=1)
    assert white[:, 0].min() == pytest.approx(ymin, abs=1) and white[:, 0].max() + 1 == pytest.approx(ymax, abs=1)


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 5, 3), np.uint8)]
)
def test_letterbox_refuses_what_is_no_rgb_photo(bad):
    with pytest.raises(ValueError):
        letterbox(bad)


def test_boxes_go_to_the_input_and_back_clipped_to_the_photo():
    boxes = np.array([[10, 110, 20, 50], [900, 1100, 700, 760]], float)
    s = 0.4
    inp = boxes_to_input(boxes, s)
    np.testing.assert_allclose(inp, boxes * 0.4)
    back = boxes_to_photo(inp, s, photo_w=1000, photo_h=740)
    np.testing.assert_allclose(back[0], boxes[0])
    np.testing.assert_allclose(back[1], [900, 1000, 700, 740])  # clipped
    assert boxes_to_input([], s).shape == (0, 4) and boxes_to_photo([], s, 10, 10).shape == (0, 4)


# --- targets ---------------------------------------------------------------------------------


def test_targets_mark_the_centre_cell_with_size_and_offset():
    box = (101.0, 181.0, 50.0, 70.0)  # centre (141, 60): cell column 35 (offset 0.25), row 15 (0)
    t = encode_targets([box])
    assert {k: v.shape for k, v in t.items()} == {
        "heatmap": (96, 128, 1),
        "size": (96, 128, 2),
        "offset": (96, 128, 2),
        "mask": (96, 128, 1),
    }
    assert all(v.dtype == np.float32 for v in t.values())
    assert t["heatmap"][15, 35, 0] == 1.0 and t["heatmap"].max() == 1.0
    assert np.argwhere(t["mask"][..., 0] == 1).tolist() == [[15, 35]]
    np.testing.assert_allclose(t["size"][15, 35], [np.log(80 / 4), np.log(20 / 4)], rtol=1e-6)
    np.testing.assert_allclose(t["offset"][15, 35], [0.25, 0.0])
    assert np.count_nonzero(t["size"]) == 2 and np.count_nonzero(t["offset"]) == 1


def test_the_gaussian_is_wider_than_high_for_a_wide_plate_and_never_thinner_than_min_sigma():
    heat = encode_targets([(100, 300, 100, 140)])["heatmap"][..., 0]  # 50 x 10 cells, centre (50, 30)
    row, col = 30, 50
    # sigma_x = 0.09 * 50 = 4.5 cells, sigma_y = max(0.09 * 10, 0.8) = 0.9
    assert heat[row, col + 4] == pytest.approx(np.exp(-16 / (2 * 4.5**2)), rel=1e-5)
    assert heat[row + 1, col] == pytest.approx(np.exp(-1 / (2 * 0.9**2)), rel=1e-5)
    tiny = encode_targets([(100, 102, 100, 101)])["heatmap"][..., 0]  # under a cell: sigma MIN_SIGMA
    assert tiny[25, 25] == 1.0
    assert tiny[25, 26] == pytest.approx(np.exp(-1 / (2 * g.MIN_SIGMA**2)), rel=1e-5)
    assert tiny[25, 24] == tiny[24, 25] == tiny[25, 26]


def test_overlapping_gaussians_merge_by_max_and_keep_both_peaks():
    boxes = [(100, 200, 100, 124), (140, 240, 104, 128)]  # centres in cells (37, 28) and (47, 29)
    t = encode_targets(boxes)
    one, two = (encode_targets([b])["heatmap"] for b in boxes)
    np.testing.assert_array_equal(t["heatmap"], np.maximum(one, two))
    assert t["heatmap"][28, 37, 0] == 1.0 and t["heatmap"][29, 47, 0] == 1.0
    assert t["mask"].sum() == 2


def test_targets_leave_out_boxes_without_area_or_outside_the_input_and_keep_the_larger_in_a_shared_cell():
    t = encode_targets([(10, 10, 5, 30), (-50, -10, 5, 30), (500, 600, 10, 20)])
    assert t["heatmap"].max() == 0 and t["mask"].sum() == 0
    small, large = (201, 203, 101, 103), (180, 224, 90, 114)  # both centred at (202, 102)
    for boxes in ([small, large], [large, small]):
        t = encode_targets(boxes)
        np.testing.assert_allclose(t["size"][25, 50], [np.log(11), np.log(6)], rtol=1e-6)
    empty = encode_targets(np.zeros((0, 4)))
    assert empty["heatmap"].max() == 0


# --- decoding --------------------------------------------------------------------------------


def _decode_targets(t, **kw):
    return decode(t["heatmap"], t["size"], t["offset"], **kw)


def _random_plates(rng, n):
    """Up to n non-overlapping plates 10-300 px wide, aspect 2-6, inside the input."""
    boxes = []
    for _ in range(50 * n):
        w = rng.uniform(10, 300)
        h = w / rng.uniform(2, 6)
        x, y = rng.uniform(0, INPUT_WIDTH - w), rng.uniform(0, INPUT_HEIGHT - h)
        box = np.array([x, x + w, y, y + h])
        if all(iou(box, b) == 0 for b in boxes):
            boxes.append(box)
        if len(boxes) == n:
            break
    return np.array(boxes)


def _sorted(boxes):
    return boxes[np.lexsort((boxes[:, 2], boxes[:, 0]))]


def test_encode_then_decode_recovers_random_plates_within_a_pixel():
    rng = np.random.default_rng(18)
    for trial in range(200):
        boxes = _random_plates(rng, 1 + trial % 4)
        found, scores = _decode_targets(encode_targets(boxes))
        assert len(found) == len(boxes), (trial, boxes, found)
        np.testing.assert_allclose(_sorted(found), _sorted(boxes), atol=1.0)
        assert (scores == 1.0).all()


@pytest.mark.parametrize(
    "boxes",
    [
        [(100, 220, 200, 240), (226, 346, 200, 240)],  # side by side, 6 px apart
        [(100, 160, 100, 130), (100, 160, 133, 163)],  # stacked (a two-line plate's neighbours)
        [(100, 112, 100, 104), (114, 126, 101, 105)],  # tiny and close: centres 3-4 cells apart
        [(100, 124, 100, 108), (104, 128, 106, 114)],  # overlapping (IoU 0.12), centres in diagonal neighbour cells
    ],
)
def test_two_close_plates_both_come_back(boxes):
    boxes = np.array(boxes, float)
    found, scores = _decode_targets(encode_targets(boxes))
    assert len(found) == 2
    np.testing.assert_allclose(_sorted(found), _sorted(boxes), atol=1.0)


def test_decode_keeps_local_maxima_above_the_threshold_best_first_up_to_max_boxes():
    heat = np.zeros((GRID_HEIGHT, GRID_WIDTH), np.float32)
    heat[10, 10], heat[10, 11] = 0.9, 0.8  # the 0.8 is no local maximum
    heat[50, 60], heat[80, 100], heat[5, 120] = 0.6, 0.7, 0.2
    size = np.full((GRID_HEIGHT, GRID_WIDTH, 2), np.log(3.0), np.float32)  # 12 x 12 px boxes
    offset = np.full((GRID_HEIGHT, GRID_WIDTH, 2), 0.5, np.float32)
    boxes, scores = decode(heat, size, offset, threshold=0.3)
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.6])
    np.testing.assert_allclose(boxes[0], [42 - 6, 42 + 6, 42 - 6, 42 + 6])
    assert len(decode(heat, size, offset, threshold=0.1)[0]) == 4
    assert len(decode(heat, size, offset, threshold=0.1, max_boxes=2)[0]) == 2
    assert decode(heat[..., None], size, offset)[0].shape == (3, 4)  # [H, W, 1] as the head gives it


def test_decode_suppresses_a_lower_box_overlapping_a_better_one():
    heat = np.zeros((GRID_HEIGHT, GRID_WIDTH), np.float32)
    heat[20, 20], heat[20, 23] = 0.9, 0.5  # two peaks 3 cells apart, both local maxima
    size = np.zeros((GRID_HEIGHT, GRID_WIDTH, 2), np.float32)
    size[20, 20] = size[20, 23] = np.log(20.0), np.log(5.0)  # 80 x 20 px: IoU of the two ~0.74
    offset = np.zeros((GRID_HEIGHT, GRID_WIDTH, 2), np.float32)
    boxes, scores = decode(heat, size, offset)
    assert scores.tolist() == [pytest.approx(0.9)]
    boxes, scores = decode(heat, size, offset, iou_threshold=0.8)
    assert len(boxes) == 2


def test_decode_finds_nothing_in_an_empty_heatmap_and_refuses_mismatched_heads():
    zeros = np.zeros((GRID_HEIGHT, GRID_WIDTH, 2), np.float32)
    boxes, scores = decode(zeros[..., 0], zeros, zeros)
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    with pytest.raises(ValueError):
        decode(zeros[..., 0], zeros[:10], zeros)


def test_local_maxima_on_a_plateau_and_at_the_border():
    heat = np.zeros((4, 5), np.float32)
    heat[0, 0] = 1.0
    heat[2, 3] = heat[2, 4] = 0.5
    peaks = local_maxima(heat)
    assert peaks[0, 0] and peaks[2, 3] and peaks[2, 4] and not peaks[1, 1]
