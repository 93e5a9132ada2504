"""Format-aware reading: a search over the decoder's per-step distributions, scored with the
format prior of plateocr.formats.

The decoder reads greedily: at each step the most likely character, fed to the next step. Its
per-step distributions also say what else each character might be (an ``I`` that is almost a
``1``). For every format the user's plates follow, the best reading of that format is, per
position, the most likely character of the class the format puts there (``N``: a digit), then
the end of the text; with the greedy reading itself (the best reading of any format) these are
the candidates, and the one with the highest

    log P(reading) + weight * log((1 - unseen) * share of its format + unseen)

is kept, P being the product of the chosen characters' probabilities up to and including the
end-of-text step (the sequence confidence). The search is exact over the listed formats for
those distributions; later steps are not re-run with a changed character (the decoder saw the
greedy one), which a changed lookalike barely moves.

search() is NumPy, for PlateReader and eval; search_in_graph() is the same as TensorFlow ops,
for the exported SavedModel and TFLite model. Each view of the five-view reading is searched
before the vote (plateocr.inference.test_time_augmentation), so `predict`, `eval` and the exports
vote over the same readings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plateocr.charset import Charset
from plateocr.formats import Formats, fits


@dataclass(frozen=True)
class FormatTables:
    """The formats that a model can read, as arrays over its steps and classes.

    allowed [K, L, C]: 1 where format k takes class c at step l (the null at its end and after);
    shares [K]: each format's share of the counts; unseen and weight as in the formats file.
    """

    allowed: np.ndarray
    shares: np.ndarray
    unseen: float
    weight: float
    null_code: int
    formats: tuple[str, ...]
    dropped: tuple[str, ...]  # listed formats this model cannot read (too long, no such class)

    @classmethod
    def build(cls, formats: Formats, charset: Charset, max_length: int) -> "FormatTables":
        classes = sorted({k for f in formats.counts for k in f})
        takes = {k: np.array([c is not None and fits(c, k) for c in charset.chars], np.float32) for k in classes}
        null = np.zeros(charset.num_classes, np.float32)
        null[charset.null_code] = 1.0
        rows, shares, kept, dropped = [], [], [], []
        for fmt in formats.counts:
            if len(fmt) > max_length or any(not takes[k].any() for k in fmt):
                dropped.append(fmt)
                continue
            rows.append(np.stack([takes[k] for k in fmt] + [null] * (max_length - len(fmt))))
            shares.append(formats.share(fmt))
            kept.append(fmt)
        allowed = np.stack(rows) if rows else np.zeros((0, max_length, charset.num_classes), np.float32)
        return cls(
            allowed,
            np.asarray(shares, np.float32),
            float(formats.unseen),
            float(formats.weight),
            charset.null_code,
            tuple(kept),
            tuple(dropped),
        )

    @property
    def empty(self) -> bool:
        return len(self.formats) == 0


def build_tables(formats: Formats | None, charset: Charset, max_length: int) -> FormatTables | None:
    """Tables for a model, or None when there is nothing to prefer (no formats, none readable)."""
    if formats is None:
        return None
    tables = FormatTables.build(formats, charset, max_length)
    return None if tables.empty else tables


def search(tables: FormatTables | None, probs: np.ndarray, chars: np.ndarray):
    """NumPy: per-step distributions [B, L, C] and greedy ids [B, L] -> the readings kept:
    (ids [B, L] int32, their probabilities [B, L] float32, sequence confidence [B] float32)."""
    probs = np.asarray(probs, np.float32)
    chars = np.asarray(chars).astype(np.int32)
    null = tables.null_code
    k, length, classes = tables.allowed.shape
    masked = np.where(tables.allowed[None] > 0, probs[:, None], np.float32(-1))  # [B, K, L, C]
    cands = np.concatenate([chars[:, None], masked.argmax(-1).astype(np.int32)], axis=1)  # [B, K+1, L]
    nulls_before = np.cumsum(cands == null, axis=2) - (cands == null)
    cands = np.where(nulls_before > 0, null, cands).astype(np.int32)
    picked = np.take_along_axis(probs[:, None], cands[..., None], axis=3)[..., 0]  # [B, K+1, L]
    counted = nulls_before == 0  # up to and including the first null
    with np.errstate(divide="ignore"):
        log_p = np.where(counted, np.log(picked), np.float32(0)).sum(axis=2)
    # Which formats each candidate follows: allowed[k, l, id] at every step.
    flat = (np.arange(length, dtype=np.int32) * classes + cands).reshape(-1)
    follows = tables.allowed.reshape(k, -1)[:, flat].reshape(k, *cands.shape).min(axis=3)  # [K, B, K+1]
    share = (follows * tables.shares[:, None, None]).sum(axis=0)
    score = log_p + np.float32(tables.weight) * np.log(
        np.float32(1 - tables.unseen) * share + np.float32(tables.unseen)
    )
    best = score.argmax(axis=1)
    rows = np.arange(len(cands))
    ids, scores = cands[rows, best], picked[rows, best]
    confidence = np.where(counted[rows, best], scores, np.float32(1)).prod(axis=1)
    return ids, scores.astype(np.float32), confidence.astype(np.float32)


def search_in_graph(tables: FormatTables, probs, chars):
    """search() as TensorFlow ops: probs [B, L, C] float32, chars [B, L] -> (ids, probabilities,
    confidence), what search() returns for the same inputs."""
    from plateocr.model.compat import tf

    null = tables.null_code
    k, length, classes = tables.allowed.shape
    allowed = tf.constant(tables.allowed)
    masked = tf.where(allowed[None] > 0, probs[:, None], -1.0)  # [B, K, L, C]
    fitted = tf.argmax(masked, axis=3, output_type=tf.int32)
    cands = tf.concat([tf.cast(chars, tf.int32)[:, None], fitted], axis=1)  # [B, K+1, L]
    is_null = tf.cast(tf.equal(cands, null), tf.int32)
    nulls_before = tf.cumsum(is_null, axis=2, exclusive=True)
    cands = tf.where(nulls_before > 0, tf.fill(tf.shape(cands), null), cands)
    picked = tf.reduce_sum(tf.one_hot(cands, classes) * probs[:, None], axis=3)  # [B, K+1, L]
    counted = tf.equal(nulls_before, 0)
    log_p = tf.reduce_sum(tf.where(counted, tf.math.log(picked), tf.zeros_like(picked)), axis=2)
    flat = tf.range(length) * classes + cands
    follows = tf.gather(tf.reshape(allowed, [k, -1]), tf.reshape(flat, [-1]), axis=1)
    follows = tf.reduce_min(tf.reshape(follows, tf.concat([[k], tf.shape(cands)], 0)), axis=3)  # [K, B, K+1]
    share = tf.reduce_sum(follows * tf.constant(tables.shares)[:, None, None], axis=0)
    score = log_p + tables.weight * tf.math.log((1 - tables.unseen) * share + tables.unseen)
    best = tf.argmax(score, axis=1, output_type=tf.int32)
    pick = tf.stack([tf.range(tf.shape(best)[0]), best], axis=1)
    ids, scores = tf.gather_nd(cands, pick), tf.gather_nd(picked, pick)
    confidence = tf.reduce_prod(tf.where(tf.gather_nd(counted, pick), scores, tf.ones_like(scores)), axis=1)
    return ids, scores, confidence


def char_probabilities(endpoints):
    """Graph op: each step's distribution [B, L, C], the softmax the greedy scores come from."""
    from plateocr.model.compat import tf

    return tf.nn.softmax(endpoints.chars_logit)


def decode_outputs(charset: Charset, out: dict, tables: FormatTables | None) -> list:
    """Readings of one batch of network outputs (chars, scores, confidence, optional attention,
    and probs when `tables`): the greedy readings, or with tables the format-aware ones."""
    from plateocr.inference.decoding import decode_readings

    chars, scores, confidence = out["chars"], out["scores"], out["confidence"]
    if tables is not None:
        chars, scores, confidence = search(tables, out["probs"], chars)
    return decode_readings(charset, chars, scores, confidence, out.get("attention"))
