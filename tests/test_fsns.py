"""The hand-written Example/TFRecord bytes, checked against real TensorFlow."""

import cv2
import numpy as np
import pytest

import tensorflow as tf
from fsns_tf import read_fsns, write_tfrecord_file
from plateocr.fsns import encode_example, fsns_example, masked_crc32c


def _tf_example(features):
    def feature(v):
        if isinstance(v[0] if v else 0, int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=v))
        if isinstance(v[0], bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=v))
        return tf.train.Feature(float_list=tf.train.FloatList(value=v))

    return tf.train.Example(features=tf.train.Features(feature={k: feature(v) for k, v in features.items()}))


def test_example_parses_to_what_tensorflow_builds():
    features = {
        "bytes": [b"ab", b"", bytes(range(256)) * 3],
        "ints": [0, 1, 127, 128, 300, -1, -(2**63), 2**63 - 1],
        "floats": [1.5, -2.25, 0.0],
        "empty": [],
        "unicode/ключ": [b"x" * 200],  # a key and a value long enough for 2-byte lengths
    }
    parsed = tf.train.Example.FromString(encode_example(features))
    assert parsed == _tf_example(features)


def test_scalar_feature_values_are_refused():
    with pytest.raises(TypeError):
        encode_example({"x": 3})
    with pytest.raises(TypeError):
        encode_example({"x": [1, b"a"]})


def test_masked_crc_matches_the_known_crc32c_vector():
    # crc32c("123456789") = 0xE3069283 (RFC 3720); masked as TFRecord does
    crc = 0xE3069283
    expected = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert masked_crc32c(b"123456789") == expected


def test_tfrecord_file_is_byte_identical_to_tensorflows(tmp_path):
    records = [b"", b"one", bytes(range(256)) * 40]
    ours = tmp_path / "ours.tfrecord"
    write_tfrecord_file(ours, records)
    theirs = tmp_path / "theirs.tfrecord"
    with tf.io.TFRecordWriter(str(theirs)) as w:
        for r in records:
            w.write(r)
    assert ours.read_bytes() == theirs.read_bytes()
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(ours))] == records


def test_fsns_example_parses_with_the_fsns_feature_spec(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(20, 60, 3), dtype=np.uint8)  # BGR
    png = cv2.imencode(".png", img)[1].tobytes()
    text = "AB12Ö"
    write_tfrecord_file(tmp_path / "s.tfrecord", [fsns_example(png, 60, 1, [3, 4, 5, 0, 0, 0], [3, 4, 5], text)])
    (ex,) = read_fsns([tmp_path / "s.tfrecord"], max_length=6)
    assert ex["png"] == png
    assert np.array_equal(ex["image"], img[:, :, ::-1])
    assert ex["format"] == b"png"
    assert (ex["width"], ex["orig_width"]) == (60, 60)
    assert ex["class"] == [3, 4, 5, 0, 0, 0]
    assert ex["unpadded"] == [3, 4, 5]
    assert ex["text"] == text


def test_orig_width_is_the_width_of_one_view():
    parsed = tf.train.Example.FromString(fsns_example(b"png", 600, 4, [1], [1], "A"))
    assert parsed.features.feature["image/width"].int64_list.value == [600]
    assert parsed.features.feature["image/orig_width"].int64_list.value == [150]


def test_tfrecord_damage_finds_a_file_cut_short_or_corrupted(tmp_path):
    from plateocr.fsns import tfrecord_damage

    path = tmp_path / "a.tfrecord"
    write_tfrecord_file(path, [b"first record", b"second record" * 50, b"third"])
    assert tfrecord_damage(path) is None
    whole = path.read_bytes()
    path.write_bytes(whole[:-10])
    assert tfrecord_damage(path) == "cut short in record 3, at byte 694"
    path.write_bytes(whole[:40] + b"X" + whole[41:])
    assert tfrecord_damage(path) == "CRC mismatch in record 2, at byte 28"


def test_examples_and_records_read_back_without_tensorflow_as_tensorflow_wrote_them(tmp_path):
    """decode_example parses what TensorFlow serializes (and encode_example writes), packed
    and unpacked lists alike; read_tfrecords gives what TFRecordWriter framed, in order."""
    from plateocr.fsns import _field, _varint, decode_example, read_tfrecords

    features = {
        "bytes": [b"ab", b"", bytes(range(256)) * 3],
        "ints": [0, 1, 127, 128, 300, -1, -(2**63), 2**63 - 1],
        "floats": [1.5, -2.25, 0.0],
        "empty": [],
        "unicode/ключ": [b"x" * 200],
    }
    serialized = _tf_example(features).SerializeToString()
    assert decode_example(serialized) == {**features, "empty": []}
    assert decode_example(encode_example(features)) == decode_example(serialized)
    # int64s and floats unpacked, one field each (protobuf parsers accept both encodings)
    unpacked_ints = b"".join(_varint(1 << 3) + _varint(v if v >= 0 else v + (1 << 64)) for v in (5, -2))
    unpacked_floats = b"".join(_varint((1 << 3) | 5) + np.float32(v).tobytes() for v in (0.5, -4.0))
    entry = _field(1, _field(1, b"n") + _field(2, _field(3, unpacked_ints)))
    entry += _field(1, _field(1, b"f") + _field(2, _field(2, unpacked_floats)))
    example = _field(1, entry)
    assert tf.train.Example.FromString(example).features.feature["n"].int64_list.value == [5, -2]
    assert decode_example(example) == {"n": [5, -2], "f": [0.5, -4.0]}
    with pytest.raises(ValueError):
        decode_example(serialized[:-3])

    records = [b"", b"one", serialized]
    path = tmp_path / "theirs.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as w:
        for r in records:
            w.write(r)
    assert list(read_tfrecords(path)) == records


def test_bytes_that_are_not_an_example_are_a_value_error():
    """What a record that is no Example holds (an image, text, an Example's fields of another
    wire type) is a ValueError, never another exception, for read_split to name the record."""
    from plateocr.fsns import _field, _varint, decode_example

    ok, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    not_examples = [
        png.tobytes(),  # its varints and fixed-size fields parse as far as wire types go
        _varint(1 << 3) + _varint(5),  # features as a varint
        _field(1, _varint(1 << 3) + _varint(5)),  # a feature entry as a varint
        _field(1, _field(1, _varint(1 << 3) + _varint(5))),  # a feature's name as a varint
        _field(1, _field(1, _field(2, _field(1, _varint(1 << 3) + _varint(5))))),  # a bytes value as a varint
        _field(1, _field(1, _field(2, _field(3, _varint((1 << 3) | 1) + bytes(8))))),  # an int64 as fixed64
        _field(1, _field(1, _field(2, _field(2, _field(1, b"abc"))))),  # 3 bytes of packed floats
    ]
    for data in not_examples:
        with pytest.raises(ValueError):
            decode_example(data)
    # fields the format does not have are skipped, as protobuf skips unknown fields
    unknown = _varint((9 << 3) | 5) + bytes(4)
    assert decode_example(
        _field(1, _field(1, _field(1, b"n") + _field(2, unknown + _field(3, _field(1, _varint(7))))))
    ) == {"n": [7]}
