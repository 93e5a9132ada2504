"""The training loss: label-smoothed per-step cross-entropy plus L2 regularisation.

As upstream attention_ocr: each step's target is the one-hot label smoothed towards uniform
(``(1 - s) * onehot + s / C``), cross-entropy is summed over the steps (nulls included, so the
model learns where the text ends) and averaged over the batch; the L2 terms that the tower's
arg scope and the output layer put in REGULARIZATION_LOSSES are added on top.
"""

from __future__ import annotations

from typing import NamedTuple

from plateocr.model.compat import tf, tf1
from plateocr.model.config import ModelConfig


class Losses(NamedTuple):
    total: "tf.Tensor"  # scalar: sequence + regularization
    sequence: "tf.Tensor"  # scalar
    regularization: "tf.Tensor"  # scalar


def smoothed_one_hot(labels, num_classes: int, label_smoothing: float):
    one_hot = tf.one_hot(labels, num_classes)
    return one_hot * (1.0 - label_smoothing) + label_smoothing / num_classes


def sequence_loss(chars_logit, labels, num_classes: int, label_smoothing: float):
    """chars_logit [B, L, C], labels int [B, L] (null-padded) -> scalar."""
    targets = smoothed_one_hot(labels, num_classes, label_smoothing)
    per_step = tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=chars_logit)
    return tf.reduce_mean(tf.reduce_sum(per_step, axis=1))


def regularization_loss(scope: str | None = None):
    """Sum of the graph's regularization losses (0 if there are none)."""
    terms = tf1.losses.get_regularization_losses(scope)
    return tf.add_n(terms) if terms else tf.constant(0.0)


def model_loss(endpoints, labels, config: ModelConfig) -> Losses:
    """Loss of ``build_model``'s endpoints against null-padded labels [B, max_sequence_length]."""
    with tf1.name_scope("loss"):
        seq = sequence_loss(
            endpoints.chars_logit,
            tf.cast(labels, tf.int32),
            config.num_classes,
            config.label_smoothing,
        )
        reg = regularization_loss()
        return Losses(total=tf.add(seq, reg, name="total_loss"), sequence=seq, regularization=reg)
