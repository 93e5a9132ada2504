"""PlateReader: paths, arrays and bytes read alike; any size prepared as training prepared crops."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_crops
from tiny_model import random_model_dir

from plateocr.errors import PlateOCRError
from plateocr.imaging import fit, read_rgb

SIZE = (32, 96)
TEXTS = ["AB12", "CD345", "EF6", "K9"]


@pytest.fixture(scope="module")
def stretch_model(tmp_path_factory):
    return random_model_dir(tmp_path_factory.mktemp("infer") / "model", TEXTS, size=SIZE).path


@pytest.fixture(scope="module")
def reader(stretch_model):
    from plateocr import PlateReader

    with PlateReader(stretch_model) as r:
        yield r


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crops")
    make_crops(folder, TEXTS, size=SIZE)
    return sorted(folder.glob("*.png"))


def same(a, b):
    assert a.text == b.text
    assert a.confidence == pytest.approx(b.confidence, rel=1e-4)
    assert a.char_confidences == pytest.approx(b.char_confidences, rel=1e-4)


def test_a_path_an_rgb_array_and_png_bytes_read_the_same(reader, crops):
    by_path = reader.read(crops[0])
    assert len(by_path.char_confidences) == len(by_path.text)
    assert 0 < by_path.confidence <= 1
    same(reader.read(read_rgb(crops[0])), by_path)
    same(reader.read(crops[0].read_bytes()), by_path)
    same(reader.read(str(crops[0])), by_path)
    # BGR by mistake is a different image: the reader really takes RGB
    assert reader.read(cv2.imread(str(crops[1]))).confidence != pytest.approx(
        reader.read(crops[1]).confidence, rel=1e-4
    )


def test_read_batch_keeps_order_and_equals_single_reads(reader, crops):
    items = [crops[2], read_rgb(crops[0]), crops[1], crops[3], crops[0]]
    batch = reader.read_batch(items, batch_size=2)
    assert len(batch) == 5
    for item, r in zip(items, batch):
        same(r, reader.read(item))
    # different images give different confidences (the reader does not mix them up)
    assert len({round(r.confidence, 6) for r in batch[:4]}) == 4


def test_read_batch_shows_progress_as_a_bar_or_through_a_callback(reader, crops, capsys):
    capsys.readouterr()
    plain = reader.read_batch(crops, batch_size=3)
    assert capsys.readouterr().err == ""  # no bar unless asked
    with_bar = reader.read_batch(crops, batch_size=3, progress=True)
    err = capsys.readouterr().err
    assert "reading" in err and f"{len(crops)}/{len(crops)}" in err  # tqdm's bar, on stderr outside notebooks
    seen = []
    reader.read_batch(iter(crops), batch_size=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, None) for i in range(1, len(crops) + 1)]  # a generator has no length
    assert [r.text for r in with_bar] == [r.text for r in plain]


def test_any_size_is_fitted_like_training_crops(reader, crops):
    big = cv2.resize(read_rgb(crops[1]), (300, 170), interpolation=cv2.INTER_CUBIC)
    prepared = reader.prepare(big)
    assert prepared.shape == (*SIZE, 3) and np.array_equal(prepared, fit(big, SIZE, False))
    same(reader.read(big), reader.read(fit(big, SIZE, False)))
    grey = cv2.cvtColor(read_rgb(crops[1]), cv2.COLOR_RGB2GRAY)
    same(reader.read(grey), reader.read(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)))


def test_keep_aspect_models_pad_like_crop_does(tmp_path, crops):
    from plateocr import PlateReader

    model = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, keep_aspect=True).path
    square = np.random.default_rng(0).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    with PlateReader(model) as r:
        assert r.keep_aspect
        assert np.array_equal(r.prepare(square), fit(square, SIZE, keep_aspect=True))


def test_attention_masks_come_per_character(reader, crops):
    r = reader.read(crops[0], attention=True)
    assert r.attention.shape[0] == len(r.text)
    assert np.allclose(r.attention.reshape(len(r.text), -1).sum(axis=1), 1, atol=1e-4)


def test_unreadable_images_are_clear_errors(reader, crops, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(PlateOCRError, match="broken.png: not a readable image"):
        reader.read_batch([crops[0], broken])
    with pytest.raises(PlateOCRError, match="missing.png: image not found"):
        reader.read(tmp_path / "missing.png")
    with pytest.raises(PlateOCRError, match="uint8"):
        reader.read(np.zeros((10, 10, 3), np.float32))
    # read_many goes on past a bad one
    results = list(reader.read_many(reader.loaders([crops[0], broken, crops[1]]), batch_size=2))
    assert [type(x).__name__ for _, x in results] == ["Reading", "PlateOCRError", "Reading"]
    assert results[1][0] is None and results[0][0].shape == (*SIZE, 3)


def test_missing_model_or_checkpoint(tmp_path, stretch_model):
    from plateocr import PlateReader

    with pytest.raises(PlateOCRError, match="model directory not found"):
        PlateReader(tmp_path / "nothing")
    with pytest.raises(PlateOCRError, match="checkpoint not found"):
        PlateReader(stretch_model, checkpoint=str(tmp_path / "ckpt-9"))


def test_the_cached_graph_reads_like_the_built_one(tmp_path, crops, monkeypatch):
    """The tensorflow backend's MetaGraph cache (the LiteRT one: tests/test_litert.py)."""
    from plateocr import PlateReader
    from plateocr.inference import graph_cache
    from plateocr.inference.graph_cache import cache_key, cache_path

    monkeypatch.setattr(graph_cache, "user_cache_dir", lambda: tmp_path / "cache")
    graphs = tmp_path / "cache" / "graphs"
    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=5)
    before = sorted(md.path.rglob("*"))
    with PlateReader(md.path, cache_graph=False, backend="tensorflow") as built:
        expected = built.read_batch(crops)
    assert not graphs.exists()
    with PlateReader(md.path, backend="tensorflow") as first:  # builds and writes the cache
        same_all = first.read_batch(crops)
    cached = list(graphs.glob("inference-*.meta"))
    assert cached == [cache_path(md.config)] and cached[0].name == f"inference-{cache_key(md.config)}.meta"
    assert sorted(md.path.rglob("*")) == before  # nothing written into the model folder
    with PlateReader(md.path, backend="tensorflow") as second:  # imports it
        again = second.read_batch(crops)
    for a, b, c in zip(expected, same_all, again):
        same(a, b)
        same(a, c)
    cached[0].write_bytes(b"truncated")  # a broken cache is rebuilt, not fatal
    with PlateReader(md.path, backend="tensorflow") as third:
        same(third.read(crops[0]), expected[0])
    assert cached[0].stat().st_size > 1000
    assert cache_key(md.config.replace(lstm_units=16)) != cache_key(md.config)


def test_the_graph_cache_keeps_the_most_recently_used(tmp_path):
    import os

    from plateocr.inference.graph_cache import _prune

    for i in range(5):
        (tmp_path / f"inference-{i}.meta").write_bytes(b"x")
        os.utime(tmp_path / f"inference-{i}.meta", (1000 + i, 1000 + i))
    os.utime(tmp_path / "inference-0.meta", (2000, 2000))  # the oldest file, read again lately
    _prune(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inference-0.meta", "inference-3.meta", "inference-4.meta"]


@pytest.mark.parametrize(
    "platform, env, expected",
    [
        ("linux", {"XDG_CACHE_HOME": "/xdg"}, "/xdg/plateocr"),
        ("linux", {"XDG_CACHE_HOME": "relative/ignored"}, "HOME/.cache/plateocr"),
        ("linux", {}, "HOME/.cache/plateocr"),
        ("darwin", {"XDG_CACHE_HOME": "/xdg"}, "HOME/Library/Caches/plateocr"),
        ("win32", {"LOCALAPPDATA": "/appdata"}, "/appdata/plateocr/Cache"),
    ],
)
def test_the_user_cache_dir_follows_the_platform(platform, env, expected, monkeypatch, tmp_path):
    from plateocr.user_cache import user_cache_dir

    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert user_cache_dir() == Path(expected.replace("HOME", str(tmp_path)))
