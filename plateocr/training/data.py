"""tf.data input from the FSNS shards a DatasetSpec names, and the reference's augmentation.

Training input shuffles the small serialized records (not decoded images) in a bounded buffer,
so the first step starts at once and the buffer holds megabytes, not gigabytes; decoding and
augmentation run in parallel after the shuffle. Evaluation input reads every example of a
split exactly once, in file order, keeping the final partial batch: eval_dataset for training's
evaluation graph, read_split (no TensorFlow: plateocr.fsns) for `eval`, which reads through
PlateReader.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from plateocr.errors import PlateOCRError
from plateocr.formats import FORMATS_FILE, Formats
from plateocr.spec import DatasetSpec

# FSNS keys (the reference's format); `plateocr tfrecords` writes them all.
KEY_IMAGE = "image/encoded"
KEY_CLASS = "image/class"
KEY_TEXT = "image/text"

# The reference's augmentation: a random crop covering >= 80% of the image with an aspect
# ratio 0.8-1.2 times the image's own (the reference samples 0.8-1.2 absolute on square crops;
# on wide plates an absolute ratio near 1 cannot cover 80%, so it is taken relative here).
CROP_MIN_AREA = 0.8
CROP_ASPECT_RANGE = (0.8, 1.2)
BRIGHTNESS_DELTA = 32.0 / 255.0
SATURATION_RANGE = (0.5, 1.5)
HUE_DELTA = 0.2
CONTRAST_RANGE = (0.5, 1.5)

DEFAULT_SHUFFLE_BUFFER = 2048  # serialized records (~10-30 kB each): a few tens of MB at most


def split_files(records_dir: str | os.PathLike, spec: DatasetSpec, split: str) -> list[str]:
    """The shard files of `split`, sorted; a clear error if the split is unknown or has none."""
    records_dir = Path(records_dir)
    if split not in spec.splits:
        known = ", ".join(sorted(spec.splits)) or "none"
        raise PlateOCRError(f"{records_dir}: no split {split!r} in the dataset spec (splits: {known})")
    s = spec.splits[split]
    files = sorted(str(p) for p in records_dir.glob(s.pattern))
    if not files:
        raise PlateOCRError(f"{records_dir}: no shard files match {s.pattern!r} for split {split!r}")
    if s.size <= 0:
        raise PlateOCRError(f"{records_dir}: split {split!r} has no examples")
    return files


_WRITE_AGAIN = "write the records again (`plateocr tfrecords --force`)"


def check_split_records(records_dir: str | os.PathLike, spec: DatasetSpec, split: str) -> None:
    """Raise PlateOCRError naming the first shard of `split` that is cut short or corrupted
    (its TFRecord framing and CRCs, read without TensorFlow), before any reader meets it."""
    from plateocr.fsns import tfrecord_damage

    for shard in split_files(records_dir, spec, split):
        why = tfrecord_damage(shard)
        if why:
            raise PlateOCRError(f"{shard}: damaged records file ({why}); {_WRITE_AGAIN}")


def damaged_split_error(
    records_dir: str | os.PathLike, spec: DatasetSpec, split: str, error: Exception
) -> PlateOCRError:
    """The error to give when TensorFlow finds damaged records in `split` (a DataLossError):
    names the damaged shard, which TensorFlow's message does not."""
    try:
        check_split_records(records_dir, spec, split)
    except PlateOCRError as named:
        return named
    from plateocr.errors import tf_error_message

    return PlateOCRError(
        f"{records_dir}: damaged records in the {split} split ({tf_error_message(error)}); {_WRITE_AGAIN}"
    )


class SplitExample(NamedTuple):
    """One example of a split as read_split gives it: its image still encoded."""

    name: str  # "<shard> record <n>", for messages
    png: bytes
    labels: list[int]  # the padded class ids (spec.max_sequence_length of them)
    text: str


def read_split(records_dir: str | os.PathLike, spec: DatasetSpec, split: str) -> Iterator[SplitExample]:
    """Every example of `split` once, in file order, read without TensorFlow (plateocr.fsns);
    a PlateOCRError naming the shard for a damaged one or a record that is not an FSNS example."""
    from plateocr.fsns import TFRecordDamage, decode_example, read_tfrecords

    for shard in split_files(records_dir, spec, split):
        records = enumerate(read_tfrecords(shard), 1)
        while True:
            try:
                n, data = next(records)
            except StopIteration:
                break
            except TFRecordDamage as e:
                raise PlateOCRError(f"{shard}: damaged records file ({e}); {_WRITE_AGAIN}") from None
            try:
                features = decode_example(data)
                png, labels = features[KEY_IMAGE][0], features[KEY_CLASS]
                text = (features.get(KEY_TEXT) or [b""])[0]
                # a feature of another kind (ints where bytes belong...), as TensorFlow's parser refuses it
                for key, values, kind in (
                    (KEY_IMAGE, [png], bytes),
                    (KEY_CLASS, labels, int),
                    (KEY_TEXT, [text], bytes),
                ):
                    if not all(type(v) is kind for v in values):
                        raise ValueError(f"{key} is not a list of {kind.__name__}")
                text = text.decode("utf-8")
                if len(labels) != spec.max_sequence_length:
                    raise ValueError(f"{len(labels)} class ids, not {spec.max_sequence_length}")
            except (ValueError, KeyError, IndexError) as e:  # UnicodeDecodeError is a ValueError
                raise PlateOCRError(f"{shard} record {n}: not an FSNS example ({e}); {_WRITE_AGAIN}") from None
            yield SplitExample(f"{shard} record {n}", png, labels, text)


def decode_split_image(example: SplitExample, spec: DatasetSpec) -> np.ndarray:
    """The RGB uint8 image of an example read by read_split (PlateOCRError when it is not an
    image of the spec's size, as the training input refuses it)."""
    import cv2

    from plateocr.imaging import decode_image

    bgr = decode_image(example.png, example.name)
    if bgr.shape[:2] != (spec.height, spec.width):
        raise PlateOCRError(
            f"{example.name}: image {bgr.shape[1]}x{bgr.shape[0]}, the records' spec says "
            f"{spec.width}x{spec.height}; {_WRITE_AGAIN}"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def parse_example(serialized, spec: DatasetSpec):
    """One serialized tf.train.Example -> (image uint8 [H, W, 3], labels int32 [L], text string)."""
    from plateocr.model.compat import tf

    features = tf.io.parse_single_example(
        serialized,
        {
            KEY_IMAGE: tf.io.FixedLenFeature([], tf.string),
            KEY_CLASS: tf.io.FixedLenFeature([spec.max_sequence_length], tf.int64),
            KEY_TEXT: tf.io.FixedLenFeature([], tf.string, default_value=""),
        },
    )
    image = tf.io.decode_image(features[KEY_IMAGE], channels=3, expand_animations=False)
    image = tf.ensure_shape(image, [spec.height, spec.width, 3])
    labels = tf.cast(features[KEY_CLASS], tf.int32)
    return image, labels, features[KEY_TEXT]


def _random_crop_resize(image, height: int, width: int):
    """Random crop (>= CROP_MIN_AREA, relative aspect in CROP_ASPECT_RANGE), resized back by one
    of four interpolation methods chosen at random. image: float [h, w, 3]."""
    from plateocr.model.compat import tf

    area = tf.random.uniform([], CROP_MIN_AREA, 1.0)
    lo, hi = (math.log(r) for r in CROP_ASPECT_RANGE)
    ratio = tf.exp(tf.random.uniform([], lo, hi))
    ch = tf.minimum(height, tf.cast(tf.round(height * tf.sqrt(area / ratio)), tf.int32))
    cw = tf.minimum(width, tf.cast(tf.round(width * tf.sqrt(area * ratio)), tf.int32))
    oy = tf.random.uniform([], 0, height - ch + 1, dtype=tf.int32)
    ox = tf.random.uniform([], 0, width - cw + 1, dtype=tf.int32)
    crop = image[oy : oy + ch, ox : ox + cw]
    methods = [
        tf.image.ResizeMethod.BILINEAR,
        tf.image.ResizeMethod.NEAREST_NEIGHBOR,
        tf.image.ResizeMethod.BICUBIC,
        tf.image.ResizeMethod.AREA,
    ]
    which = tf.random.uniform([], 0, len(methods), dtype=tf.int32)
    resized = tf.switch_case(which, [lambda m=m: tf.image.resize(crop, [height, width], method=m) for m in methods])
    return tf.ensure_shape(resized, [height, width, 3])


def _distort_color(image):
    """Brightness, saturation, hue and contrast in one of four orders (as inception preprocessing
    does), then clipped to [0, 1]. image: float [h, w, 3] in [0, 1]."""
    from plateocr.model.compat import tf

    def brightness(x):
        return tf.image.random_brightness(x, BRIGHTNESS_DELTA)

    def saturation(x):
        return tf.image.random_saturation(x, *SATURATION_RANGE)

    def hue(x):
        return tf.image.random_hue(x, HUE_DELTA)

    def contrast(x):
        return tf.image.random_contrast(x, *CONTRAST_RANGE)

    orders = [
        (brightness, saturation, hue, contrast),
        (saturation, brightness, contrast, hue),
        (contrast, hue, brightness, saturation),
        (hue, saturation, contrast, brightness),
    ]

    def apply(fns):
        def run():
            x = image
            for fn in fns:
                x = fn(x)
            return x

        return run

    which = tf.random.uniform([], 0, len(orders), dtype=tf.int32)
    out = tf.switch_case(which, [apply(o) for o in orders])
    return tf.clip_by_value(tf.ensure_shape(out, image.shape), 0.0, 1.0)


def augment_image(image, num_of_views: int = 1):
    """The reference's augmentation, applied to each view separately. uint8 [H, W, 3] in and out."""
    from plateocr.model.compat import tf

    height, width = int(image.shape[0]), int(image.shape[1])
    x = tf.image.convert_image_dtype(image, tf.float32)
    view_w = width // num_of_views
    views = []
    for v in range(num_of_views):
        view = x[:, v * view_w : (v + 1) * view_w]
        view = _random_crop_resize(view, height, view_w)
        views.append(_distort_color(view))
    x = views[0] if num_of_views == 1 else tf.concat(views, axis=1)
    return tf.image.convert_image_dtype(x, tf.uint8, saturate=True)


def train_examples(
    records_dir: str | os.PathLike,
    spec: DatasetSpec,
    *,
    split: str = "train",
    augment: bool = True,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    seed: int | None = None,
):
    """An endless, shuffled stream of single examples: {"images", "labels", "texts"}."""
    from plateocr.model.compat import tf

    files = split_files(records_dir, spec, split)
    autotune = tf.data.AUTOTUNE
    ds = tf.data.Dataset.from_tensor_slices(files)
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)), num_parallel_calls=autotune)
    ds = ds.shuffle(max(1, min(shuffle_buffer, spec.splits[split].size)), seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat()

    def prepare(serialized):
        image, labels, text = parse_example(serialized, spec)
        if augment:
            image = augment_image(image, spec.num_of_views)
        return {"images": image, "labels": labels, "texts": text}

    return ds.map(prepare, num_parallel_calls=autotune)


def batches(examples, batch_size: int):
    """Full batches of an endless example stream, prefetched."""
    return examples.batch(batch_size, drop_remainder=True).prefetch(2)


def train_dataset(
    records_dir: str | os.PathLike,
    spec: DatasetSpec,
    batch_size: int,
    *,
    split: str = "train",
    augment: bool = True,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    seed: int | None = None,
):
    """An endless, shuffled stream of full batches: {"images", "labels", "texts"}."""
    examples = train_examples(records_dir, spec, split=split, augment=augment, shuffle_buffer=shuffle_buffer, seed=seed)
    return batches(examples, batch_size)


def eval_dataset(records_dir: str | os.PathLike, spec: DatasetSpec, batch_size: int, *, split: str = "test"):
    """Every example of `split` once, in file order, no augmentation, final partial batch kept."""
    from plateocr.model.compat import tf

    files = split_files(records_dir, spec, split)
    ds = tf.data.TFRecordDataset(files)

    def prepare(serialized):
        image, labels, text = parse_example(serialized, spec)
        return {"images": image, "labels": labels, "texts": text}

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=False).prefetch(2)


def split_texts(records_dir: str | os.PathLike, spec: DatasetSpec, split: str = "train") -> list[str]:
    """The label texts of `split`, in file order (no image is decoded)."""
    from plateocr.model.compat import tf

    def text(serialized):
        return tf.io.parse_single_example(serialized, {KEY_TEXT: tf.io.FixedLenFeature([], tf.string, "")})[KEY_TEXT]

    with tf.Graph().as_default():  # callers may be inside a v1 graph; this runs on its own
        ds = tf.data.TFRecordDataset(split_files(records_dir, spec, split)).map(text).batch(4096)
        batch = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
        texts: list[str] = []
        with tf.compat.v1.Session() as session:
            while True:
                try:
                    texts += [t.decode("utf-8") for t in session.run(batch)]
                except tf.errors.OutOfRangeError:
                    return texts


def learn_formats(md, records_dir, spec, message=None) -> Formats | None:
    """At train time: the formats of the records' train split into the model folder's
    formats.json, unless one is there (a resumed model keeps its file, which may be edited;
    --force starts a new model and learns them again). Returns what was learned, if anything."""
    path = md.path / FORMATS_FILE
    if path.exists():
        return None
    formats = Formats.learn(split_texts(records_dir, spec, "train"), records=str(records_dir), split="train")
    formats.write(path)
    if message:
        message(f"formats: {formats.describe()} learned from the train labels into {path}")
    return formats
