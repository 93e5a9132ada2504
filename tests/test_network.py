"""The attention OCR graph: shapes, decoding modes, training, upstream variable names."""

from pathlib import Path

import numpy as np
import pytest

from plateocr.model.compat import tf, tf1
from plateocr.model.config import ModelConfig
from plateocr.model.losses import model_loss
from plateocr.model.network import build_model, sequence_confidence

UPSTREAM_VARIABLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "upstream_variables.txt"

# 48x64 views through InceptionV3 up to Mixed_5b: a 3x5 grid of 256 features.
TINY = ModelConfig(
    image_shape=(48, 128, 3),
    num_of_views=2,
    max_sequence_length=4,
    num_classes=6,
    null_code=0,
    final_endpoint="Mixed_5b",
    use_coordinates=True,
    lstm_units=32,
)
GRID_H, GRID_W = 3, 5


def session(graph):
    config = tf1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
    return tf1.Session(graph=graph, config=config)


def random_batch(config, batch, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (batch, *config.image_shape), dtype=np.uint8)
    labels = rng.integers(1, config.num_classes, (batch, config.max_sequence_length))
    labels[:, -1] = config.null_code  # every label ends with padding
    return images, labels.astype(np.int32)


class TinyModels:
    """A training (teacher forcing) and an inference (greedy) model sharing one set of weights."""

    def __init__(self, config):
        self.config = config
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf1.set_random_seed(3)
            h, w, c = config.image_shape
            self.images = tf1.placeholder(tf.uint8, [None, h, w, c])
            self.labels = tf1.placeholder(tf.int32, [None, config.max_sequence_length])
            self.train = build_model(self.images, config, is_training=True, labels=self.labels)
            with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
                self.infer = build_model(self.images, config, is_training=False, labels=self.labels)
            self.init = tf1.global_variables_initializer()
        self.sess = session(self.graph)
        self.sess.run(self.init)


@pytest.fixture(scope="module")
def tiny():
    models = TinyModels(TINY)
    yield models
    models.sess.close()


def test_endpoint_shapes_and_values(tiny):
    images, labels = random_batch(TINY, 3)
    L, C = TINY.max_sequence_length, TINY.num_classes
    for endpoints in (tiny.train, tiny.infer):
        out = tiny.sess.run(endpoints, {tiny.images: images, tiny.labels: labels})
        assert out.chars_logit.shape == (3, L, C)
        assert out.chars_log_prob.shape == (3, L, C)
        assert out.predicted_chars.shape == (3, L) and out.predicted_chars.dtype == np.int32
        assert out.predicted_scores.shape == (3, L)
        assert out.sequence_confidence.shape == (3,)
        assert out.attention_masks.shape == (3, L, GRID_H, TINY.num_of_views * GRID_W)
        # features: 2 views x 3 x 5 positions, 256 channels + one-hot row (3) and column (5)
        assert out.features.shape == (3, TINY.num_of_views * GRID_H * GRID_W, 256 + GRID_H + GRID_W)
        np.testing.assert_allclose(np.exp(out.chars_log_prob).sum(axis=2), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(out.predicted_chars, out.chars_logit.argmax(axis=2))
        probs = np.exp(out.chars_log_prob)
        np.testing.assert_allclose(out.predicted_scores, probs.max(axis=2), rtol=1e-5)
        np.testing.assert_allclose(out.attention_masks.sum(axis=(2, 3)), 1.0, rtol=1e-5)
        assert np.all(out.attention_masks >= 0)


def test_attention_masks_follow_the_input_layout(tiny):
    """Each view's features sit under that view's half of the mask (rows, then views side by side)."""
    images, labels = random_batch(TINY, 2)
    out = tiny.sess.run(tiny.infer, {tiny.images: images, tiny.labels: labels})
    feats = out.features.reshape(2, TINY.num_of_views, GRID_H, GRID_W, -1)
    # coordinate channels: one-hot row then column, per view
    rows = feats[..., 256 : 256 + GRID_H].argmax(axis=-1)
    cols = feats[..., 256 + GRID_H :].argmax(axis=-1)
    np.testing.assert_array_equal(rows[0, 1], np.repeat(np.arange(GRID_H)[:, None], GRID_W, axis=1))
    np.testing.assert_array_equal(cols[0, 0], np.repeat(np.arange(GRID_W)[None, :], GRID_H, axis=0))
    # a view's features depend only on that view: change view 1, view 0's features stay
    changed = images.copy()
    changed[:, :, 64:] = 255 - changed[:, :, 64:]
    out2 = tiny.sess.run(tiny.infer, {tiny.images: changed, tiny.labels: labels})
    feats2 = out2.features.reshape(feats.shape)
    np.testing.assert_allclose(feats2[:, 0], feats[:, 0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(feats2[:, 1], feats[:, 1])


def test_sequence_confidence_is_product_up_to_first_null(tiny):
    images, labels = random_batch(TINY, 4, seed=5)
    out = tiny.sess.run(tiny.infer, {tiny.images: images, tiny.labels: labels})
    for chars, scores, conf in zip(out.predicted_chars, out.predicted_scores, out.sequence_confidence):
        nulls = np.flatnonzero(chars == TINY.null_code)
        end = nulls[0] + 1 if len(nulls) else len(chars)
        np.testing.assert_allclose(conf, np.prod(scores[:end]), rtol=1e-5)
    # hand-made: nulls at different places, none, first
    with tf.Graph().as_default() as graph:
        chars = tf.constant([[3, 0, 2, 0], [1, 2, 3, 4], [0, 5, 5, 5]])
        scores = tf.constant([[0.5, 0.4, 0.1, 0.1], [0.5, 0.5, 0.5, 0.5], [0.9, 0.1, 0.1, 0.1]])
        confidence = sequence_confidence(chars, scores, null_code=0)
    with tf1.Session(graph=graph) as sess:
        got = sess.run(confidence)
    np.testing.assert_allclose(got, [0.2, 0.0625, 0.9], rtol=1e-6)


def test_inference_decodes_greedily_without_labels(tiny):
    images, labels = random_batch(TINY, 3, seed=1)
    infer = tiny.sess.run(tiny.infer, {tiny.images: images, tiny.labels: labels})
    other_labels = (labels % (TINY.num_classes - 1)) + 1
    again = tiny.sess.run(tiny.infer, {tiny.images: images, tiny.labels: other_labels})
    np.testing.assert_array_equal(infer.chars_logit, again.chars_logit)
    # nothing in the inference graph reads the labels
    seen, todo = set(), [tiny.infer.chars_logit.op]
    while todo:
        op = todo.pop()
        if op not in seen:
            seen.add(op)
            todo.extend(t.op for t in op.inputs)
    assert tiny.labels.op not in seen
    # greedy = teacher forcing on its own predictions: feed the inference features to the
    # training decoder with labels = the greedy predictions and get the same logits
    forced = tiny.sess.run(
        tiny.train.chars_logit,
        {tiny.train.features: infer.features, tiny.labels: infer.predicted_chars},
    )
    np.testing.assert_allclose(forced, infer.chars_logit, rtol=1e-4, atol=1e-5)


def test_training_uses_teacher_forcing(tiny):
    images, labels = random_batch(TINY, 3, seed=2)
    first = tiny.sess.run(tiny.train.chars_logit, {tiny.images: images, tiny.labels: labels})
    changed = labels.copy()
    changed[:, 1] = (changed[:, 1] % (TINY.num_classes - 1)) + 1  # change the 2nd true char
    second = tiny.sess.run(tiny.train.chars_logit, {tiny.images: images, tiny.labels: changed})
    # steps 0 and 1 see the same inputs; step 2 is fed the (changed) true char 1
    np.testing.assert_allclose(first[:, :2], second[:, :2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(first[:, 2], second[:, 2])


def test_training_requires_labels():
    with tf.Graph().as_default():
        images = tf1.placeholder(tf.uint8, [None, *TINY.image_shape])
        with pytest.raises(ValueError, match="labels"):
            build_model(images, TINY, is_training=True)


def test_rejects_images_of_another_shape():
    with tf.Graph().as_default():
        images = tf1.placeholder(tf.uint8, [None, 48, 64, 3])
        with pytest.raises(ValueError):
            build_model(images, TINY, is_training=False)


@pytest.mark.slow
def test_memorises_a_few_examples():
    # decay 0 makes the moving statistics those of the last (only) batch, so the inference
    # graph can be checked right after a few dozen steps.
    config = TINY.replace(batch_norm_decay=0.0, num_of_views=1, image_shape=(48, 64, 3))
    models = TinyModels(config)
    images, labels = random_batch(config, 4, seed=7)
    with models.graph.as_default():
        losses = model_loss(models.train, models.labels, config)
        update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
        optimizer = tf1.train.AdamOptimizer(3e-3)
        with tf.control_dependencies(update_ops):
            train_op = optimizer.minimize(losses.total)
        models.sess.run(tf1.variables_initializer(optimizer.variables()))
    feed = {models.images: images, models.labels: labels}
    history = []
    for _ in range(60):
        loss, _ = models.sess.run([losses.total, train_op], feed)
        assert np.isfinite(loss)
        history.append(loss)
    assert np.mean(history[-5:]) < 0.5 * np.mean(history[:5])
    predicted = models.sess.run(models.infer.predicted_chars, feed)
    models.sess.close()
    np.testing.assert_array_equal(predicted, labels)


def read_upstream_variables():
    rows = []
    for line in UPSTREAM_VARIABLES.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, shape, params = line.split("\t")
        shape = [int(x) for x in shape.strip("[]").split(",")]
        assert int(params) == int(np.prod(shape))
        rows.append((name, shape))
    return rows


@pytest.mark.skipif(not UPSTREAM_VARIABLES.exists(), reason="../shared/reference not present")
def test_variables_equal_upstream_reference_graph():
    config = ModelConfig(
        image_shape=(200, 200, 3),
        num_of_views=1,
        max_sequence_length=10,
        num_classes=37,
        null_code=36,
        use_coordinates=False,
    )
    expected = read_upstream_variables()
    with tf.Graph().as_default():
        images = tf1.placeholder(tf.uint8, [8, 200, 200, 3])
        labels = tf1.placeholder(tf.int32, [8, 10])
        endpoints = build_model(images, config, is_training=True, labels=labels)
        trainable = [(v.op.name, v.shape.as_list()) for v in tf1.trainable_variables()]
        moving = [v for v in tf1.model_variables() if v not in tf1.trainable_variables()]
        reg_losses = tf1.losses.get_regularization_losses()
        assert endpoints.features.shape.as_list() == [8, 484, 288]
        assert endpoints.chars_logit.shape.as_list() == [8, 10, 37]
    assert len(expected) == 64
    assert sorted(trainable) == sorted(expected)
    assert sum(int(np.prod(s)) for _, s in trainable) == 1_682_467
    assert len(moving) == 52
    assert all(v.op.name.endswith(("moving_mean", "moving_variance")) for v in moving)
    assert len(reg_losses) == 28


def _plain_attend(f, h, q, v):
    weights = tf.nn.softmax(tf.reduce_sum(v * tf.tanh(f + q[:, None, :]), axis=2))
    return weights, tf.reduce_sum(weights[:, :, None] * h, axis=1)


def test_attend_values_and_gradients_equal_plain_ops_over_chained_steps():
    """Three steps, each query depending on the previous read (as in the decoder), each step
    reading F and H from the previous attend(): values and gradients with respect to F, H, the
    queries and v equal those of the plain ops, whose gradients tf.gradients sums itself."""
    from plateocr.model.decoder import attend

    rng = np.random.default_rng(4)
    f_np, h_np = (rng.normal(size=(2, 5, 3)).astype(np.float32) for _ in range(2))
    q_np = rng.normal(size=(2, 3)).astype(np.float32)
    v_np = rng.normal(size=(3,)).astype(np.float32)
    k_np = rng.normal(size=(3, 3)).astype(np.float32)
    w_np = rng.normal(size=(3, 2, 5)).astype(np.float32)  # loss weights on each step's weights
    r_np = rng.normal(size=(3, 2, 3)).astype(np.float32)  # and on each read

    def unroll(step_fn, f, h, q, v, k, carry):
        loss, outputs = 0.0, []
        for i in range(3):
            if carry:
                weights, read, f, h = step_fn(f, h, q, v)
            else:
                weights, read = step_fn(f, h, q, v)
            loss += tf.reduce_sum(w_np[i] * weights) + tf.reduce_sum(r_np[i] * read)
            outputs += [weights, read]
            q = tf.tanh(tf.matmul(read, k) + q)
        return loss, outputs

    with tf.Graph().as_default() as graph:
        f, h, q, v, k = (tf.constant(a) for a in (f_np, h_np, q_np, v_np, k_np))
        loss_c, out_c = unroll(attend, f, h, q, v, k, carry=True)
        loss_p, out_p = unroll(_plain_attend, f, h, q, v, k, carry=False)
        grads_c = tf.gradients(loss_c, [f, h, q, v, k])
        grads_p = tf.gradients(loss_p, [f, h, q, v, k])
    with tf1.Session(graph=graph) as sess:
        oc, op_, gc, gp = sess.run([out_c, out_p, grads_c, grads_p])
    for x, y in zip(oc, op_):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    for x, y in zip(gc, gp):
        assert np.abs(y).max() > 1e-3  # every gradient is really exercised
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
