"""Reading through LiteRT (ai-edge-litert), PlateReader's default backend.

The model's inference graph (plateocr.inference.graph_cache: uint8 images [B, H, W, 3] ->
greedy decoding, with each step's distribution and the attention masks) is converted to
TensorFlow Lite with a checkpoint's weights (plateocr.inference.tflite_conversion.tflite_flatbuffer,
built-in ops only) the first time that checkpoint is read, and stored beside the checkpoint in
the model directory and in the user's cache directory (plateocr.inference.tflite_store, keyed by
the code, the model config and the checkpoint's digest; the bundled base model ships with its
own). Once it is there, reading imports no TensorFlow: LiteRT loads in a few hundredths of a
second where TensorFlow takes seconds. The first use opens one interpreter: the one that checked
the conversion reads. The views, their vote and the format search run on its outputs in the same
NumPy code as on TensorFlow's (PlateReader.run), so both backends read alike: the same texts,
confidences within float rounding (tested on crops).

LiteRTRunner.run(images, names) is to this backend what session.run(fetches, feed) is to the
TensorFlow one: a batch in, the named outputs (OUTPUTS) out. The interpreter's input is resized
to each batch size as it comes (XNNPACK reshapes in place: a fraction of a millisecond), on
the XNNPACK delegate with as many threads as this process has cores (benchmarks/predict_speed.py
measures threads and delegates side by side; docs/reading_measured.md has the figures).
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Iterable

import numpy as np

from plateocr.errors import PlateOCRError, tf_error_message
from plateocr.native_stderr import quiet_native_stderr
from plateocr.workers import cpu_count

# The graph's outputs, named as PlateReader fetches them from either backend.
OUTPUTS = ("chars", "scores", "confidence", "probs", "attention")
CHECK_TOLERANCE = 1e-4  # the converted graph's distributions against TensorFlow's, on a sample
# ... with float16 weights (the bundled base model's shipped file): rounding moves them by up to
# ~0.01 on real crops (texts unchanged: tests/test_litert.py); a wrong graph moves them by far more
FLOAT16_CHECK_TOLERANCE = 0.05


class LiteRTUnavailable(PlateOCRError):
    """This model cannot be read with LiteRT here (the runtime missing or broken, the graph not
    convertible to built-in ops): PlateReader's "auto" backend reads with TensorFlow instead."""


def available() -> bool:
    """ai-edge-litert is installed (looked up without importing it)."""
    return importlib.util.find_spec("ai_edge_litert") is not None


class LiteRTRunner:
    """One LiteRT interpreter on a plateocr TFLite model (bytes). Thread-safe: one run at a time.

    threads: the interpreter's CPU threads (default: the cores this process may use).
    xnnpack: False runs LiteRT's built-in kernels instead of the XNNPACK delegate (for measuring).
    """

    def __init__(self, model: bytes, threads: int | None = None, xnnpack: bool = True, outputs=OUTPUTS):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        from plateocr.inference.export import tflite_output_name

        resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        # LiteRT logs "Created TensorFlow Lite XNNPACK delegate" on its first allocation
        with quiet_native_stderr():
            self._interpreter = Interpreter(
                model_content=model, num_threads=threads or cpu_count(), experimental_op_resolver_type=resolver
            )
            self._interpreter.allocate_tensors()
        detail = self._interpreter.get_input_details()[0]
        self._input = detail["index"]
        self._shape = tuple(detail["shape"])
        self._outputs = {tflite_output_name(d): d["index"] for d in self._interpreter.get_output_details()}
        missing = set(outputs) - set(self._outputs)
        if missing:
            raise ValueError(f"not the plateocr graph expected: no output(s) {', '.join(sorted(missing))}")
        self.outputs = tuple(outputs)
        self._lock = threading.Lock()

    def run(self, images: np.ndarray, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """The named outputs (default: all it was opened for) for uint8 images [B, H, W, 3] at the
        model's size."""
        names = self.outputs if names is None else names
        images = np.ascontiguousarray(images, dtype=np.uint8)
        with self._lock:
            if images.shape != self._shape:
                self._interpreter.resize_tensor_input(self._input, images.shape, strict=True)
                self._interpreter.allocate_tensors()
                self._shape = images.shape
            self._interpreter.set_tensor(self._input, images)
            self._interpreter.invoke()
            return {n: self._interpreter.get_tensor(self._outputs[n]) for n in names}

    def close(self) -> None:
        self._interpreter = None


def build_tflite(
    config,
    checkpoint: str,
    use_graph_cache: bool = True,
    threads: int | None = None,
    xnnpack: bool = True,
    float16_weights: bool = False,
) -> tuple[bytes, LiteRTRunner]:
    """The TFLite model of the inference graph with `checkpoint`'s weights (TensorFlow imported
    here; stored as float16 with `float16_weights`), checked against TensorFlow on a sample, and
    the runner (load_runner(model, threads, xnnpack)) that checked it, to read with. Raises PlateOCRError when the checkpoint does not
    restore; LiteRTUnavailable when the graph does not convert to built-in ops, LiteRT cannot
    run it or it reads the sample differently."""
    from plateocr.inference.tflite_conversion import tflite_flatbuffer
    from plateocr.model.restore import restore_checkpoint
    from plateocr.inference.graph_cache import inference_graph
    from plateocr.model.compat import tf, tf1

    g = inference_graph(config, use_cache=use_graph_cache)
    tensors = (g.predicted_chars, g.predicted_scores, g.sequence_confidence, g.char_probabilities, g.attention_masks)
    with g.graph.as_default(), tf.name_scope("outputs"):  # the TFLite outputs carry these names
        outputs = {name: tf.identity(t, name=name) for name, t in zip(OUTPUTS, tensors)}
    h, w, _ = config.image_shape
    sample = np.random.default_rng(0).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    # A plain session: the graph's float32 weights are what is converted (no bf16 rewrite), and
    # no grappler: the sample runs once, and optimising the graph first costs 0.15 s more.
    config = tf1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    with tf1.Session(graph=g.graph, config=config) as session:
        with g.graph.as_default():
            restore_checkpoint(session, g.saver, checkpoint)
        try:
            model, _ = tflite_flatbuffer(
                session, [g.images], list(outputs.values()), flex=False, metadata=False, float16_weights=float16_weights
            )
        except PlateOCRError as e:
            raise LiteRTUnavailable(str(e)) from None
        expected = session.run(outputs, {g.images: sample})
    runner = load_runner(model, threads, xnnpack)
    got = runner.run(sample)
    tolerance = FLOAT16_CHECK_TOLERANCE if float16_weights else CHECK_TOLERANCE
    if not all(np.allclose(got[k], expected[k], rtol=0, atol=tolerance) for k in ("probs", "confidence")):
        runner.close()
        raise LiteRTUnavailable(f"{checkpoint}: its TensorFlow Lite graph reads a test image unlike TensorFlow")
    return model, runner


def load_runner(model: bytes, threads: int | None = None, xnnpack: bool = True, outputs=OUTPUTS) -> LiteRTRunner:
    """LiteRTRunner(model, ...); LiteRTUnavailable when LiteRT cannot import or run it."""
    try:
        return LiteRTRunner(model, threads, xnnpack, outputs)
    except Exception as e:  # ImportError of a broken install, ValueError/RuntimeError of the runtime
        raise LiteRTUnavailable(f"LiteRT cannot run this model ({type(e).__name__}: {e})") from None


def open_runner(
    config, checkpoint: str, threads: int | None = None, use_cache: bool = True, xnnpack: bool = True
) -> LiteRTRunner:
    """A LiteRTRunner on `checkpoint`: its TFLite model from beside it or the user's cache, else
    built and stored in both (plateocr.inference.tflite_store.open_tflite). `use_cache` False
    builds it in memory: nothing read from or written to either."""
    from plateocr.inference.tflite_store import open_tflite

    def build() -> tuple[bytes, LiteRTRunner]:
        return build_tflite(config, checkpoint, use_graph_cache=use_cache, threads=threads, xnnpack=xnnpack)

    if not use_cache:
        return build()[1]
    return open_tflite(config, checkpoint, build, lambda model: load_runner(model, threads, xnnpack))


def warm_cache(model_dir) -> str | None:
    """Build the TFLite model of the checkpoint a PlateReader on `model_dir` reads by default
    (best/, else the latest) beside it (and into the user's cache), unless it is there: `plateocr
    train` calls it while TensorFlow is loaded, so the first `predict` after training starts warm,
    here or wherever the model directory is copied. Nothing is done where the reader would not
    use LiteRT ($PLATEOCR_BACKEND=tensorflow, ai-edge-litert missing). Never raises: returns
    None, or one line saying why the model was not built."""
    from plateocr.inference.reader import choose_backend
    from plateocr.model.modeldir import ModelDir

    try:
        if choose_backend(None) == "tensorflow" or not available():
            return None
        md = ModelDir(model_dir)
        open_runner(md.config, md.resolve_checkpoint()).close()
    except Exception as e:  # a conversion or cache problem must not fail the training run
        return (
            f"the model for reading with LiteRT was not built ({tf_error_message(e)}); predict builds it on first use"
        )
    return None
