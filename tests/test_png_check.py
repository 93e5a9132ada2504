"""PNG verification without decoding: never accepts a file a decoder would refuse."""

import struct
import zlib

import cv2
import numpy as np
import pytest

from plateocr.errors import PlateOCRError
from plateocr.png_check import plain_rgb_png_size


def png(img, *params):
    ok, buf = cv2.imencode(".png", img, list(params))
    assert ok
    return buf.tobytes()


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def chunks(data: bytes):
    """(offset, kind, body) of each chunk."""
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        out.append((pos, data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (24, 70, 3), dtype=np.uint8)


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_plain_rgb_png_is_measured(level):
    assert plain_rgb_png_size(png(RGB, cv2.IMWRITE_PNG_COMPRESSION, level)) == (24, 70)


def test_split_image_data_chunks_are_joined():
    data = png(RGB, cv2.IMWRITE_PNG_COMPRESSION, 0)
    (ihdr_at, _, ihdr), (idat_at, _, idat) = chunks(data)[:2]
    half = len(idat) // 2
    split = data[:idat_at] + chunk(b"IDAT", idat[:half]) + chunk(b"IDAT", idat[half:]) + chunk(b"IEND", b"")
    assert plain_rgb_png_size(split) == (24, 70)
    assert np.array_equal(cv2.imdecode(np.frombuffer(split, np.uint8), cv2.IMREAD_COLOR), RGB)


def test_other_pngs_are_sound_but_not_plain():
    assert plain_rgb_png_size(png(RGB[:, :, 0])) is None  # grayscale
    assert plain_rgb_png_size(png(np.dstack([RGB, RGB[:, :, :1]]))) is None  # RGBA
    assert plain_rgb_png_size(png(RGB.astype(np.uint16) * 257)) is None  # 16-bit
    data = png(RGB)
    assert plain_rgb_png_size(data + b"trailing") is None
    pos = chunks(data)[1][0]
    with_gamma = data[:pos] + chunk(b"gAMA", struct.pack(">I", 45455)) + data[pos:]
    assert plain_rgb_png_size(with_gamma) is None
    with_text = data[:pos] + chunk(b"tEXt", b"Comment\x00hello") + data[pos:]
    assert plain_rgb_png_size(with_text) == (24, 70)


def test_damage_is_refused_with_its_reason():
    data = png(RGB)
    with pytest.raises(PlateOCRError, match="not a PNG"):
        plain_rgb_png_size(b"\xff\xd8 jpeg", "x.jpg")
    for cut in range(8, len(data) - 1, 97):
        with pytest.raises(PlateOCRError, match="truncated"):
            plain_rgb_png_size(data[:cut])
    flipped = bytearray(data)
    flipped[chunks(data)[1][0] + 20] ^= 0x01
    with pytest.raises(PlateOCRError, match="CRC mismatch in chunk IDAT"):
        plain_rgb_png_size(bytes(flipped))


def test_never_accepts_what_a_decoder_refuses():
    # damage the image data but fix the chunk CRC, so only the zlib stream / rows can tell
    data = png(RGB, cv2.IMWRITE_PNG_COMPRESSION, 1)
    idat_at, _, idat = chunks(data)[1]
    rng = np.random.default_rng(1)
    refused = 0
    for _ in range(300):
        body = bytearray(idat)
        body[int(rng.integers(len(body)))] ^= int(rng.integers(1, 256))
        bad = data[:idat_at] + chunk(b"IDAT", bytes(body)) + chunk(b"IEND", b"")
        try:
            size = plain_rgb_png_size(bad)
        except PlateOCRError:
            refused += 1
            continue
        decoded = cv2.imdecode(np.frombuffer(bad, np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.shape[:2] == size
    assert refused > 250
