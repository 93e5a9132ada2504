"""Starting a model with another charset from a checkpoint keeps what it learnt per character."""

from __future__ import annotations

import numpy as np
import pytest

from plateocr.charset import Charset
from plateocr.model.charset_transfer import class_map, feature_map, transfer_value
from tiny_model import random_model_dir


def test_class_map_follows_characters_not_ids():
    old = Charset.from_texts(["AB12"], base="")  # <nul> 1 2 A B
    new = Charset(chars=(None, "B", "X", "1", "A"), null_code=0)
    assert class_map(old, new).tolist() == [0, old.id_of("B"), -1, old.id_of("1"), old.id_of("A")]


def test_every_old_feature_is_kept_while_there_is_room():
    classes = np.array([0, 3, -1, 1, -1, -1])  # new ids 0, 1, 3 are old 0, 3, 1; old 2 and 4 dropped
    assert feature_map(classes, 5).tolist() == [0, 3, 2, 1, 4, -1]
    assert feature_map(np.array([0, 2]), 4).tolist() == [0, 2]  # no room: old 1 and 3 go


def test_unrelated_variables_and_shape_clashes_are_left_alone():
    mapping = np.array([0, 2, -1])
    assert transfer_value("AttentionOcr_v1/conv/weights", np.ones((3,)), np.zeros((3,)), mapping) is None
    # attention depth differs (another feature map size): the input kernel cannot be rebuilt
    assert transfer_value("x/attention_decoder/kernel", np.ones((4 + 10, 4)), np.zeros((3 + 12, 3)), mapping) is None


def _logits(model_dir, images):
    from plateocr.model.compat import tf, tf1
    from plateocr.model.modeldir import ModelDir
    from plateocr.model.network import build_model

    md = ModelDir(model_dir)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.uint8, [None, *md.config.image_shape])
        ends = build_model(x, md.config, is_training=False)
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as session:
            saver.restore(session, md.resolve_checkpoint())
            return session.run([ends.chars_logit, ends.predicted_chars], {x: images}), md.charset


@pytest.mark.slow
def test_a_new_charset_reads_the_old_characters_exactly_as_before(tmp_path):
    """Model B (extra characters, another order) built from model A's checkpoint gives the same
    logits for every character A knows, and the same greedy reading."""
    from plateocr.model.charset_transfer import apply_charset_transfer, plan_charset_transfer
    from plateocr.model.compat import tf, tf1
    from plateocr.model.modeldir import ModelDir
    from plateocr.model.network import build_model

    old = Charset.from_texts(["AB12", "CD345"], base="")
    a = random_model_dir(tmp_path / "a", charset=old, seed=1)
    new = Charset(chars=(None, *"DCBA", "Z", *"54321", "a"), null_code=0)  # all of old's, and more
    b = random_model_dir(tmp_path / "b", charset=new, seed=2)  # same architecture, other classes
    mapping = class_map(a.charset, new)

    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.uint8, [None, *b.config.image_shape])
        build_model(x, b.config, is_training=False)
        variables = tf1.global_variables()
        plan = plan_charset_transfer(variables, a.resolve_checkpoint(), a.charset, new)
        same = [v for v in variables if v not in {p[0] for p in plan}]
        saver_same = tf1.train.Saver(same)
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            saver_same.restore(session, a.resolve_checkpoint())
            done, failed = apply_charset_transfer(session, plan, mapping)
            saver.save(session, ModelDir(tmp_path / "b").checkpoint_prefix, global_step=2)
    assert len(done) == 5 and not failed  # softmax w/b, input kernel/bias, LSTM kernel

    images = np.random.default_rng(0).integers(0, 256, (4, *b.config.image_shape), dtype=np.uint8)
    (logit_a, chars_a), _ = _logits(tmp_path / "a", images)
    (logit_b, chars_b), _ = _logits(tmp_path / "b", images)
    keep = mapping >= 0
    # Greedy decoding feeds back the previous reading, so a position is comparable while both
    # models have read the same known characters before it.
    compared = 0
    for i in range(len(images)):
        for t in range(chars_a.shape[1]):
            prefix_b = chars_b[i, :t]
            if not (keep[prefix_b].all() and (mapping[prefix_b] == chars_a[i, :t]).all()):
                break
            np.testing.assert_allclose(logit_b[i, t, keep], logit_a[i, t, mapping[keep]], rtol=1e-4, atol=1e-4)
            compared += 1
    assert compared >= len(images)
