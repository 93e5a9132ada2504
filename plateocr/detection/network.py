"""The plate detector: a small centre-point network (CenterNet's idea) in graph mode.

``build_detector(images, config, is_training) -> DetectorOutputs``. A MobileNet-like backbone of
depthwise-separable convolutions down to stride 32 (wide context for wide plates), a top-down
path back to stride 4 with lateral 1x1 convolutions (small plates), then three heads per cell
of the stride-4 grid: the probability that a plate's centre falls in the cell, the plate's size
(log of width and height in cells) and the centre's place inside the cell. Decoding picks the
heatmap's local maxima (plateocr.detection.geometry.decode). Plates are axis-aligned boxes, as
the annotation CSV has them; ~0.3 M weights, ~1.3 MB as float32.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from plateocr.detection.config import DetectorConfig
from plateocr.model.compat import slim, tf, tf1

SCOPE = "PlateDetector"
PRIOR = 0.01  # the heatmap's initial probability everywhere (focal loss's usual start)


class DetectorOutputs(NamedTuple):
    heatmap_logits: "tf.Tensor"  # [B, H/4, W/4] float32
    heatmap: "tf.Tensor"  # [B, H/4, W/4] probabilities
    peaks: "tf.Tensor"  # [B, H/4, W/4] the heatmap where it is a 3x3 local maximum, else 0
    size: "tf.Tensor"  # [B, H/4, W/4, 2] log(width / stride), log(height / stride)
    offset: "tf.Tensor"  # [B, H/4, W/4, 2] centre's x, y inside its cell, in [0, 1]


def _block(net, width: int, stride: int = 1, rate: int = 1, scope: str | None = None):
    """Depthwise 3x3 then pointwise 1x1, each batch-normalised (MobileNet v1's unit)."""
    return slim.separable_conv2d(net, width, [3, 3], depth_multiplier=1, stride=stride, rate=rate, scope=scope)


def _upsample(net):
    h, w = net.shape.as_list()[1:3]
    return tf1.image.resize_nearest_neighbor(net, [h * 2, w * 2])


def build_detector(images, config: DetectorConfig, is_training: bool) -> DetectorOutputs:
    """images: uint8 RGB [B, input_height, input_width, 3]."""
    w = config.widths
    x = tf.cast(images, tf.float32) / 127.5 - 1.0
    regularizer = slim.l2_regularizer(config.weight_decay)
    with tf1.variable_scope(SCOPE):
        with (
            slim.arg_scope(
                [slim.conv2d, slim.separable_conv2d],
                normalizer_fn=slim.batch_norm,
                activation_fn=tf.nn.relu6,
                weights_regularizer=regularizer,
            ),
            slim.arg_scope([slim.batch_norm], is_training=is_training, decay=config.batch_norm_decay, scale=True),
        ):
            c1 = slim.conv2d(x, w[0], [3, 3], stride=2, scope="stem")  # stride 2
            c2 = _block(_block(c1, w[1], 2, scope="s4_a"), w[1], scope="s4_b")  # 4
            c3 = _block(_block(c2, w[2], 2, scope="s8_a"), w[2], scope="s8_b")  # 8
            c4 = _block(c3, w[3], 2, scope="s16_a")
            c4 = _block(_block(c4, w[3], scope="s16_b"), w[3], rate=2, scope="s16_c")  # 16
            c5 = _block(c4, w[4], 2, scope="s32_a")
            c5 = _block(_block(c5, w[4], scope="s32_b"), w[4], rate=2, scope="s32_c")  # 32
            hw = config.head_width
            p = slim.conv2d(c5, hw, [1, 1], scope="top32")
            for level, lateral in (("16", c4), ("8", c3), ("4", c2)):
                p = _upsample(p) + slim.conv2d(lateral, hw, [1, 1], scope=f"lateral{level}")
                p = _block(p, hw, scope=f"merge{level}")
            heads = {}
            for name, depth in (("heatmap", 1), ("size", 2), ("offset", 2)):
                h = slim.conv2d(p, hw, [3, 3], scope=f"{name}_hidden")
                bias = -math.log((1 - PRIOR) / PRIOR) if name == "heatmap" else 0.0
                heads[name] = slim.conv2d(
                    h,
                    depth,
                    [1, 1],
                    activation_fn=None,
                    normalizer_fn=None,
                    biases_initializer=tf1.constant_initializer(bias),
                    scope=f"{name}_out",
                )
    logits = heads["heatmap"][..., 0]
    heatmap = tf.sigmoid(logits)
    pooled = tf.nn.max_pool2d(heatmap[..., None], 3, 1, "SAME")[..., 0]
    peaks = heatmap * tf.cast(tf.equal(heatmap, pooled), tf.float32)
    return DetectorOutputs(logits, heatmap, peaks, heads["size"], tf.sigmoid(heads["offset"]))


def detector_loss(outputs: DetectorOutputs, heatmap, size, offset, mask):
    """Focal loss on the heatmap (CenterNet's: alpha 2, beta 4) plus L1 on the size and offset at
    plate centres, each summed over the batch and divided by its number of plates.

    heatmap [B, h, w] targets in [0, 1] (1 at centres); size, offset [B, h, w, 2]; mask [B, h, w].
    Returns (total, parts dict)."""
    logits = outputs.heatmap_logits
    p = tf.sigmoid(logits)
    log_p = tf.math.log_sigmoid(logits)
    log_not_p = tf.math.log_sigmoid(-logits)
    positive = tf.cast(heatmap >= 1.0, tf.float32)
    pos_loss = -positive * tf.square(1 - p) * log_p
    neg_loss = -(1 - positive) * tf.pow(1 - heatmap, 4) * tf.square(p) * log_not_p
    plates = tf.maximum(tf.reduce_sum(mask), 1.0)
    focal = tf.reduce_sum(pos_loss + neg_loss) / plates
    m = mask[..., None]
    size_l1 = tf.reduce_sum(tf.abs(outputs.size - size) * m) / plates
    offset_l1 = tf.reduce_sum(tf.abs(outputs.offset - offset) * m) / plates
    total = focal + size_l1 + offset_l1
    return total, {"heatmap": focal, "size": size_l1, "offset": offset_l1}
