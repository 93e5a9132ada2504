"""One training step as a graph: model, loss, gradients, clipping, batch-norm updates.

``build_train_step(images, labels, config, optimizer, clip_norm, micro_batches)`` builds the
attention OCR model on a batch and the op that applies one optimizer update to it.

Micro-batches trade a little speed for memory: the batch is split into ``micro_batches`` equal
parts that run forward and backward one after the other (control dependencies keep the next
part's forward from starting before the previous part's gradients exist), so only one part's
activations are alive at a time; their gradients are summed and clipped together, so the
update equals a full-batch update except that batch-norm statistics come from each part. The
moving averages are updated once per step, from the first part. With 200x200 inputs on CPU,
batch 32 peaks at ~1.85 GB RSS in one part, 1.47-1.55 GB in two and ~1.35 GB in four
(benchmarks/train_speed.py); two parts cost ~5-10% more CPU per step than one, four ~10-15%. The parts are unrolled in the graph
(not a tf.while_loop): each is the same graph as a whole batch of that size.
"""

from __future__ import annotations

from typing import NamedTuple

from plateocr.model.compat import tf, tf1
from plateocr.model.config import ModelConfig
from plateocr.model.losses import Losses, regularization_loss, sequence_loss
from plateocr.model.network import Endpoints, build_model
from plateocr.training.train_layers import is_trained


class TrainStep(NamedTuple):
    train_op: "tf.Operation"
    losses: Losses
    endpoints: Endpoints  # of the whole batch (parts concatenated)
    gradient_norm: "tf.Tensor"  # global norm before clipping
    grads_and_vars: list  # the (clipped) gradients applied


def _concat_endpoints(parts: list[Endpoints]) -> Endpoints:
    if len(parts) == 1:
        return parts[0]
    return Endpoints(*(tf.concat(list(tensors), axis=0) for tensors in zip(*parts)))


def build_train_step(
    images,
    labels,
    config: ModelConfig,
    optimizer,
    clip_norm: float | None = 2.0,
    micro_batches: int = 1,
    global_step=None,
    train_layers: str = "all",
    freeze_batch_norm: bool = False,
) -> TrainStep:
    """images uint8 [B, H, W, 3], labels int [B, L]; B must be a multiple of micro_batches.

    train_layers: which variables get updates (train_layers.TRAIN_LAYERS); freeze_batch_norm:
    normalise with the moving averages and leave them as they are (short fine-tunes on few
    images, whose batch statistics are noisy).
    """
    if micro_batches < 1:
        raise ValueError(f"micro_batches must be >= 1, got {micro_batches}")
    batch = images.shape[0]
    if batch is not None and batch % micro_batches:
        raise ValueError(f"batch size {batch} is not a multiple of micro_batches {micro_batches}")
    labels = tf.cast(labels, tf.int32)
    image_parts = tf.split(images, micro_batches) if micro_batches > 1 else [images]
    label_parts = tf.split(labels, micro_batches) if micro_batches > 1 else [labels]

    parts, seq_losses, summed, update_ops, variables, reg = [], [], None, None, None, None
    for i, (part_images, part_labels) in enumerate(zip(image_parts, label_parts)):
        with tf.control_dependencies(summed or []):
            part_images = tf.identity(part_images)
            part_labels = tf.identity(part_labels)
        updates_before = len(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS))
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=True if i else None):
            endpoints = build_model(
                part_images,
                config,
                is_training=True,
                labels=part_labels,
                batch_norm_training=False if freeze_batch_norm else None,
            )
        seq = sequence_loss(endpoints.chars_logit, part_labels, config.num_classes, config.label_smoothing)
        if i == 0:
            update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)[updates_before:]
            reg = regularization_loss()
            objective = seq / micro_batches + reg
            candidates = [v for v in tf1.trainable_variables() if is_trained(v.op.name, train_layers)]
            grads = tf.gradients(objective, candidates)
            variables = [v for v, g in zip(candidates, grads) if g is not None]
            summed = [g for g in grads if g is not None]
        else:
            grads = tf.gradients(seq / micro_batches, variables)
            summed = [s if g is None else s + g for s, g in zip(summed, grads)]
        parts.append(endpoints)
        seq_losses.append(seq)

    sequence = tf.add_n(seq_losses) / micro_batches if micro_batches > 1 else seq_losses[0]
    if clip_norm:
        summed, norm = tf.clip_by_global_norm(summed, clip_norm)
    else:
        norm = tf.linalg.global_norm(summed)
    with tf.control_dependencies(update_ops):
        train_op = optimizer.apply_gradients(zip(summed, variables), global_step=global_step)
    losses = Losses(total=tf.add(sequence, reg, name="total_loss"), sequence=sequence, regularization=reg)
    return TrainStep(train_op, losses, _concat_endpoints(parts), norm, list(zip(summed, variables)))
