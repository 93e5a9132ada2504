"""The learning rate (constant or cosine, with warm-up) and the optimizer a run trains with."""

from __future__ import annotations

import math

from plateocr.training.options import TrainOptions


def learning_rate(opts: TrainOptions, global_step):
    from plateocr.model.compat import tf, tf1

    lr = tf.constant(opts.learning_rate, tf.float32)
    step = tf.cast(global_step, tf.float32)
    if opts.schedule == "cosine":
        progress = tf.minimum(step / float(max(1, opts.steps)), 1.0)
        lr = lr * 0.5 * (1.0 + tf.cos(math.pi * progress))
    if opts.warmup_steps > 0:
        lr = lr * tf.minimum(1.0, (step + 1.0) / float(opts.warmup_steps))
    return tf1.identity(lr, name="learning_rate")


def optimizer_for(opts: TrainOptions, lr):
    from plateocr.model.compat import tf1

    if opts.optimizer == "momentum":
        return tf1.train.MomentumOptimizer(lr, opts.momentum)
    if opts.optimizer == "adam":
        return tf1.train.AdamOptimizer(lr)
    if opts.optimizer == "rmsprop":
        return tf1.train.RMSPropOptimizer(lr, momentum=opts.momentum)
    return tf1.train.GradientDescentOptimizer(lr)
