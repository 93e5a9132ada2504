"""The synthetic tf.data input: batches shaped like data.train_dataset's, labels that decode to
the rendered texts, the same stream whatever the number of generator shards; real records with
synthetic crops mixed in (rehearsal)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from plateocr.charset import Charset
from plateocr.training.synthetic_data import encoded_crops, rehearsal_problem, synthetic_train_dataset, with_synthetic
from plateocr.synth.crops import iter_crops
from plateocr.defaults import CROP_SIZE


def _batches(ds, n):
    return [{k: v.numpy() for k, v in b.items()} for b in itertools.islice(ds, n)]


def test_batches_match_the_records_input_and_the_crop_stream():
    charset = Charset.from_texts([])
    ds = synthetic_train_dataset(charset, 10, 3, seed=5, shards=2)
    assert set(ds.element_spec) == {"images", "labels", "texts"}
    assert ds.element_spec["images"].shape.as_list() == [3, *CROP_SIZE, 3]
    assert ds.element_spec["labels"].shape.as_list() == [3, 10]
    b1, b2 = _batches(ds, 2)
    expected = list(itertools.islice(iter_crops(5), 6))
    images = np.concatenate([b1["images"], b2["images"]])
    labels = np.concatenate([b1["labels"], b2["labels"]])
    texts = [t.decode() for t in np.concatenate([b1["texts"], b2["texts"]])]
    assert images.dtype == np.uint8 and labels.dtype == np.int32
    assert texts == [t for _, t in expected]
    assert [charset.decode(row) for row in labels] == texts
    for row, text in zip(labels, texts):  # padded with the null code after the text
        assert list(row[len(text) :]) == [charset.null_code] * (10 - len(text))
    assert all(np.array_equal(a, e) for a, (e, _) in zip(images, expected))


def test_shard_count_does_not_change_the_stream():
    charset = Charset.from_texts([])
    one = _batches(synthetic_train_dataset(charset, 10, 4, seed=9, shards=1, start=3), 1)[0]
    three = _batches(synthetic_train_dataset(charset, 10, 4, seed=9, shards=3, start=3), 1)[0]
    assert list(one["texts"]) == list(three["texts"])
    assert np.array_equal(one["images"], three["images"])
    assert [t for _, t in itertools.islice(iter_crops(9), 3, 7)] == [t.decode() for t in one["texts"]]


def test_labels_that_do_not_fit_are_left_out():
    no_xyz = Charset.from_texts([], base="0123456789ABCDEFGHIJKLMNOPQRSTUVW")
    kept = list(itertools.islice(encoded_crops(no_xyz, 6, seed=1), 4))
    stream = [t for _, t in itertools.islice(iter_crops(1), 200)]
    fits = [t for t in stream if len(t) <= 6 and not set(t) & set("XYZ")]
    assert len(fits) < len(stream)  # the test leaves something out
    assert [t.decode() for _, _, t in kept] == fits[:4]
    for _, ids, text in kept:
        assert no_xyz.decode(ids) == text.decode() and len(ids) == 6


@pytest.mark.slow
def test_augmented_batches_keep_shape_and_labels():
    charset = Charset.from_texts([])
    plain = _batches(synthetic_train_dataset(charset, 10, 2, seed=2), 1)[0]
    aug = _batches(synthetic_train_dataset(charset, 10, 2, seed=2, augment=True), 1)[0]
    assert aug["images"].shape == plain["images"].shape and aug["images"].dtype == np.uint8
    assert np.array_equal(aug["labels"], plain["labels"])
    assert not np.array_equal(aug["images"], plain["images"])


def test_real_records_get_the_given_share_of_synthetic_crops_at_their_size(tmp_path):
    from test_data import TEXTS, write_records

    from plateocr.training.data import train_examples

    spec, charset = write_records(tmp_path, {"train": TEXTS}, size=(24, 80), max_len=10)
    assert rehearsal_problem(charset, spec) is None
    mixed = with_synthetic(train_examples(tmp_path, spec, augment=False, seed=1), charset, spec, 0.3, seed=4)
    examples = [{k: v.numpy() for k, v in e.items()} for e in itertools.islice(mixed, 300)]
    synthetic = [e for e in examples if e["texts"].decode() not in TEXTS]
    assert 60 <= len(synthetic) <= 120  # 30% of 300 is 90; the draw is random
    for e in synthetic:
        assert e["images"].shape == (24, 80, 3) and e["images"].dtype == np.uint8
        assert charset.decode(e["labels"]) == e["texts"].decode()
    assert len({e["texts"] for e in synthetic}) > 0.9 * len(synthetic)  # fresh crops, not a few repeated
    assert {e["texts"].decode() for e in examples} >= set(TEXTS)  # every real plate still comes


def test_rehearsal_needs_the_base_alphabet_room_for_a_plate_and_one_view(tmp_path):
    from test_data import write_records

    spec, charset = write_records(tmp_path / "ok", {"train": ["AB123"]}, max_len=10)
    assert rehearsal_problem(charset, spec) is None
    digits = Charset.from_texts(["123"], base="0123456789")
    assert rehearsal_problem(digits, spec) == "the charset lacks ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    spec, charset = write_records(tmp_path / "six", {"train": ["AB123"]}, max_len=6)
    assert rehearsal_problem(charset, spec) is None  # renders longer than 6 are left out
    spec, charset = write_records(tmp_path / "short", {"train": ["AB123"]}, max_len=5)
    assert rehearsal_problem(charset, spec) == "the records' max length 5 is under 6"
