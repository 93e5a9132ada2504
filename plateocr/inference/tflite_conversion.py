"""Converting a graph to TensorFlow Lite: the one conversion of plateocr (`export --tflite`, the
reader's and the detector's LiteRT models). Its source is part of the key of every stored TFLite
model (plateocr.inference.tflite_store), so it is kept apart from the exporter's other code: a
change to the SavedModel's signatures leaves the stored models current.
"""

from __future__ import annotations

import contextlib

from plateocr.errors import PlateOCRError, tf_error_message


@contextlib.contextmanager
def quiet_tensorflow():
    """The v1 SavedModel and converter APIs log deprecation notices users cannot act on."""
    from plateocr.model.compat import tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def tflite_flatbuffer(
    session, inputs: list, outputs: list, flex: bool = True, metadata: bool = True, float16_weights: bool = False
) -> tuple[bytes, bool]:
    """The TFLite model of `outputs` fed by `inputs`, weights from `session`: built-in ops only,
    else, with `flex`, TensorFlow's (Flex) ops too. Returns (model, whether it needs Flex ops).
    The one conversion of plateocr: `export --tflite` and the reader's LiteRT graph
    (plateocr.inference.litert_runner, flex=False: the LiteRT wheel has no Flex delegate).
    metadata False leaves out the converter's conversion metadata (its version, options and a
    model hash), which it adds by re-encoding the whole model in Python (~0.06 s of CPU).
    float16_weights stores the weights as float16 (half the file; LiteRT computes in float32 on
    them: readings move by float16 rounding, so only where they were checked to hold)."""
    from plateocr.model.compat import tf, tf1
    from plateocr.native_stderr import quiet_native_stderr

    def convert(ops):
        converter = tf1.lite.TFLiteConverter.from_session(session, inputs, outputs)
        converter.target_spec.supported_ops = ops
        converter.exclude_conversion_metadata = not metadata
        if float16_weights:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        # quiet: grappler's C++ "Init node ... doesn't exist in graph" about the Saver's ops
        with quiet_native_stderr():
            return converter.convert()

    def failed(e: Exception) -> PlateOCRError:  # the converter raises many kinds; report the line that says why
        return PlateOCRError(f"TensorFlow Lite conversion failed: {tf_error_message(e)}")

    with quiet_tensorflow():
        try:
            return convert([tf.lite.OpsSet.TFLITE_BUILTINS]), False
        except Exception as e:  # some op has no TFLite kernel: fall back to TensorFlow's (Flex) ops
            if not flex:
                raise failed(e) from None
        try:
            return convert([tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]), True
        except Exception as e:
            raise failed(e) from None
