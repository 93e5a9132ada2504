"""tf.data input: parsing FSNS shards, augmentation, bounded training stream, exact eval pass."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fsns_tf import write_tfrecord_file
from plateocr.charset import Charset
from plateocr.errors import PlateOCRError
from plateocr.fsns import fsns_example
from plateocr.spec import DatasetSpec, SplitSpec


def plate_image(text: str, size=(32, 96), seed: int = 0) -> np.ndarray:
    """A white plate with black `text`, slightly different per seed (RGB uint8)."""
    h, w = size
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 235, np.uint8)
    img += rng.integers(0, 20, img.shape, dtype=np.uint8)
    cv2.putText(img, text, (3, int(h * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, h / 40, (0, 0, 0), 2, cv2.LINE_AA)
    return img


def write_records(
    folder: Path,
    splits: dict[str, list],
    size=(32, 96),
    max_len: int = 6,
    shards: int = 2,
    charset: Charset | None = None,
) -> tuple[DatasetSpec, Charset]:
    """A records dir as `plateocr tfrecords` writes it: shards, dataset.json, charset.txt.

    splits: name -> texts; an item may be (text drawn, label) to label an image wrongly.
    Example i of a split is drawn with seed i (same text and index: same image).
    """
    folder.mkdir(parents=True, exist_ok=True)
    splits = {k: [(t, t) if isinstance(t, str) else tuple(t) for t in v] for k, v in splits.items()}
    all_texts = [label for items in splits.values() for _, label in items]
    charset = charset or Charset.from_texts(all_texts)
    specs = {}
    for split, items in splits.items():
        records = []
        for i, (drawn, text) in enumerate(items):
            ok, png = cv2.imencode(".png", cv2.cvtColor(plate_image(drawn, size, seed=i), cv2.COLOR_RGB2BGR))
            assert ok
            ids = charset.encode(text)
            records.append(fsns_example(png.tobytes(), size[1], 1, charset.pad(ids, max_len), ids, text))
        n = min(shards, max(1, len(records)))
        for s in range(n):
            write_tfrecord_file(folder / f"{split}-{s:05d}-of-{n:05d}.tfrecord", records[s::n])
        specs[split] = SplitSpec(pattern=f"{split}-*-of-*.tfrecord", size=len(items))
    charset.write(folder / "charset.txt")
    spec = DatasetSpec(
        splits=specs,
        charset_file="charset.txt",
        image_shape=(size[0], size[1], 3),
        num_of_views=1,
        max_sequence_length=max_len,
        null_code=charset.null_code,
        num_classes=charset.num_classes,
    )
    spec.write(folder / "dataset.json")
    return spec, charset


TEXTS = ["AB12", "CD345", "EF6", "GH78Z", "K9", "LMN0P", "Q1R"]


def _eval_batches(folder, spec, batch_size, split="train"):
    from plateocr.training.data import eval_dataset

    ds = eval_dataset(folder, spec, batch_size, split=split)
    return [{k: v.numpy() for k, v in b.items()} for b in ds]


def test_eval_dataset_reads_every_example_once_in_order(tmp_path):
    spec, charset = write_records(tmp_path, {"train": TEXTS}, shards=1)
    batches = _eval_batches(tmp_path, spec, batch_size=3)
    assert [len(b["images"]) for b in batches] == [3, 3, 1]
    texts = [t.decode() for b in batches for t in b["texts"]]
    assert texts == TEXTS
    labels = np.concatenate([b["labels"] for b in batches])
    assert labels.dtype == np.int32 and labels.shape == (len(TEXTS), 6)
    assert [charset.decode(row) for row in labels] == TEXTS
    images = np.concatenate([b["images"] for b in batches])
    assert images.dtype == np.uint8 and images.shape == (len(TEXTS), 32, 96, 3)
    np.testing.assert_array_equal(images[1], plate_image(TEXTS[1], seed=1))


def test_eval_dataset_covers_all_shards(tmp_path):
    spec, _ = write_records(tmp_path, {"test": TEXTS}, shards=3)
    texts = [t.decode() for b in _eval_batches(tmp_path, spec, 4, split="test") for t in b["texts"]]
    assert sorted(texts) == sorted(TEXTS)


def test_train_dataset_is_endless_shuffled_full_batches(tmp_path):
    from plateocr.training.data import train_dataset

    spec, _ = write_records(tmp_path, {"train": TEXTS})
    ds = train_dataset(tmp_path, spec, batch_size=5, augment=False, seed=1)
    seen = []
    for b in ds.take(7):  # 35 examples: several passes over 7
        assert b["images"].shape == (5, 32, 96, 3)
        seen += [t.decode() for t in b["texts"].numpy()]
    assert set(seen) == set(TEXTS)
    # each pass is a permutation, so counts stay balanced
    counts = [seen.count(t) for t in TEXTS]
    assert max(counts) - min(counts) <= 2
    assert seen[:7] != TEXTS  # shuffled (seeded, so this is stable)


def test_augmentation_keeps_shape_and_changes_pixels(tmp_path):
    from plateocr.model.compat import tf
    from plateocr.training.data import augment_image

    tf.random.set_seed(3)
    img = plate_image("AB123", size=(32, 96))
    outs = [augment_image(tf.constant(img)).numpy() for _ in range(6)]
    for out in outs:
        assert out.shape == img.shape and out.dtype == np.uint8
    diffs = [np.abs(o.astype(int) - img.astype(int)).mean() for o in outs]
    assert all(d > 0.5 for d in diffs)  # every call alters the image
    assert len({o.tobytes() for o in outs}) == len(outs)  # and differently each time
    # still the same plate: the mean image stays close to the original (no wild geometry)
    corr = np.corrcoef(np.mean(outs, axis=0).ravel(), img.astype(float).ravel())[0, 1]
    assert corr > 0.5


def test_augmentation_treats_views_separately():
    from plateocr.model.compat import tf
    from plateocr.training.data import augment_image

    tf.random.set_seed(0)
    left = np.zeros((16, 32, 3), np.uint8)
    right = np.full((16, 32, 3), 255, np.uint8)
    out = augment_image(tf.constant(np.concatenate([left, right], axis=1)), num_of_views=2).numpy()
    assert out.shape == (16, 64, 3)
    # a crop within each view never mixes the black view into the white one
    assert out[:, 32:].min() > out[:, :32].max()


def test_missing_split_and_missing_shards_are_clear_errors(tmp_path):
    from plateocr.training.data import split_files

    spec, _ = write_records(tmp_path, {"train": TEXTS})
    with pytest.raises(PlateOCRError, match="no split 'test'"):
        split_files(tmp_path, spec, "test")
    for f in tmp_path.glob("train-*.tfrecord"):
        f.unlink()
    with pytest.raises(PlateOCRError, match="no shard files"):
        split_files(tmp_path, spec, "train")


def test_empty_split_is_a_clear_error(tmp_path):
    from plateocr.training.data import split_files

    spec, _ = write_records(tmp_path, {"train": TEXTS, "test": []})
    with pytest.raises(PlateOCRError, match="no examples"):
        split_files(tmp_path, spec, "test")


def test_read_split_names_a_record_that_is_not_an_fsns_example(tmp_path):
    """eval's reader (no TensorFlow) refuses, naming shard and record, a record that is no
    Example (an image's bytes) or whose features are of another kind (the image as ints)."""
    from plateocr.fsns import encode_example
    from plateocr.training.data import read_split

    spec, _ = write_records(tmp_path, {"test": TEXTS[:2]}, shards=1)
    shard = tmp_path / "test-00000-of-00001.tfrecord"
    assert [e.text for e in read_split(tmp_path, spec, "test")] == TEXTS[:2]
    ok, png = cv2.imencode(".png", plate_image("AB12"))
    ids = [1] * spec.max_sequence_length
    wrong = [
        (png.tobytes(), "not an FSNS example"),
        (encode_example({"image/encoded": [7], "image/class": ids}), "image/encoded is not a list of bytes"),
        (encode_example({"image/encoded": [b"x"], "image/class": [b"1"] * len(ids)}), "image/class is not"),
        (encode_example({"image/encoded": [b"x"], "image/class": ids, "image/text": [1.5]}), "image/text is not"),
    ]
    for record, why in wrong:
        write_tfrecord_file(shard, [record])
        with pytest.raises(PlateOCRError, match=why) as e:
            list(read_split(tmp_path, spec, "test"))
        assert str(e.value).startswith(f"{shard} record 1: not an FSNS example (")
