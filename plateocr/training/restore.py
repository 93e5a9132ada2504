"""What a new model starts from: the checkpoint given as a path, restore plans for the variables
that fit by name and shape, the per-character transfer from a plateocr model with another
charset, and initialising (or resuming) a training session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from plateocr.charset import Charset
from plateocr.errors import PlateOCRError, tf_error_message
from plateocr.model.modeldir import ModelDir

if TYPE_CHECKING:
    from plateocr.training.graph import TrainGraph
    from plateocr.training.loop import TrainListener

INCEPTION_SCOPE = "AttentionOcr_v1/conv_tower_fn/INCE/"  # + InceptionV3/... as in ImageNet checkpoints


def plan_restore(variables, checkpoint: str, name_map=None):
    """A Saver for each of `variables` whose (mapped) name is in `checkpoint` with the same shape.

    Build it before the graph is finalized; returns (saver or None, restored names, skipped
    names with why).
    """
    from plateocr.model.compat import tf, tf1

    try:
        reader = tf.train.load_checkpoint(checkpoint)
    except (tf.errors.OpError, ValueError) as e:
        raise PlateOCRError(f"{checkpoint}: cannot read checkpoint ({tf_error_message(e)})") from None
    shapes = reader.get_variable_to_shape_map()
    to_restore, restored, skipped = {}, [], []
    for v in variables:
        name = v.op.name
        source = name_map(name) if name_map else name
        if source is None:
            continue  # not a variable this checkpoint can hold
        if source not in shapes:
            skipped.append(f"{name} (not in checkpoint)")
        elif list(shapes[source]) != v.shape.as_list():
            skipped.append(f"{name} (shape {v.shape.as_list()} != {list(shapes[source])})")
        else:
            to_restore[source] = v
            restored.append(name)
    saver = tf1.train.Saver(to_restore) if to_restore else None
    return saver, restored, skipped


def inception_name(name: str) -> str | None:
    """Our conv tower variable name -> its name in an ImageNet InceptionV3 slim checkpoint."""
    return name[len(INCEPTION_SCOPE) :] if name.startswith(INCEPTION_SCOPE) else None


def resolve_checkpoint_arg(path: str | os.PathLike) -> str:
    """A checkpoint prefix, or a folder (a plateocr model dir or any folder with a state file)."""
    p = Path(path)
    if p.is_dir():
        if ModelDir.exists(p):
            return ModelDir(p).resolve_checkpoint()
        from plateocr.model.checkpoint_folder import _latest_in

        found = _latest_in(p)
        if found is None:
            raise PlateOCRError(f"{p}: no checkpoint in this folder")
        return found
    if Path(f"{p}.index").is_file() or p.is_file():
        return str(p)
    raise PlateOCRError(f"{p}: checkpoint not found")


def source_model_dir(checkpoint: str) -> ModelDir | None:
    """The plateocr model dir holding `checkpoint` (also in its best/), None for a foreign one."""
    for folder in (Path(checkpoint).parent, Path(checkpoint).parent.parent):
        if ModelDir.exists(folder):
            return ModelDir(folder)
    return None


def base_architecture(checkpoint: str) -> dict:
    """The ModelConfig settings (not the data-given ones) of the plateocr model dir holding
    `checkpoint`; empty for a foreign checkpoint (e.g. upstream's)."""
    source = source_model_dir(checkpoint)
    if source is None:
        return {}
    data_given = {"image_shape", "num_of_views", "max_sequence_length", "num_classes", "null_code", "version"}
    return {k: v for k, v in source.config_dict.items() if k not in data_given}


def plan_transfer(model_vars, checkpoint: str, charset: Charset):
    """The per-character rebuild of the decoder's class-sized variables, when `checkpoint` is a
    plateocr model with another charset (None otherwise)."""
    from plateocr.model.charset_transfer import class_map, plan_charset_transfer

    source = source_model_dir(checkpoint)
    if source is None:
        return None
    plan = plan_charset_transfer(model_vars, checkpoint, source.charset, charset)
    return (plan, class_map(source.charset, charset)) if plan else None


def initialize(g: TrainGraph, session, listener: TrainListener, md: ModelDir) -> tuple[list[str], list[str]]:
    """Resume from the latest checkpoint, or initialise and fill from --init-from / --checkpoint-inception."""
    from plateocr.model.compat import tf

    restored, skipped = [], []
    if g.latest:
        try:
            g.saver.restore(session, g.latest)
        except (tf.errors.OpError, ValueError) as e:
            raise PlateOCRError(
                f"{g.latest}: cannot resume from this checkpoint ({tf_error_message(e)}); "
                "use another --model-dir, or --force to start over"
            ) from None
        listener.message(f"resuming from {g.latest}")
        # The saver rotates only what it saved: hand it the earlier runs' checkpoints too, so
        # that no more than keep_checkpoints stay after a resume (e.g. after Ctrl-C).
        g.saver.recover_last_checkpoints(md.checkpoints())
        if g.asked_restore:
            listener.message("--init-from/--checkpoint-inception ignored: the model dir already has a checkpoint")
    else:
        session.run(g.init_op)
        for what, ckpt, restore_saver, r, sk in g.restores:
            if restore_saver is None:
                raise PlateOCRError(f"{ckpt}: none of its variables fits the {what}")
            restore_saver.restore(session, ckpt)
            restored += r
            skipped += sk
            listener.message(f"{what}: restored {len(r)} variables from {ckpt}, skipped {len(sk)}")
            for line in sk:
                listener.message(f"  skipped {line}")
        if g.transfer:
            from plateocr.model.charset_transfer import apply_charset_transfer

            plan, mapping = g.transfer
            done, failed = apply_charset_transfer(session, plan, mapping)
            restored += done
            skipped = [s for s in skipped if s.split(" ", 1)[0] not in done]
            listener.message(
                f"charset: {len(done)} per-character variables carried over for the "
                f"{int((mapping >= 0).sum())} of {len(mapping)} classes the checkpoint knows"
            )
    return restored, skipped
