"""Test-time augmentation: the re-framed views, the vote between their readings, and readers that
use it (PlateReader and eval by default, one view with tta=False)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_crops
from tiny_model import random_model_dir

from plateocr.imaging import read_rgb
from plateocr.inference.decoding import Reading
from plateocr.inference.test_time_augmentation import VIEWS, combine, views, views_in_graph, vote_in_graph

SIZE = (32, 96)


def _box_image() -> np.ndarray:
    """Grey, with a black box in the middle: 16x48 px from (24, 8)."""
    img = np.full((*SIZE, 3), 200, np.uint8)
    img[8:24, 24:72] = 0
    return img


def _ink_box(img: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(img[..., 0] < 100)
    return ys.min(), ys.max(), xs.min(), xs.max()


def test_views_zoom_and_shift_the_crop_and_keep_it_first():
    img = _box_image()  # the box: rows 8..23, columns 24..71
    batch = views(np.stack([img, 255 - img]))
    assert batch.shape == (2 * len(VIEWS), *SIZE, 3) and batch.dtype == np.uint8
    assert np.array_equal(batch[0], img) and np.array_equal(batch[len(VIEWS)], 255 - img)  # the crop first
    assert len({b.tobytes() for b in batch[: len(VIEWS)]}) == len(VIEWS)  # every view differs
    boxes = {view: _ink_box(b) for view, b in zip(VIEWS, batch)}
    y0, y1, x0, x1 = boxes[(1.06, 1.1, 0.0, 0.0)]  # zoomed in: the box grows about the centre
    assert x1 - x0 > 71 - 24 and y1 - y0 > 23 - 8 and (x0 + x1) / 2 == 47.5
    y0, y1, x0, x1 = boxes[(0.94, 0.9, 0.0, 0.0)]  # zoomed out: it shrinks
    assert x1 - x0 < 71 - 24 and y1 - y0 < 23 - 8 and (x0 + x1) / 2 == 47.5
    zoomed_out = batch[VIEWS.index((0.94, 0.9, 0.0, 0.0))]
    assert zoomed_out[0, 0].tolist() == [200, 200, 200]  # the edges are repeated, not black
    # shifted by 1.5% of 96 px (1.44 px) right and left; bilinear, so an edge pixel half covered is ink
    assert boxes[(1.0, 1.0, 0.015, 0.0)] == (8, 23, 25, 72)
    assert boxes[(1.0, 1.0, -0.015, 0.0)] == (8, 23, 23, 70)


def _reading(text: str, confidence: float) -> Reading:
    return Reading(text, confidence, tuple([confidence] * len(text)))


def test_an_axis_left_alone_is_the_same_pixels_as_its_identity_taps():
    """views() skips the resampling of an axis a view neither zooms nor shifts; the full two-pass
    resampling (each pixel weighed 1, its neighbour 0) gives the same pixels bit for bit."""
    from plateocr.inference.test_time_augmentation import _taps

    pixels = np.random.default_rng(3).integers(0, 256, (4, 32, 128, 3)).astype(np.float32)
    full = []
    for scale_x, scale_y, shift_x, shift_y in VIEWS:
        y0, y1, wy0, wy1 = _taps(32, scale_y, shift_y)
        x0, x1, wx0, wx1 = _taps(128, scale_x, shift_x)
        rows = pixels[:, y0] * wy0[:, None, None] + pixels[:, y1] * wy1[:, None, None]
        full.append(rows[:, :, x0] * wx0[:, None] + rows[:, :, x1] * wx1[:, None])
    expected = np.clip(np.rint(np.stack(full, axis=1)), 0, 255).astype(np.uint8).reshape(-1, 32, 128, 3)
    assert any(v[1:4:2] == (1.0, 0.0) for v in VIEWS)  # some view leaves the vertical axis alone
    np.testing.assert_array_equal(views(pixels.astype(np.uint8)), expected)


def test_the_text_with_the_highest_summed_confidence_wins():
    # the crop itself reads AB1 most confidently, but four views agree on AB7
    group = [_reading("AB1", 0.9), _reading("AB7", 0.3), _reading("AB7", 0.5), _reading("AB7", 0.4), _reading("", 0.2)]
    (r,) = combine(group)
    assert r.text == "AB7" and r.confidence == pytest.approx(1.2 / 5)
    assert r.char_confidences == pytest.approx((0.4, 0.4, 0.4))  # the mean over the views that read it
    # two images in one batch, in order; a tie goes to the text the crop itself read
    tie = [_reading("XY", 0.5), _reading("XV", 0.5), _reading("", 0.0), _reading("", 0.0), _reading("", 0.0)]
    first, second = combine(group + tie)
    assert first.text == "AB7" and second.text == "XY"
    empty = combine([_reading("", 0.9)] * 5)[0]
    assert empty.text == "" and empty.char_confidences == () and empty.confidence == pytest.approx(0.9)
    with pytest.raises(ValueError, match="not 5 views"):
        combine(group[:3])


def test_views_in_graph_are_the_same_pixels_as_views():
    from plateocr.model.compat import tf

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (3, *SIZE, 3), dtype=np.uint8)  # every pixel differs from its neighbours
    images = np.concatenate([noise, _box_image()[None]])
    in_graph = views_in_graph(tf.constant(images)).numpy()
    assert in_graph.dtype == np.uint8 and np.array_equal(in_graph, views(images))
    # and the same re-framing as OpenCV's bilinear warp, to within a grey level
    import cv2

    h, w = SIZE
    sx, sy, dx, dy = VIEWS[1]
    m = np.float32([[sx, 0, (1 - sx) * w / 2 + dx * w], [0, sy, (1 - sy) * h / 2 + dy * h]])
    warped = cv2.warpAffine(noise[0], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(warped.astype(int) - views(noise[:1])[1]).max() <= 1


def _group_outputs(groups: list[list[tuple[list[int], float]]], null: int, length: int = 5):
    """Network-like outputs for groups of views: (ids, confidence) per view; ids padded with nulls."""
    chars, scores, conf = [], [], []
    for group in groups:
        for ids, c in group:
            chars.append(ids + [null] * (length - len(ids)))
            scores.append([c ** (1 / (len(ids) + 1))] * length)
            conf.append(c)
    attention = np.arange(len(chars), dtype=np.float32)[:, None, None, None] * np.ones((1, length, 2, 3), np.float32)
    return np.array(chars, np.int32), np.array(scores, np.float32), np.array(conf, np.float32), attention


def test_vote_in_graph_chooses_what_combine_chooses():
    from plateocr.charset import Charset
    from plateocr.model.compat import tf
    from plateocr.inference.decoding import decode_readings

    charset = Charset.from_texts(["ABC17"])
    null = charset.null_code
    a, b, c = (charset.encode(t) for t in ("AB1", "AB7", "C"))
    groups = [
        [(a, 0.9), (b, 0.3), (b, 0.5), (b, 0.4), ([], 0.2)],  # four views outvote the crop
        [(a, 0.5), (c, 0.5), ([], 0.0), ([], 0.0), ([], 0.0)],  # a tie: the crop's text
        [([], 0.9)] * 5,  # nothing read
        [(c, 0.1), (a, 0.2), (a, 0.3), (c, 0.7), (b, 0.05)],  # C wins; its first view is view 0
    ]
    chars, scores, conf, attention = _group_outputs(groups, null)
    chars[1, 4] = charset.encode("7")[0]  # a stray id after the null: still the text AB7
    out = {
        k: v.numpy()
        for k, v in vote_in_graph(*(tf.constant(x) for x in (chars, scores, conf, attention)), null).items()
    }
    expected = combine(decode_readings(charset, chars, scores, conf))
    assert [charset.decode(ids) for ids in out["char_ids"]] == [r.text for r in expected] == ["AB7", "AB1", "", "C"]
    assert out["confidence"] == pytest.approx([r.confidence for r in expected], rel=1e-6)
    for r, probs in zip(expected, out["char_probabilities"]):
        assert probs[: len(r.text)] == pytest.approx(r.char_confidences, rel=1e-6)
    # the attention of the first view that read the winning text
    assert out["attention_masks"][:, 0, 0, 0].tolist() == [1, 5, 10, 15]


@pytest.fixture(scope="module")
def model_and_crops(tmp_path_factory):
    root = tmp_path_factory.mktemp("tta")
    texts = ["AB12", "CD345", "EF6", "K9"]
    make_crops(root / "crops", texts, size=SIZE)
    return random_model_dir(root / "model", texts, size=SIZE).path, sorted((root / "crops").glob("*.png"))


def test_readers_vote_over_the_views_by_default_and_read_once_without(model_and_crops):
    from plateocr import PlateReader

    model, crops = model_and_crops
    images = np.stack([read_rgb(p) for p in crops])
    with PlateReader(model, tta=False) as once, PlateReader(model) as voting:
        plain = once.run(images)
        per_view = once.run(views(images))
        voted = voting.run(images)
    assert [r.text for r in plain] == [r.text for r in per_view[:: len(VIEWS)]]  # view 0 is the crop
    assert [(r.text, round(r.confidence, 5)) for r in voted] == [
        (r.text, round(r.confidence, 5)) for r in combine(per_view)
    ]
    # random weights: the views do not all agree, so voting is not the plain reading
    assert [r.confidence for r in voted] != pytest.approx([r.confidence for r in plain], rel=1e-4)


def test_eval_reads_as_predict_does_with_and_without_views(tmp_path):
    from test_data import plate_image, write_records

    from plateocr import PlateReader
    from plateocr.training.evaluate import evaluate

    texts = ["AB12", "CD345", "EF6", "K9"]
    write_records(tmp_path / "records", {"test": texts}, size=SIZE, shards=1)
    model = random_model_dir(tmp_path / "model", texts, size=SIZE).path
    images = np.stack([plate_image(t, SIZE, seed=i) for i, t in enumerate(texts)])
    for tta in (True, False):
        with PlateReader(model, tta=tta) as reader:
            expected = reader.run(images)
        result = evaluate(model, tmp_path / "records", batch_size=3, tta=tta)
        assert [(e.truth, e.prediction) for e in result.examples] == [(t, r.text) for t, r in zip(texts, expected)]
        assert [e.confidence for e in result.examples] == pytest.approx([r.confidence for r in expected], rel=1e-4)
