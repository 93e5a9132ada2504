import cv2
import numpy as np
import pytest

import plateocr.imaging as imaging
from conftest import pixel_bomb_png, write_image
from plateocr.errors import PlateOCRError
from plateocr.imaging import (
    clip_box,
    decode_image,
    encode_png,
    expand_box,
    fit,
    parse_size,
    read_bgr,
    read_rgb,
)


def test_parse_size_reads_height_by_width():
    assert parse_size("64x256") == (64, 256)
    assert parse_size("200X200") == (200, 200)


@pytest.mark.parametrize("text", ["64", "64x", "axb", "64x256x3", "", "8x256", "64x-1"])
def test_parse_size_rejects_bad_sizes_in_one_line(text):
    with pytest.raises(PlateOCRError) as e:
        parse_size(text)
    assert repr(text) in str(e.value) and "\n" not in str(e.value)


def test_fit_stretch_fills_the_requested_shape():
    wide = np.zeros((30, 300, 3), np.uint8)
    small = np.zeros((10, 20, 3), np.uint8)
    assert fit(wide, (64, 256)).shape == (64, 256, 3)
    assert fit(small, (64, 256)).shape == (64, 256, 3)


def test_fit_keep_aspect_centres_the_plate_and_pads_with_its_border():
    plate = np.full((20, 100, 3), 255, np.uint8)  # 5:1, white
    plate[:, :10] = (0, 0, 255)  # red left edge
    out = fit(plate, (64, 128), keep_aspect=True)
    assert out.shape == (64, 128, 3)
    # scaled to 128 wide -> about 26 rows of plate, the rest padded above and below
    rows_white = np.where((out[:, 64] == 255).all(axis=1))[0]
    assert len(rows_white) == 64  # replicated border: padding repeats the plate's edge rows
    # The width is filled (5:1 into 2:1), so the red edge stays at the far left, not stretched.
    assert (out[32, :8] == (0, 0, 255)).all()
    assert (out[32, 20:] == 255).all()


def test_fit_keep_aspect_pads_left_and_right_for_a_tall_box():
    plate = np.zeros((100, 50, 3), np.uint8)
    plate[:, :, 1] = 200
    out = fit(plate, (64, 256), keep_aspect=True)
    assert out.shape == (64, 256, 3)
    stretched = fit(plate, (64, 256), keep_aspect=False)
    assert stretched.shape == (64, 256, 3)


def test_fit_returns_same_size_images_untouched():
    img = np.random.default_rng(0).integers(0, 255, (64, 256, 3), dtype=np.uint8)
    assert np.array_equal(fit(img, (64, 256)), img)


def test_clip_box_clips_to_the_photo_and_rounds_outwards():
    assert clip_box((-10, 50.5, 5.2, 500), width=100, height=80) == (0, 51, 5, 80)
    assert clip_box((10, 20, 10, 20), 100, 80) == (10, 20, 10, 20)


@pytest.mark.parametrize("box", [(120, 200, 10, 20), (-50, -1, 10, 20), (10, 20, 80, 90), (10, 20, -9, 0)])
def test_clip_box_is_none_outside_the_photo(box):
    assert clip_box(box, width=100, height=80) is None


def test_expand_box_adds_the_margin_on_each_side():
    assert expand_box((100, 200, 50, 70), 0.1) == pytest.approx((90, 210, 48, 72))
    assert expand_box((100, 200, 50, 70), 0.0) == (100, 200, 50, 70)


def test_read_bgr_and_rgb_of_a_real_png(tmp_path):
    img = np.zeros((12, 34, 3), np.uint8)
    img[..., 2] = 255  # red in BGR
    path = write_image(tmp_path / "ünïcode dir" / "red.png", img)
    assert np.array_equal(read_bgr(path), img)
    assert (read_rgb(path)[0, 0] == (255, 0, 0)).all()


def test_read_bgr_names_the_file_when_missing_or_corrupt(tmp_path):
    with pytest.raises(PlateOCRError, match="missing.jpg: image not found"):
        read_bgr(tmp_path / "missing.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(PlateOCRError, match="bad.jpg: not a readable image"):
        read_bgr(bad)
    with pytest.raises(PlateOCRError):
        decode_image(b"", "empty")


def test_encode_png_round_trips_losslessly():
    img = np.random.default_rng(1).integers(0, 255, (64, 256, 3), dtype=np.uint8)
    data = encode_png(img)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), img)


def test_a_pixel_bomb_is_refused_from_its_header_before_decoding():
    bomb = pixel_bomb_png(60000, 60000)
    assert len(bomb) < 80
    with pytest.raises(
        PlateOCRError,
        match=r"^bomb.png: image too large to decode \(60000x60000 pixels; the limit "
        r"is 120 megapixels\)$",
    ):
        decode_image(bomb, "bomb.png")
    # a JPEG and a BMP (read through Pillow) that announce 20000x20000 pixels
    jpeg = bytearray(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = (20000).to_bytes(2, "big") * 2
    bmp = bytearray(cv2.imencode(".bmp", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    bmp[18:26] = (12000).to_bytes(4, "little") * 2
    huge_bmp = bmp[:18] + (20000).to_bytes(4, "little") * 2 + bmp[26:]
    for name, data, shown in (
        ("big.jpg", jpeg, "20000x20000 pixels"),
        ("big.bmp", bmp, "12000x12000 pixels"),
        ("huge.bmp", huge_bmp, "more than 179 million pixels"),
    ):
        with pytest.raises(PlateOCRError, match=f"{name}: image too large to decode \\({shown};"):
            decode_image(bytes(data), name)


def test_images_under_the_limit_decode_and_opencv_refusals_are_one_line(monkeypatch):
    small = cv2.imencode(".bmp", np.full((6, 9, 3), 7, np.uint8))[1].tobytes()
    assert decode_image(small).shape == (6, 9, 3)
    monkeypatch.setattr(imaging, "MAX_IMAGE_PIXELS", 10**12)  # leave it to OpenCV's own limit
    with pytest.raises(PlateOCRError) as e:
        decode_image(pixel_bomb_png(60000, 60000), "bomb.png")
    assert str(e.value).startswith("bomb.png: not a readable image") and "\n" not in str(e.value)
