"""Restoring a checkpoint into a graph's session, where a checkpoint that does not fit is one
clear error: the reader, the evaluator, the exporter, the detector and its trainer all restore
through restore_checkpoint."""

from __future__ import annotations

from plateocr.errors import PlateOCRError, tf_error_message


def _check_shapes(graph, checkpoint: str) -> None:
    """ValueError naming the first variable whose shape differs from the checkpoint's: resource
    variables take a tensor of another shape without complaint, which would leave a network of
    another config quietly broken."""
    from plateocr.model.compat import tf, tf1

    stored = dict(tf.train.list_variables(checkpoint))
    for v in graph.get_collection(tf1.GraphKeys.GLOBAL_VARIABLES):
        name = v.op.name
        if name in stored and list(stored[name]) != v.shape.as_list():
            raise ValueError(f"{name} has shape {list(stored[name])} there, {v.shape.as_list()} in this network")


def restore_checkpoint(session, saver, checkpoint: str, what: str = "the model") -> None:
    """saver.restore, a checkpoint that does not fit the graph (or is damaged) a PlateOCRError."""
    from plateocr.model.compat import tf

    try:
        _check_shapes(session.graph, checkpoint)
        saver.restore(session, checkpoint)
    except (tf.errors.OpError, ValueError) as e:
        raise PlateOCRError(
            f"{checkpoint}: cannot restore {what} from this checkpoint ({tf_error_message(e)})"
        ) from None
