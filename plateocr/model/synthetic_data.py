"""tf.data input that streams fresh synthetic plate crops (plateocr.synth.crops), for pretraining.

The batches have the structure data.train_dataset yields: {"images": uint8 [B, H, W, 3],
"labels": int32 [B, L] ids padded with the null code, "texts": string [B]}, so the training
loop takes either. Crops are rendered by `shards` Python generators run in parallel by a
deterministic interleave; generator k renders crops k, k + shards, ..., so the stream is crop
`start`, `start` + 1, ... of iter_crops(seed) whatever `shards` is (OpenCV releases the GIL for
most of the work). Crops whose label does not fit (too long, characters outside the charset)
are left out.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from plateocr.charset import Charset
from plateocr.defaults import CROP_SIZE, KEEP_ASPECT

DEFAULT_SHARDS = 4


def encoded_crops(
    charset: Charset,
    max_length: int,
    seed: int,
    size: tuple[int, int] = CROP_SIZE,
    keep_aspect: bool = KEEP_ASPECT,
    start: int = 0,
    step: int = 1,
) -> Iterator[tuple[np.ndarray, np.ndarray, bytes]]:
    """(RGB uint8 crop, padded int32 ids, utf-8 text) of iter_crops(seed) from `start` by `step`,
    skipping crops whose label the charset or max_length cannot hold."""
    from plateocr.synth.crops import iter_crops

    for image, text in iter_crops(seed, size, keep_aspect, start=start, step=step):
        if len(text) > max_length or charset.unknown(text):
            continue
        ids = np.asarray(charset.pad(charset.encode(text), max_length), np.int32)
        yield image, ids, text.encode("utf-8")


def synthetic_train_dataset(
    charset: Charset,
    max_length: int,
    batch_size: int,
    *,
    seed: int = 0,
    size: tuple[int, int] = CROP_SIZE,
    keep_aspect: bool = KEEP_ASPECT,
    augment: bool = False,
    shards: int = DEFAULT_SHARDS,
    start: int = 0,
):
    """An endless stream of full batches of fresh synthetic crops: {"images", "labels", "texts"}.

    augment: also apply the reference's random crop and colour distortion (data.augment_image);
    the renderer already varies geometry and light, so it is off by default.
    start: index of the first crop (a resumed run can skip what it has seen).
    """
    from plateocr.model.compat import tf

    h, w = size
    signature = (
        tf.TensorSpec([h, w, 3], tf.uint8),
        tf.TensorSpec([max_length], tf.int32),
        tf.TensorSpec([], tf.string),
    )
    shards = max(1, int(shards))

    def shard(k):
        return tf.data.Dataset.from_generator(
            lambda k: encoded_crops(charset, max_length, seed, size, keep_aspect, start + int(k), shards),
            output_signature=signature,
            args=(k,),
        )

    ds = tf.data.Dataset.range(shards).interleave(
        shard, cycle_length=shards, block_length=1, num_parallel_calls=shards, deterministic=True
    )

    def prepare(image, labels, text):
        if augment:
            from plateocr.model.data import augment_image

            image = augment_image(image)
        return {"images": image, "labels": labels, "texts": text}

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE if augment else None)
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(2)
