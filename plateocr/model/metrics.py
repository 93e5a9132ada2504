"""Character and full-sequence accuracy, as TensorFlow ops and in NumPy, with one definition.

Both sides are read as text: everything from the first null on is null (the decoded text
stops there). Then
- character accuracy = correct characters at the label's positions / number of label
  characters, over the whole batch (positions past the label's end are not counted, so an
  extra trailing character costs sequence accuracy only);
- sequence accuracy = fraction of examples whose padded sequences are equal (text identical).
TensorFlow is imported only by the ``*_tf`` functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# -- NumPy ----------------------------------------------------------------------------------
def truncate_at_null(ids, null_code: int) -> np.ndarray:
    """Set every position at or after the first null to null. ids: int [B, L]."""
    ids = np.asarray(ids)
    after = np.cumsum(ids == null_code, axis=1) > 0
    return np.where(after, null_code, ids)


@dataclass
class AccuracyCounts:
    """Summable counts, for accuracy over many batches."""

    correct_chars: int = 0
    label_chars: int = 0
    correct_sequences: int = 0
    sequences: int = 0

    def __add__(self, other: "AccuracyCounts") -> "AccuracyCounts":
        return AccuracyCounts(
            self.correct_chars + other.correct_chars,
            self.label_chars + other.label_chars,
            self.correct_sequences + other.correct_sequences,
            self.sequences + other.sequences,
        )

    @property
    def char_accuracy(self) -> float:
        return self.correct_chars / max(self.label_chars, 1)

    @property
    def sequence_accuracy(self) -> float:
        return self.correct_sequences / max(self.sequences, 1)


def accuracy_counts(predicted, labels, null_code: int) -> AccuracyCounts:
    predicted = truncate_at_null(predicted, null_code)
    labels = truncate_at_null(labels, null_code)
    if predicted.shape != labels.shape:
        raise ValueError(f"predictions {predicted.shape} and labels {labels.shape} differ in shape")
    in_label = labels != null_code
    return AccuracyCounts(
        correct_chars=int(np.sum((predicted == labels) & in_label)),
        label_chars=int(np.sum(in_label)),
        correct_sequences=int(np.sum(np.all(predicted == labels, axis=1))),
        sequences=int(labels.shape[0]),
    )


# On many plate fonts the letter O and the digit 0 are the same oval, and plate sets are often
# labelled with the wrong one; a reading that differs from its label only there is worth telling
# apart from a real misreading (a hint to check the label, never counted as correct).
_O_AS_ZERO = str.maketrans("O", "0")


def differs_only_in_o_and_0(truth: str, read: str) -> bool:
    """True when the texts differ, and only where one has the letter O and the other the digit 0."""
    return truth != read and truth.translate(_O_AS_ZERO) == read.translate(_O_AS_ZERO)


def char_accuracy(predicted, labels, null_code: int) -> float:
    return accuracy_counts(predicted, labels, null_code).char_accuracy


def sequence_accuracy(predicted, labels, null_code: int) -> float:
    return accuracy_counts(predicted, labels, null_code).sequence_accuracy


# -- TensorFlow -----------------------------------------------------------------------------
def truncate_at_null_tf(ids, null_code: int):
    from plateocr.model.compat import tf

    ids = tf.cast(ids, tf.int32)
    after = tf.cumsum(tf.cast(tf.equal(ids, null_code), tf.int32), axis=1) > 0
    return tf.where(after, tf.fill(tf.shape(ids), null_code), ids)


def _matches_tf(predicted, labels, null_code: int):
    from plateocr.model.compat import tf

    predicted = truncate_at_null_tf(predicted, null_code)
    labels = truncate_at_null_tf(labels, null_code)
    return tf.equal(predicted, labels), tf.not_equal(labels, null_code)


def char_accuracy_tf(predicted, labels, null_code: int):
    from plateocr.model.compat import tf

    equal, in_label = _matches_tf(predicted, labels, null_code)
    correct = tf.reduce_sum(tf.cast(equal & in_label, tf.float32))
    total = tf.reduce_sum(tf.cast(in_label, tf.float32))
    return tf.math.divide(correct, tf.maximum(total, 1.0), name="char_accuracy")


def sequence_accuracy_tf(predicted, labels, null_code: int):
    from plateocr.model.compat import tf

    equal, _ = _matches_tf(predicted, labels, null_code)
    return tf.reduce_mean(tf.cast(tf.reduce_all(equal, axis=1), tf.float32), name="sequence_accuracy")
