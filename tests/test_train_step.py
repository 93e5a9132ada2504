"""The training step graph: micro-batches give the full-batch gradient; the step learns."""

import numpy as np
import pytest

from plateocr.model.compat import session_config, tf, tf1
from plateocr.model.config import ModelConfig
from plateocr.training.train_step import build_train_step

TINY = ModelConfig(
    image_shape=(48, 64, 3),
    num_of_views=1,
    max_sequence_length=4,
    num_classes=6,
    null_code=0,
    final_endpoint="Mixed_5b",
    lstm_units=32,
)


@pytest.mark.slow
def test_micro_batches_sum_to_the_full_batch_gradient():
    rng = np.random.default_rng(0)
    half = rng.integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    # two identical halves: each part's batch-norm statistics equal the whole batch's
    images_np = np.concatenate([half, half])
    labels_np = np.tile(rng.integers(0, 6, (2, 4)), (2, 1)).astype(np.int32)
    with tf.Graph().as_default() as graph:
        images, labels = tf.constant(images_np), tf.constant(labels_np)
        opt = tf1.train.GradientDescentOptimizer(0.1)
        whole = build_train_step(images, labels, TINY, opt, clip_norm=None, micro_batches=1)
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
            parts = build_train_step(images, labels, TINY, opt, clip_norm=None, micro_batches=2)
        assert [v for _, v in whole.grads_and_vars] == [v for _, v in parts.grads_and_vars]
        init = tf1.global_variables_initializer()
    with tf1.Session(graph=graph, config=session_config()) as sess:
        sess.run(init)
        g1, g2, l1, l2, e2 = sess.run(
            [
                [g for g, _ in whole.grads_and_vars],
                [g for g, _ in parts.grads_and_vars],
                whole.losses,
                parts.losses,
                parts.endpoints.chars_logit,
            ]
        )
    assert e2.shape == (4, 4, 6)
    np.testing.assert_allclose(l1.total, l2.total, rtol=1e-4)
    for a, b in zip(g1, g2):
        # The halves' gradients are summed in another order, the thread pool splits its reductions
        # by load, and oneDNN may pick another kernel for a batch of 2 than of 4: a gradient before
        # batch norm is a small difference of large sums, and single elements moved by up to 2.3% on
        # one CI machine. Compared as whole tensors, the drift stays near 1%; a wrong micro-batch
        # sum (a part missed, or the parts averaged instead of summed) is off by 50% or more.
        drift = float(np.linalg.norm(a - b))
        assert drift <= 0.05 * float(np.linalg.norm(a)) + 1e-6, (a.shape, drift, float(np.linalg.norm(a)))


def test_batch_must_split_evenly():
    with tf.Graph().as_default():
        images = tf1.placeholder(tf.uint8, [5, 48, 64, 3])
        labels = tf1.placeholder(tf.int32, [5, 4])
        with pytest.raises(ValueError, match="multiple"):
            build_train_step(images, labels, TINY, tf1.train.GradientDescentOptimizer(0.1), micro_batches=2)


def _batch(seed: int):
    """4 random TINY images and labels without nulls."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (4, 48, 64, 3), dtype=np.uint8), rng.integers(1, 6, (4, 4)).astype(np.int32)


@pytest.mark.slow
def test_micro_batched_step_learns_and_updates_moving_averages_once():
    images_np, labels_np = _batch(1)
    config = TINY.replace(batch_norm_decay=0.5)
    with tf.Graph().as_default() as graph:
        tf1.set_random_seed(0)
        step = build_train_step(
            tf.constant(images_np),
            tf.constant(labels_np),
            config,
            tf1.train.AdamOptimizer(3e-3),
            clip_norm=2.0,
            micro_batches=2,
        )
        moving = [v for v in tf1.global_variables() if v.op.name.endswith("Conv2d_1a_3x3/BatchNorm/moving_mean")]
        init = tf1.global_variables_initializer()
        conv = graph.get_tensor_by_name("AttentionOcr_v1/conv_tower_fn/INCE/InceptionV3/Conv2d_1a_3x3/Conv2D:0")
    with tf1.Session(graph=graph, config=session_config()) as sess:
        sess.run(init)
        first = sess.run(step.losses.total)
        conv_first_part, _ = sess.run([conv, step.train_op])
        # decay 0.5 from zeros: one update from the first part leaves half its batch mean
        np.testing.assert_allclose(
            sess.run(moving[0]), 0.5 * conv_first_part.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6
        )
        for _ in range(25):
            loss, _ = sess.run([step.losses.total, step.train_op])
        assert np.isfinite(loss) and loss < 0.7 * first
    assert conv_first_part.shape[0] == 2  # the first micro-batch only


@pytest.mark.slow
def test_train_layers_and_frozen_batch_norm_leave_the_rest_alone():
    images_np, labels_np = _batch(2)
    config = TINY.replace(batch_norm_decay=0.5)
    with tf.Graph().as_default() as graph:
        tf1.set_random_seed(0)
        step = build_train_step(
            tf.constant(images_np),
            tf.constant(labels_np),
            config,
            tf1.train.GradientDescentOptimizer(0.5),
            train_layers="top",
            freeze_batch_norm=True,
        )
        trained = {v.op.name for _, v in step.grads_and_vars}
        everything = {v.op.name: v for v in tf1.global_variables()}
        init = tf1.global_variables_initializer()
    stem = [n for n in everything if "/InceptionV3/Conv2d_" in n]
    mixed = [n for n in everything if "/InceptionV3/Mixed_" in n and n in trained]
    decoder = [n for n in everything if "sequence_logit_fn" in n]
    moving = [n for n in everything if "moving_" in n]
    assert stem and mixed and decoder and moving
    assert not trained & set(stem) and set(decoder) <= trained
    with tf1.Session(graph=graph, config=session_config()) as sess:
        sess.run(init)
        before = sess.run({n: everything[n] for n in everything})
        sess.run(step.train_op)
        after = sess.run({n: everything[n] for n in everything})
    changed = {n for n in everything if not np.array_equal(before[n], after[n])}
    assert not changed & set(stem + moving)  # the stem's weights and every moving average stay
    assert set(mixed) & changed and set(decoder) & changed
