"""Test helpers: write TFRecord files with plateocr's framing, and read FSNS shards back with real
TensorFlow (what training does), never with our own code."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def write_tfrecord_file(path, records) -> None:
    """A TFRecord file of these unframed records, framed as `plateocr tfrecords` frames them."""
    from plateocr.fsns import frame_record

    Path(path).write_bytes(b"".join(frame_record(r) for r in records))


def fsns_features(max_length: int):
    """The FSNS feature spec of the attention OCR reference: every key, fixed lengths."""
    import tensorflow as tf

    return {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/format": tf.io.FixedLenFeature([], tf.string),
        "image/width": tf.io.FixedLenFeature([1], tf.int64),
        "image/orig_width": tf.io.FixedLenFeature([1], tf.int64),
        "image/class": tf.io.FixedLenFeature([max_length], tf.int64),
        "image/unpadded_class": tf.io.VarLenFeature(tf.int64),
        "image/text": tf.io.FixedLenFeature([], tf.string),
    }


def read_fsns(paths, max_length: int) -> list[dict]:
    """Every example of the shards, parsed: png bytes, RGB image, ids, text, widths, format."""
    import tensorflow as tf

    spec = fsns_features(max_length)
    out = []
    for path in paths:
        for raw in tf.data.TFRecordDataset(str(Path(path))):
            ex = tf.io.parse_single_example(raw, spec)
            image = tf.io.decode_png(ex["image/encoded"], channels=3).numpy()
            out.append(
                {
                    "png": ex["image/encoded"].numpy(),
                    "image": image,
                    "format": ex["image/format"].numpy(),
                    "width": int(ex["image/width"].numpy()[0]),
                    "orig_width": int(ex["image/orig_width"].numpy()[0]),
                    "class": [int(i) for i in ex["image/class"].numpy()],
                    "unpadded": [int(i) for i in tf.sparse.to_dense(ex["image/unpadded_class"]).numpy()],
                    "text": ex["image/text"].numpy().decode("utf-8"),
                }
            )
    return out
