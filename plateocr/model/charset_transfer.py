"""Carry the decoder's per-character weights over to a model with another charset.

A model started from a checkpoint (the bundled base model, or any plateocr model dir) whose
charset differs from the records' (extra characters, fewer, another order) cannot restore the
variables whose shape depends on the number of classes C, and those are the ones that read and
write characters. Instead of learning them again, each is rebuilt character by character:

  softmax_w [U, C], softmax_b [C]        output column of each character
  attention_decoder/kernel [C + D, C]    rows 0..C-1: the previous character's one-hot;
  attention_decoder/bias [C]             columns: the LSTM input features (C of them)
  lstm_cell/kernel [C + U, 4U]           rows 0..C-1: those input features

A character both charsets know (and the null code) takes its old weights; a new character keeps
its fresh initialisation. The C input features are not characters, only counted like them: every
old feature is kept while there is room (those of dropped characters fill the places of new
ones), and a feature with no old one starts with zero weight into the LSTM. So when the new
charset holds all the old characters, they are read exactly as before until training moves on.
"""

from __future__ import annotations

import numpy as np

from plateocr.charset import Charset

_OUTPUT = ("/softmax_w", "/softmax_b")
_INPUT_KERNEL = "/attention_decoder/kernel"
_INPUT_BIAS = "/attention_decoder/bias"
_LSTM_KERNEL = "/attention_decoder/lstm_cell/kernel"
_SUFFIXES = (*_OUTPUT, _INPUT_KERNEL, _INPUT_BIAS, _LSTM_KERNEL)


def class_map(old: Charset, new: Charset) -> np.ndarray:
    """For each id of `new`: the id of the same character in `old` (nulls map to nulls), or -1."""
    out = np.full(new.num_classes, -1, np.int64)
    for i, ch in enumerate(new.chars):
        if i == new.null_code:
            out[i] = old.null_code
        elif ch in old:
            out[i] = old.id_of(ch)
    return out


def feature_map(classes: np.ndarray, old_classes: int) -> np.ndarray:
    """For each of the new model's C input features: the old feature it continues, or -1.
    A kept character keeps its feature's place; the features of dropped characters fill the
    places of new characters, in order, while there are any."""
    out = classes.copy()
    taken = set(classes[classes >= 0].tolist())
    spare = [k for k in range(old_classes) if k not in taken]
    free = np.flatnonzero(out < 0)
    for place, k in zip(free, spare):
        out[place] = k
    return out


def transfer_value(name: str, old_value: np.ndarray, init_value: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """The new value of variable `name` (freshly initialised as `init_value`) built from its
    checkpoint value `old_value`, with `classes` = class_map(old, new); None if `name` is not
    per-character or its other dimensions do not match."""
    c_new = len(classes)
    known = classes >= 0
    value = init_value.copy()
    if name.endswith(_OUTPUT[0]):  # [U, C]
        if old_value.shape[0] != value.shape[0]:
            return None
        value[:, known] = old_value[:, classes[known]]
        return value
    if name.endswith(_OUTPUT[1]):  # [C]
        value[known] = old_value[classes[known]]
        return value
    if name.endswith(_INPUT_BIAS):  # [C] features
        features = feature_map(classes, len(old_value))
        kept = features >= 0
        value[kept] = old_value[features[kept]]
        return value
    if name.endswith(_INPUT_KERNEL):  # [C + D, C]: rows classes then attention, columns features
        c_old = old_value.shape[1]
        if old_value.shape[0] - c_old != value.shape[0] - c_new:
            return None  # attention depth differs (another crop size with coordinates)
        features = feature_map(classes, c_old)
        kept = features >= 0
        head = value[:c_new]  # a view
        head[np.ix_(known, kept)] = old_value[np.ix_(classes[known], features[kept])]
        value[c_new:, kept] = old_value[c_old:, features[kept]]
        return value
    if name.endswith(_LSTM_KERNEL):  # [C + U, 4U]: rows features then LSTM state
        c_old = old_value.shape[0] - (value.shape[0] - c_new)
        if c_old <= 0 or old_value.shape[1] != value.shape[1]:
            return None
        features = feature_map(classes, c_old)
        kept = features >= 0
        value[:c_new] = 0.0  # a feature with no old one starts silent
        value[np.flatnonzero(kept)] = old_value[features[kept]]
        value[c_new:] = old_value[c_old:]
        return value
    return None


def plan_charset_transfer(variables, checkpoint: str, old: Charset, new: Charset):
    """[(variable, old value)] for the per-character variables of `variables` whose shape in
    `checkpoint` differs because the charsets do; empty when the charsets are equal."""
    from plateocr.model.compat import tf

    if old.chars == new.chars and old.null_code == new.null_code:
        return []
    reader = tf.train.load_checkpoint(checkpoint)
    shapes = reader.get_variable_to_shape_map()
    plan = []
    for v in variables:
        name = v.op.name
        if name.endswith(_SUFFIXES) and name in shapes and list(shapes[name]) != v.shape.as_list():
            plan.append((v, reader.get_tensor(name)))
    return plan


def apply_charset_transfer(session, plan, mapping: np.ndarray) -> tuple[list[str], list[str]]:
    """Load the rebuilt values into the (initialised) variables; (done, not possible) names."""
    done, failed = [], []
    for v, old_value in plan:
        name = v.op.name
        value = transfer_value(name, old_value, session.run(v), mapping)
        if value is None:
            failed.append(name)
            continue
        v.load(value, session)
        done.append(name)
    return done, failed
