"""The attention OCR network: InceptionV3 tower + attention LSTM decoder, in graph mode.

``build_model(images, config, is_training, labels=None) -> Endpoints``. Variable names equal the
upstream attention_ocr ones (``AttentionOcr_v1/conv_tower_fn/INCE/InceptionV3/...`` and
``AttentionOcr_v1/sequence_logit_fn/SQLR/...``) so its slim checkpoints load.

Training (is_training=True) needs labels: step i is fed the one-hot TRUE character i-1 (teacher
forcing). Otherwise step i is fed the one-hot argmax of step i-1 and labels are ignored. Step 0
is fed zeros. Batch-norm update ops go to tf.compat.v1.GraphKeys.UPDATE_OPS (the training op
must depend on them); L2 losses go to REGULARIZATION_LOSSES (see losses.py).
"""

from __future__ import annotations

from typing import NamedTuple

from plateocr.model.compat import inception_v3, slim, tf, tf1
from plateocr.model.config import ModelConfig
from plateocr.model.decoder import attention_decoder

SCOPE = "AttentionOcr_v1"


class Endpoints(NamedTuple):
    chars_logit: "tf.Tensor"  # [B, L, C] float32
    chars_log_prob: "tf.Tensor"  # [B, L, C] float32
    predicted_chars: "tf.Tensor"  # [B, L] int32
    predicted_scores: "tf.Tensor"  # [B, L] float32, probability of each predicted id
    sequence_confidence: "tf.Tensor"  # [B] float32
    attention_masks: "tf.Tensor"  # [B, L, h, w*views] float32, sums to 1 over (h, w*views)
    features: "tf.Tensor"  # [B, N, D] attention states (tower output, coordinates, views)


def preprocess_images(images):
    """uint8 [0, 255] (or float [0, 1]) -> float32 (x - 0.5) * 2.5, as upstream trains."""
    images = tf.image.convert_image_dtype(images, tf.float32)
    return (images - 0.5) * 2.5


def conv_tower(images, config: ModelConfig, is_training: bool):
    """InceptionV3 base up to config.final_endpoint, slim's InceptionV3 arg scope."""
    arg_scope = inception_v3.inception_v3_arg_scope(
        weight_decay=config.weight_decay,
        batch_norm_decay=config.batch_norm_decay,
        batch_norm_epsilon=config.batch_norm_epsilon,
    )
    with tf1.variable_scope("conv_tower_fn/INCE"):
        with slim.arg_scope(arg_scope):
            with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
                net, _ = inception_v3.inception_v3_base(
                    images, final_endpoint=config.final_endpoint, scope="InceptionV3"
                )
    return net


def encode_coordinates(net):
    """Append one-hot row then column indices to every position of [B, h, w, d]."""
    _, h, w, _ = net.shape.as_list()
    rows, cols = tf.meshgrid(tf.range(h), tf.range(w), indexing="ij")
    loc = tf.concat([tf.one_hot(rows, h), tf.one_hot(cols, w)], axis=2)  # [h, w, h + w]
    loc = tf.tile(loc[None], tf.stack([tf.shape(net)[0], 1, 1, 1]))
    return tf.concat([net, loc], axis=3)


def attention_states(images, config: ModelConfig, is_training: bool):
    """Views through one shared tower -> [B, views*h*w, d]; also returns the grid (h, w).
    is_training: batch norm from batch statistics (updating the moving averages), dropout on."""
    views = config.num_of_views
    if views > 1:
        # All views in one tower call (batch [views*B]) rather than one call per view: same
        # weights, one set of ops (batch-norm statistics then pool all views, where upstream
        # takes them per view). Order of positions: view, row, column (upstream's).
        stacked = tf.concat(tf.split(images, views, axis=2), axis=0)
    else:
        stacked = images
    net = conv_tower(stacked, config, is_training)
    if config.use_coordinates:
        net = encode_coordinates(net)
    _, h, w, depth = net.shape.as_list()
    if views > 1:
        net = tf.reshape(net, tf.stack([views, -1, h, w, depth]))
        net = tf.transpose(net, [1, 0, 2, 3, 4])
    return tf.reshape(net, [-1, views * h * w, depth]), (h, w)


def sequence_confidence(predicted_chars, predicted_scores, null_code: int):
    """Product of the scores up to and including the first null (the whole row if none)."""
    is_null = tf.cast(tf.equal(predicted_chars, null_code), tf.int32)
    nulls_before = tf.cumsum(is_null, axis=1, exclusive=True)
    kept = tf.where(nulls_before > 0, tf.ones_like(predicted_scores), predicted_scores)
    return tf.reduce_prod(kept, axis=1)


def build_model(images, config: ModelConfig, is_training: bool, labels=None, batch_norm_training=None) -> Endpoints:
    """Build the network on ``images`` (uint8 [B, H, W*views, 3] RGB) in the current graph.

    batch_norm_training=False trains with frozen batch norm (the moving averages normalise and
    are not updated); None follows is_training.
    """
    if is_training and labels is None:
        raise ValueError("build_model: training (teacher forcing) needs labels")
    height, width, channels = config.image_shape
    if not images.shape.is_compatible_with([None, height, width, channels]):
        raise ValueError(
            f"build_model: images must be [batch, {height}, {width}, {channels}] for this config, got {images.shape}"
        )
    images = tf.ensure_shape(images, [None, height, width, channels])
    num_classes = config.num_classes
    num_steps = config.max_sequence_length

    with tf1.variable_scope(SCOPE):
        states, (grid_h, grid_w) = attention_states(
            preprocess_images(images), config, is_training if batch_norm_training is None else batch_norm_training
        )
        with tf1.variable_scope("sequence_logit_fn/SQLR"):
            regularizer = slim.l2_regularizer(config.weight_decay)
            softmax_w = slim.model_variable(
                "softmax_w",
                [config.lstm_units, num_classes],
                initializer=tf1.orthogonal_initializer(),
                regularizer=regularizer,
            )
            softmax_b = slim.model_variable(
                "softmax_b", [num_classes], initializer=tf1.zeros_initializer(), regularizer=regularizer
            )

            def char_logit(output):
                return tf.matmul(output, softmax_w) + softmax_b

            if is_training:
                labels = tf.ensure_shape(tf.cast(labels, tf.int32), [None, num_steps])
                true_one_hot = tf.one_hot(labels, num_classes)

                def next_input(i, _prev_output):
                    return true_one_hot[:, i - 1, :]
            else:

                def next_input(_i, prev_output):
                    return tf.one_hot(tf.argmax(char_logit(prev_output), axis=1), num_classes)

            first_input = tf.zeros(tf.stack([tf.shape(states)[0], num_classes]))
            first_input.set_shape([None, num_classes])
            with tf1.variable_scope("LSTM"):
                decoded = attention_decoder(
                    states,
                    first_input,
                    num_steps=num_steps,
                    num_units=config.lstm_units,
                    cell_clip=config.lstm_cell_clip,
                    next_input=next_input,
                )
            chars_logit = tf.stack([char_logit(o) for o in decoded.outputs], axis=1)

        with tf1.name_scope("predictions"):
            chars_log_prob = tf.nn.log_softmax(chars_logit)
            predicted_chars = tf.argmax(chars_logit, axis=2, output_type=tf.int32)
            predicted_scores = tf.reduce_max(tf.nn.softmax(chars_logit), axis=2)
            confidence = sequence_confidence(predicted_chars, predicted_scores, config.null_code)
            # Positions are ordered (view, row, column); show them as the input is laid out:
            # rows down, views side by side.
            weights = tf.stack(decoded.attention_weights, axis=1)  # [B, L, views*h*w]
            weights = tf.reshape(weights, [-1, num_steps, config.num_of_views, grid_h, grid_w])
            weights = tf.transpose(weights, [0, 1, 3, 2, 4])
            attention_masks = tf.reshape(weights, [-1, num_steps, grid_h, config.num_of_views * grid_w])

    return Endpoints(
        chars_logit=tf.identity(chars_logit, name="chars_logit"),
        chars_log_prob=tf.identity(chars_log_prob, name="chars_log_prob"),
        predicted_chars=tf.identity(predicted_chars, name="predicted_chars"),
        predicted_scores=tf.identity(predicted_scores, name="predicted_scores"),
        sequence_confidence=tf.identity(confidence, name="sequence_confidence"),
        attention_masks=tf.identity(attention_masks, name="attention_masks"),
        features=states,
    )
