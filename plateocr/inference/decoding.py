"""From the network's outputs to readings: ids -> text and confidences.

Evaluation, prediction and the Python API read plates through these NumPy functions, so they
agree on what the model "said" for a crop; texts_tf is the same ids -> text as graph ops, for
the exported model and training's TensorBoard samples (TensorFlow imported only there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from plateocr.charset import Charset


@dataclass(frozen=True)
class Reading:
    """What the model read on one plate.

    text: the decoded characters (stopping at the first null).
    confidence: the sequence confidence, the product of the chosen characters' probabilities
        up to and including the end-of-text null step.
    char_confidences: the probability of each character of `text`, in order.
    attention: optional [len(text), h, w] attention masks of those characters over the
        feature grid (only when asked for).
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    attention: np.ndarray | None = field(default=None, repr=False, compare=False)


def text_length(ids: Sequence[int], null_code: int) -> int:
    """Number of characters before the first null."""
    for n, i in enumerate(ids):
        if int(i) == null_code:
            return n
    return len(ids)


def sequence_confidence(scores: Sequence[float], ids: Sequence[int], null_code: int) -> float:
    """Product of the step probabilities up to and including the first null (all if none).

    Same definition as the network's `sequence_confidence` endpoint; used where only ids and
    scores are at hand.
    """
    n = min(text_length(ids, null_code) + 1, len(ids))
    return float(np.prod(np.asarray(scores[:n], dtype=np.float64)))


def decode_readings(
    charset: Charset,
    predicted_chars: np.ndarray,
    predicted_scores: np.ndarray,
    confidences: np.ndarray | None = None,
    attention_masks: np.ndarray | None = None,
) -> list[Reading]:
    """Readings of a batch: predicted_chars/predicted_scores [B, L]; confidences [B] (the network's
    sequence_confidence; computed from the scores when None); attention_masks [B, L, h, w] or None.
    """
    readings = []
    for b in range(len(predicted_chars)):
        ids = [int(i) for i in predicted_chars[b]]
        scores = predicted_scores[b]
        n = text_length(ids, charset.null_code)
        conf = float(confidences[b]) if confidences is not None else sequence_confidence(scores, ids, charset.null_code)
        readings.append(
            Reading(
                text=charset.decode(ids),
                confidence=conf,
                char_confidences=tuple(float(s) for s in scores[:n]),
                attention=None if attention_masks is None else np.asarray(attention_masks[b][:n]),
            )
        )
    return readings


def texts_tf(ids, charset: Charset):
    """Graph ops: [B, L] ids -> [B] strings, the characters before the first null joined."""
    from plateocr.model.compat import tf

    table = tf.constant([c or "" for c in charset.chars])
    ids = tf.cast(ids, tf.int32)
    # tf.equal, not ==: in graph mode == compares the tensors' identity (always False here)
    keep = tf.equal(tf.cumsum(tf.cast(tf.equal(ids, charset.null_code), tf.int32), axis=1), 0)
    chars = tf.where(keep, tf.gather(table, ids), tf.fill(tf.shape(ids), ""))
    return tf.strings.reduce_join(chars, axis=1)
