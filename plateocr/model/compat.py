"""Makes tf-slim 1.1.0 work on the pinned TensorFlow (2.21); import TensorFlow and slim from here.

    from plateocr.model.compat import tf, slim

tf-slim's layers reach Keras-2 layer modules through ``tensorflow.python.layers.*``, which
lazily import ``tf_keras.legacy_tf_layers.*``. The tf_keras 2.21 wheel ships those modules
only as ``tf_keras.src.legacy_tf_layers.*``, so the first ``slim.batch_norm`` / ``slim.conv2d``
fails with ModuleNotFoundError. Registering the ``src`` modules under the old names in
``sys.modules`` before tf_slim is imported is enough for layers, arg_scope and
``tf_slim.nets.inception_v3``. tests/test_compat.py fails loudly if a future release breaks it.

Parts of tf-slim that call moved TensorFlow internals remain broken and are not used by
plateocr: ``tfexample_decoder``, ``learning.clip_gradient_norms``, ``slim.local_variable``.

What importing this module (a PlateReader, training, eval, export) does to the process, once:

- TensorFlow is imported with TF_CPP_MIN_LOG_LEVEL=2 (no C++ info logs), TF_ENABLE_ONEDNN_OPTS=1
  (oneDNN kernels on any x86 CPU) and TF_USE_LEGACY_KERAS=1 (tf.keras is tf_keras; Keras 3 is
  not imported), each unless the environment sets it. They are set only for the import and
  removed afterwards: the process's environment, and that of the programs it starts, is as it
  was. TensorFlow keeps what it read for the life of the process; to choose otherwise, set
  them before the first import (or import TensorFlow yourself first).
- File descriptor 2 (stderr) points to /dev/null during that import, for TensorFlow's C++
  start-up messages written before its log level applies; what another thread writes to
  stderr in those seconds is lost. TF_CPP_MIN_LOG_LEVEL=0 or 1 keeps stderr open.
- pandas, when installed and not yet imported, is hidden from that import (tf_keras would load
  it, ~0.7 s, only to accept DataFrames in Keras' fit()); an `import pandas` later works.
- The "tensorflow" logger is set to ERROR (unless TF_CPP_MIN_LOG_LEVEL is 0 or 1), and the
  warning tf-slim's layers give on every call (`layer.apply` is deprecated) is filtered out.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings

from plateocr.native_stderr import native_logs_wanted, quiet_native_stderr
from plateocr.workers import cpu_count

# What TensorFlow's import reads, unless the environment says otherwise (see above):
# - TF_CPP_MIN_LOG_LEVEL: quieten TensorFlow's C++ start-up chatter unless the user asked for it.
# - TF_ENABLE_ONEDNN_OPTS: TensorFlow turns its oneDNN kernels on by default only on CPUs with
#   AVX-512 VNNI/BF16/AMX. On AVX2 CPUs (the 2-core AMD EPYC this was tuned on) they make a
#   training step of the InceptionV3 tower ~2x faster (conv filter gradients ~6x). Read once,
#   during the import; set it to 0 to opt out (benchmarks/train_speed.py measures both).
# - TF_USE_LEGACY_KERAS: plateocr uses no Keras 3; with this, `import tensorflow` maps tf.keras
#   to tf_keras (which tf-slim needs anyway) instead of also importing Keras 3: ~0.5 s CPU off
#   every cold start.
_IMPORT_SETTINGS = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "1", "TF_USE_LEGACY_KERAS": "1"}
_QUIET = not native_logs_wanted()

_LEGACY_LAYER_MODULES = (
    "base",
    "convolutional",
    "core",
    "normalization",
    "pooling",
    "variable_scope_shim",
)


def _alias_legacy_tf_layers() -> None:
    """Make ``tf_keras.legacy_tf_layers.X`` resolve to ``tf_keras.src.legacy_tf_layers.X``."""
    try:
        importlib.import_module("tf_keras.legacy_tf_layers")
        return  # a tf_keras that still ships the public modules needs no help
    except ImportError:
        pass
    package = importlib.import_module("tf_keras.src.legacy_tf_layers")
    sys.modules.setdefault("tf_keras.legacy_tf_layers", package)
    for name in _LEGACY_LAYER_MODULES:
        try:
            module = importlib.import_module(f"tf_keras.src.legacy_tf_layers.{name}")
        except ImportError:
            continue
        sys.modules.setdefault(f"tf_keras.legacy_tf_layers.{name}", module)


@contextlib.contextmanager
def _import_settings():
    """_IMPORT_SETTINGS in the environment while TensorFlow is imported, then removed again;
    a variable the environment already had is left as it is."""
    added = [name for name in _IMPORT_SETTINGS if name not in os.environ]
    for name in added:
        os.environ[name] = _IMPORT_SETTINGS[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


# tf_keras imports pandas (~0.7 s of CPU) only to accept DataFrames in Keras' fit(), which
# plateocr never calls; hiding it during these imports makes a cold `predict` that much faster.
# Code that imports pandas later gets it as usual.
_hide_pandas = "pandas" not in sys.modules
if _hide_pandas:
    sys.modules["pandas"] = None  # `import pandas` raises ImportError; tf_keras copes
try:
    # stderr quiet: TensorFlow's C++ start-up writes there before it reads TF_CPP_MIN_LOG_LEVEL
    # (the CUDA stub's "Could not find cuda drivers", a cuInit error on CPU-only machines).
    with _import_settings(), quiet_native_stderr():
        _alias_legacy_tf_layers()
        import tensorflow as tf  # noqa: E402
        import tf_slim as slim  # noqa: E402
        from tf_slim.nets import inception_v3  # noqa: E402

        tf.config.list_physical_devices()  # device discovery logs here, not at the first session
        # tf.keras chooses its Keras when first touched: here, while TF_USE_LEGACY_KERAS is set.
        tf.keras.__name__  # noqa: B018
finally:
    if _hide_pandas and sys.modules.get("pandas", 0) is None:
        del sys.modules["pandas"]

# Deprecation notices from TensorFlow's own internals (colocate_with, ...) are not actionable.
if _QUIET:
    tf.get_logger().setLevel("ERROR")
# tf-slim calls the Keras-2 layers' deprecated ``apply``; the warning is not actionable here.
warnings.filterwarnings("ignore", message="`layer.apply` is deprecated", category=UserWarning)

tf1 = tf.compat.v1

__all__ = ["tf", "tf1", "slim", "inception_v3", "session_config", "bf16_enabled"]


def session_config(threads: int | None = None, inter_op_threads: int = 1):
    """A tf.compat.v1.ConfigProto sized to this process's cores.

    One inter-op thread: the ops of a training step then run one at a time, each using all
    cores, which on a few cores is as fast as running branches side by side and keeps fewer
    activations alive at once (benchmarks/train_speed.py compares).
    """
    config = tf1.ConfigProto()
    config.intra_op_parallelism_threads = threads or cpu_count()
    config.inter_op_parallelism_threads = inter_op_threads
    if bf16_enabled():
        from tensorflow.core.protobuf import rewriter_config_pb2

        config.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 = (
            rewriter_config_pb2.RewriterConfig.ON
        )
    return config


def bf16_is_native() -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX), where oneDNN's bf16
    convolutions are faster than float32 (1.47x a training step here, AVX512-BF16 without AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bf16_enabled() -> bool:
    """Sessions run with bfloat16 mixed precision (oneDNN's graph rewrite: variables stay
    float32) when PLATEOCR_BF16=1, or =auto on a CPU where it is native; off by default."""
    setting = os.environ.get("PLATEOCR_BF16", "0")
    return setting == "1" or (setting == "auto" and bf16_is_native())
