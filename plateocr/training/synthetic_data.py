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
from plateocr.defaults import BASE_ALPHABET, CROP_SIZE, KEEP_ASPECT

DEFAULT_SHARDS = 4
# Rendered plates are 5 to 8 characters long, mostly 6 or 7 (a few region formats reach 10):
# records padded to 6 still hold about 40% of them, to 7 about 85%.
REHEARSAL_MIN_LENGTH = 6


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


def synthetic_examples(
    charset: Charset,
    max_length: int,
    *,
    seed: int = 0,
    size: tuple[int, int] = CROP_SIZE,
    keep_aspect: bool = KEEP_ASPECT,
    augment: bool = False,
    shards: int = DEFAULT_SHARDS,
    start: int = 0,
):
    """An endless stream of single fresh synthetic crops: {"images", "labels", "texts"}.

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
            from plateocr.training.data import augment_image

            image = augment_image(image)
        return {"images": image, "labels": labels, "texts": text}

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE if augment else None)


def synthetic_train_dataset(charset: Charset, max_length: int, batch_size: int, **kwargs):
    """Full batches of synthetic_examples (same keyword arguments)."""
    from plateocr.training.data import batches

    return batches(synthetic_examples(charset, max_length, **kwargs), batch_size)


def rehearsal_problem(charset: Charset, spec) -> str | None:
    """Why synthetic crops cannot be mixed into training on `spec`'s records (None if they can):
    their labels need the base alphabet and room for most rendered plates (those longer than the
    records' max length are left out), and one view per image."""
    missing = [c for c in BASE_ALPHABET if charset.unknown(c)]
    if missing:
        return f"the charset lacks {''.join(missing)}"
    if spec.max_sequence_length < REHEARSAL_MIN_LENGTH:
        return f"the records' max length {spec.max_sequence_length} is under {REHEARSAL_MIN_LENGTH}"
    if spec.num_of_views != 1:
        return f"the records have {spec.num_of_views} views per image"
    return None


def with_synthetic(examples, charset: Charset, spec, share: float, *, seed: int = 0, shards: int = 2):
    """`examples` (a stream of real ones) with fresh synthetic crops mixed in at random, `share`
    of the stream, rendered at the records' size and aspect handling.

    Rehearsal: fine-tuning on a few dozen plates can forget what the base model learnt from
    many, and synthetic plates in every batch keep reminding it (fine-tuning's default share,
    training.options.FINE_TUNE_SYNTHETIC_SHARE, says what it gained on held-out plates).
    """
    from plateocr.model.compat import tf

    synthetic = synthetic_examples(
        charset,
        spec.max_sequence_length,
        seed=seed,
        size=(spec.height, spec.width),
        keep_aspect=spec.keep_aspect,
        shards=shards,
    )
    return tf.data.Dataset.sample_from_datasets([examples, synthetic], [1.0 - share, share], seed=seed)
