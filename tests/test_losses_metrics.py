"""Sequence loss and accuracy metrics: hand-computed values, NumPy and TensorFlow agree."""

import numpy as np
import pytest

from plateocr.model import metrics
from plateocr.model.compat import tf, tf1
from plateocr.model.losses import regularization_loss, sequence_loss


def run(make):
    """Build ops with make() in a fresh graph and evaluate them."""
    with tf.Graph().as_default() as graph:
        fetches = make()
    with tf1.Session(graph=graph) as sess:
        return sess.run(fetches)


def numpy_smoothed_loss(logits, labels, smoothing):
    num_classes = logits.shape[-1]
    targets = np.eye(num_classes)[labels] * (1 - smoothing) + smoothing / num_classes
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    per_step = -(targets * log_probs).sum(axis=-1)  # [B, L]
    return per_step.sum(axis=1).mean()


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_sequence_loss_is_summed_over_steps_and_averaged_over_batch(smoothing):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype(np.float32)
    labels = rng.integers(0, 7, (3, 5)).astype(np.int32)
    got = run(lambda: sequence_loss(tf.constant(logits), tf.constant(labels), 7, smoothing))
    np.testing.assert_allclose(got, numpy_smoothed_loss(logits, labels, smoothing), rtol=1e-5)


def test_sequence_loss_plain_cross_entropy_by_hand():
    # two steps, uniform logits over 4 classes: each step costs log(4)
    logits = np.zeros((2, 2, 4), np.float32)
    labels = np.array([[1, 0], [3, 3]], np.int32)
    got = run(lambda: sequence_loss(tf.constant(logits), tf.constant(labels), 4, 0.0))
    np.testing.assert_allclose(got, 2 * np.log(4), rtol=1e-6)


def test_regularization_loss_sums_the_collection():
    def make():
        w = tf1.get_variable("w", initializer=tf.constant([1.0, 2.0]), regularizer=lambda v: 0.5 * tf.reduce_sum(v * v))
        tf1.get_variable("u", initializer=tf.constant([3.0]), regularizer=lambda v: tf.reduce_sum(v))
        with tf.control_dependencies([w.initializer]):
            return regularization_loss()

    with tf.Graph().as_default() as graph:
        total = make()
        init = tf1.global_variables_initializer()
    with tf1.Session(graph=graph) as sess:
        sess.run(init)
        assert sess.run(total) == pytest.approx(0.5 * 5.0 + 3.0)
    assert run(regularization_loss) == 0.0


NULL = 0
# (predicted, labels, correct label chars, label chars, correct sequence)
CASES = [
    ([1, 2, 3, 0], [1, 2, 3, 0], 3, 3, True),  # exact
    ([1, 2, 4, 0], [1, 2, 3, 0], 2, 3, False),  # one wrong char
    ([1, 2, 3, 4], [1, 2, 3, 0], 3, 3, False),  # extra char: chars right, text wrong
    ([1, 2, 0, 0], [1, 2, 3, 0], 2, 3, False),  # missing char
    ([1, 0, 3, 0], [1, 2, 3, 0], 1, 3, False),  # text stops at the first null
    ([1, 2, 0, 5], [1, 2, 0, 0], 2, 2, True),  # garbage after the null is not text
    ([2, 3, 4, 5], [1, 2, 3, 4], 0, 4, False),  # shifted by one
    ([0, 0, 0, 0], [5, 0, 0, 0], 0, 1, False),  # nothing read
]


def test_numpy_metrics_on_hand_made_cases():
    for predicted, labels, correct, total, seq_ok in CASES:
        counts = metrics.accuracy_counts(np.array([predicted]), np.array([labels]), NULL)
        assert (counts.correct_chars, counts.label_chars) == (correct, total), (predicted, labels)
        assert counts.correct_sequences == int(seq_ok), (predicted, labels)
    predicted = np.array([c[0] for c in CASES])
    labels = np.array([c[1] for c in CASES])
    expected_char = sum(c[2] for c in CASES) / sum(c[3] for c in CASES)
    expected_seq = sum(c[4] for c in CASES) / len(CASES)
    assert metrics.char_accuracy(predicted, labels, NULL) == pytest.approx(expected_char)
    assert metrics.sequence_accuracy(predicted, labels, NULL) == pytest.approx(expected_seq)


def test_counts_add_up_over_batches():
    predicted = np.array([c[0] for c in CASES])
    labels = np.array([c[1] for c in CASES])
    whole = metrics.accuracy_counts(predicted, labels, NULL)
    parts = metrics.accuracy_counts(predicted[:3], labels[:3], NULL) + metrics.accuracy_counts(
        predicted[3:], labels[3:], NULL
    )
    assert parts == whole
    assert metrics.AccuracyCounts().char_accuracy == 0.0


@pytest.mark.parametrize("null_code", [0, 5])
def test_tensorflow_metrics_equal_numpy(null_code):
    rng = np.random.default_rng(null_code)
    predicted = np.array([c[0] for c in CASES])
    labels = np.array([c[1] for c in CASES])
    if null_code != 0:  # swap ids 0 and null_code so the cases keep their meaning
        swap = {0: null_code, null_code: 0}
        predicted = np.vectorize(lambda x: swap.get(x, x))(predicted)
        labels = np.vectorize(lambda x: swap.get(x, x))(labels)
    random_pred = rng.integers(0, 6, (20, 4))
    random_labels = metrics.truncate_at_null(rng.integers(0, 6, (20, 4)), null_code)
    for p, t in [(predicted, labels), (random_pred, random_labels)]:
        char_tf, seq_tf = run(
            lambda p=p, t=t: (
                metrics.char_accuracy_tf(tf.constant(p), tf.constant(t), null_code),
                metrics.sequence_accuracy_tf(tf.constant(p), tf.constant(t), null_code),
            )
        )
        assert char_tf == pytest.approx(metrics.char_accuracy(p, t, null_code), abs=1e-6)
        assert seq_tf == pytest.approx(metrics.sequence_accuracy(p, t, null_code), abs=1e-6)


def test_truncate_at_null():
    ids = np.array([[1, 0, 2, 3], [4, 4, 4, 4], [0, 1, 1, 1]])
    np.testing.assert_array_equal(metrics.truncate_at_null(ids, 0), [[1, 0, 0, 0], [4, 4, 4, 4], [0, 0, 0, 0]])
    got = run(lambda: metrics.truncate_at_null_tf(tf.constant(ids), 0))
    np.testing.assert_array_equal(got, metrics.truncate_at_null(ids, 0))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        metrics.accuracy_counts(np.zeros((2, 3), int), np.zeros((2, 4), int), 0)


def test_o_against_0_only_mistakes():
    assert metrics.differs_only_in_o_and_0("RKO99AN", "RK099AN")  # the label's O, the plate's 0
    assert metrics.differs_only_in_o_and_0("BA302OZ", "BA3020Z")  # and the reverse
    assert not metrics.differs_only_in_o_and_0("RK099AN", "RK099AN")  # right is not a mistake
    assert not metrics.differs_only_in_o_and_0("RKO99AN", "RK099AM")  # another letter wrong too
    assert not metrics.differs_only_in_o_and_0("RKO99AN", "RKQ99AN")  # Q is not 0
    assert not metrics.differs_only_in_o_and_0("AB100", "AB10")  # a missing character
