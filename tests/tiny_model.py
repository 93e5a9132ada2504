"""A model directory with random weights, for tests of the plumbing around a trained model.

Agreement tests (predict vs eval, SavedModel vs predict) hold for any weights, so they need no
training: build the tiny graph once, initialise it with a fixed seed and save a checkpoint.

    from tiny_model import random_model_dir
    md = random_model_dir(tmp_path / "model", texts=["AB12", "CD345"], size=(32, 96))
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from plateocr.charset import Charset
from plateocr.spec import DatasetSpec, SplitSpec

# The smallest tower that still reads: stops after the stem; a small LSTM.
TINY = {"final_endpoint": "MaxPool_5a_3x3", "lstm_units": 32, "batch_norm_decay": 0.9}


def random_model_dir(
    folder: str | Path,
    texts: Sequence[str] = ("AB12", "CD345", "EF6"),
    size: tuple[int, int] = (32, 96),
    max_len: int = 6,
    keep_aspect: bool = False,
    seed: int = 0,
    charset: Charset | None = None,
):
    """A model directory (config, charset, dataset spec, one checkpoint) with random weights."""
    from plateocr.model.compat import tf, tf1
    from plateocr.model.config import ModelConfig
    from plateocr.model.modeldir import ModelDir
    from plateocr.model.network import build_model

    charset = charset or Charset.from_texts(texts)
    spec = DatasetSpec(
        splits={"train": SplitSpec("train-*", 0)},
        charset_file="charset.txt",
        image_shape=(size[0], size[1], 3),
        num_of_views=1,
        max_sequence_length=max_len,
        null_code=charset.null_code,
        num_classes=charset.num_classes,
        keep_aspect=keep_aspect,
    )
    config = ModelConfig.from_spec(spec, **TINY)
    md = ModelDir.create(folder, spec, charset, config)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(seed)
        images = tf1.placeholder(tf.uint8, [None, size[0], size[1], 3])
        build_model(images, config, is_training=False)
        saver = tf1.train.Saver(save_relative_paths=True)
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            saver.save(session, md.checkpoint_prefix, global_step=1)
    return md


# A detector small enough to build in a second or two.
TINY_DETECTOR = {"widths": (8, 8, 16, 16, 16), "head_width": 8}


def random_detector_dir(folder: str | Path, seed: int = 0, spread: float = 100.0):
    """A detector directory (detector.json, one checkpoint) with random weights whose heads are
    spread so that it finds something: the heatmap's last weights times `spread` (distinct peaks
    instead of the prior's flat 0.01), boxes about 80x20 input pixels, of varied sizes."""
    from plateocr.detection.config import DetectorConfig
    from plateocr.detection.detector_dir import DetectorDir
    from plateocr.detection.geometry import INPUT_HEIGHT, INPUT_WIDTH
    from plateocr.detection.network import build_detector
    from plateocr.model.compat import tf, tf1

    config = DetectorConfig(**TINY_DETECTOR)
    dd = DetectorDir.create(folder, config)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(seed)
        build_detector(tf1.placeholder(tf.uint8, [None, INPUT_HEIGHT, INPUT_WIDTH, 3]), config, is_training=False)
        spread_heads = []
        for v in tf1.global_variables():
            if v.op.name.endswith("heatmap_out/weights"):
                spread_heads.append(v.assign(v * spread))
            elif v.op.name.endswith("size_out/weights"):
                spread_heads.append(v.assign(v * 10))
            elif v.op.name.endswith("size_out/biases"):
                spread_heads.append(v.assign([3.0, 1.6]))  # log(80 / 4), log(20 / 4)
        saver = tf1.train.Saver(save_relative_paths=True)
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            session.run(spread_heads)
            saver.save(session, dd.checkpoint_prefix, global_step=1)
    return dd
