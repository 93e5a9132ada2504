"""The training graph: input batches, the train step, summaries, the saver and, for a new model,
the restore plans (graph ops, so built before the graph is finalized)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from plateocr.inference.decoding import texts_tf
from plateocr.model.modeldir import ModelDir
from plateocr.training.optimizers import learning_rate, optimizer_for
from plateocr.training.options import TrainOptions
from plateocr.training.restore import inception_name, plan_restore, plan_transfer


@dataclass
class TrainGraph:
    graph: object
    global_step: object
    train_op: object
    loss: object
    summary_op: object
    saver: object
    init_op: object
    writer: object
    latest: str | None  # the checkpoint to resume from
    restores: list  # [(what, checkpoint, saver, restored names, skipped names)] for a new model
    asked_restore: bool
    transfer: tuple | None = None  # (charset_transfer plan, class map) for a new model


def build_graph(
    md: ModelDir, records_dir, spec, opts: TrainOptions, ckpt_arg, incep_arg, train_input=None
) -> TrainGraph:
    from plateocr.model.compat import tf, tf1
    from plateocr.training.data import batches, train_examples
    from plateocr.model.metrics import char_accuracy_tf, sequence_accuracy_tf
    from plateocr.training.train_step import build_train_step

    config = md.config
    charset = md.charset
    graph = tf.Graph()
    with graph.as_default():
        if opts.seed is not None:
            tf1.set_random_seed(opts.seed)
        if train_input is not None:
            ds = train_input(opts)
        else:
            ds = train_examples(
                records_dir, spec, augment=opts.augment, shuffle_buffer=opts.shuffle_buffer, seed=opts.seed
            )
            if opts.synthetic_share:
                from plateocr.training.synthetic_data import with_synthetic

                seed = opts.seed if opts.seed is not None else time.time_ns() % 2**31
                ds = with_synthetic(ds, charset, spec, opts.synthetic_share, seed=seed)
            ds = batches(ds, opts.batch_size)
        batch = tf1.data.make_one_shot_iterator(ds).get_next()
        global_step = tf1.train.get_or_create_global_step()
        lr = learning_rate(opts, global_step)
        optimizer = optimizer_for(opts, lr)
        step = build_train_step(
            batch["images"],
            batch["labels"],
            config,
            optimizer,
            clip_norm=opts.clip_gradient_norm,
            micro_batches=opts.micro_batches,
            global_step=global_step,
            train_layers=opts.train_layers,
            freeze_batch_norm=opts.freeze_batch_norm,
        )
        endpoints, losses, grad_norm, train_op = step.endpoints, step.losses, step.gradient_norm, step.train_op
        # What a checkpoint of the model holds: not the step counter, not optimizer slots.
        optimizer_vars = {v.name for v in optimizer.variables()}
        model_vars = [v for v in tf1.global_variables() if v is not global_step and v.name not in optimizer_vars]
        char_acc = char_accuracy_tf(endpoints.predicted_chars, batch["labels"], charset.null_code)
        seq_acc = sequence_accuracy_tf(endpoints.predicted_chars, batch["labels"], charset.null_code)
        samples = tf.strings.join(
            [texts_tf(batch["labels"][:4], charset), " -> ", texts_tf(endpoints.predicted_chars[:4], charset)]
        )
        summary_op = tf1.summary.merge(
            [
                tf1.summary.scalar("loss/total", losses.total),
                tf1.summary.scalar("loss/sequence", losses.sequence),
                tf1.summary.scalar("loss/regularization", losses.regularization),
                tf1.summary.scalar("train/character_accuracy", char_acc),
                tf1.summary.scalar("train/sequence_accuracy", seq_acc),
                tf1.summary.scalar("train/learning_rate", lr),
                tf1.summary.scalar("train/gradient_norm", grad_norm),
                tf1.summary.text("train/truth_vs_prediction", samples),
            ]
        )
        saver = tf1.train.Saver(max_to_keep=opts.keep_checkpoints, save_relative_paths=True)
        init_op = tf1.global_variables_initializer()
        writer = tf1.summary.FileWriter(str(md.path))  # needs graph mode to construct
        latest = md.resume_checkpoint()
        restores, transfer = [], None
        if not latest:  # restore savers are graph ops: build them before finalizing
            if incep_arg:
                restores.append(("conv tower", incep_arg, *plan_restore(model_vars, incep_arg, inception_name)))
            if ckpt_arg:
                restores.append(("model", ckpt_arg, *plan_restore(model_vars, ckpt_arg)))
                transfer = plan_transfer(model_vars, ckpt_arg, charset)
    graph.finalize()
    return TrainGraph(
        graph,
        global_step,
        train_op,
        losses.total,
        summary_op,
        saver,
        init_op,
        writer,
        latest,
        restores,
        bool(ckpt_arg or incep_arg),
        transfer,
    )
