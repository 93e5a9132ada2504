"""Cached copies of the inference graph, so a cold `plateocr predict` skips rebuilding it.

Building InceptionV3 + the decoder through tf-slim's Python layers takes seconds on a small
CPU; importing the same graph from a serialized MetaGraph takes a few hundred milliseconds. The
first reader of a model config writes ``graphs/inference-<key>.meta`` into the user's cache
directory (plateocr.user_cache; when it may); later ones import it. The key covers everything
that shapes the graph: the model config, the TensorFlow version and the source of the modules
that build it, so an upgraded plateocr or a retrained model with another config never picks up
a stale graph, and models of one config (whatever their weights) share one file.

The reader's LiteRT graph (plateocr.inference.litert_runner) is cached here too, as
``graphs/litert-<key>.tflite``: the same graph converted to TensorFlow Lite with a checkpoint's
weights in it. Its key adds the checkpoint's digest (its files' bytes: retrained weights give
another file, the same weights copied elsewhere the same one) and the code that converts it;
the reading options (views, formats, attention) are not in it, as they are applied to the
graph's outputs in Python, so one file serves them all. The file is the TFLite flatbuffer then
a checksum (TFLITE_TRAILER + CRC32C of the flatbuffer): a damaged or truncated file is rebuilt.
Reading it needs no TensorFlow; building it does (once).

The KEEP_GRAPHS most recently used files of each kind are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, NamedTuple, TypeVar

from plateocr.user_cache import user_cache_dir

KEEP_GRAPHS = 8  # of each kind (~1 MB a MetaGraph, ~7 MB a TFLite model); older ones are removed
_COLLECTION = "plateocr_inference"
_FETCHES = (
    "images",
    "predicted_chars",
    "predicted_scores",
    "sequence_confidence",
    "attention_masks",
    "char_probabilities",
)
# Modules whose code decides the inference graph (paths in the plateocr package).
_GRAPH_MODULES = (
    "model/network.py",
    "model/decoder.py",
    "model/compat.py",
    "model/config.py",
    "inference/graph_cache.py",
    "inference/format_search.py",
)
# What converts that graph to the cached TFLite model.
_TFLITE_MODULES = ("inference/litert_runner.py", "inference/export.py")
TFLITE_TRAILER = b"plateocr-crc32c:"  # then the 4-byte CRC32C of the flatbuffer (big-endian)
T = TypeVar("T")


class InferenceGraph(NamedTuple):
    graph: object
    images: object  # uint8 placeholder [None, H, W, 3]
    predicted_chars: object
    predicted_scores: object
    sequence_confidence: object
    attention_masks: object
    char_probabilities: object  # [B, L, C]: each step's distribution (format-aware reading)
    saver: object


def _tensorflow_version() -> str:
    """The installed TensorFlow's version, read without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tensorflow")
    except PackageNotFoundError:  # another distribution of it (tensorflow-cpu, a build of one's own)
        return "unknown"


def _sources_hash(names: tuple[str, ...]):
    h = hashlib.sha256()
    package = Path(__file__).parent.parent
    for name in names:
        h.update((package / name).read_bytes())
    return h


def cache_key(config) -> str:
    """The MetaGraph's key: model config, TensorFlow version, the code that builds the graph."""
    h = _sources_hash(_GRAPH_MODULES)
    h.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    h.update(_tensorflow_version().encode())
    return h.hexdigest()[:20]


def tflite_key(config, checkpoint: str) -> str:
    """The cached TFLite model's key: the graph's (cache_key), the converting code's and the
    checkpoint's digest (plateocr.model.modeldir.checkpoint_digest). No TensorFlow imported."""
    from plateocr.model.modeldir import checkpoint_digest

    h = _sources_hash(_TFLITE_MODULES)
    h.update(cache_key(config).encode())
    h.update(checkpoint_digest(checkpoint).encode())
    return h.hexdigest()[:20]


def build_inference_graph(config) -> InferenceGraph:
    """The graph from the network code: uint8 images placeholder -> greedy decoding."""
    from plateocr.inference.format_search import char_probabilities
    from plateocr.model.compat import tf, tf1
    from plateocr.model.network import build_model

    h, w, _ = config.image_shape
    graph = tf.Graph()
    with graph.as_default():
        images = tf1.placeholder(tf.uint8, [None, h, w, 3], name="images")
        ep = build_model(images, config, is_training=False)
        tensors = (
            images,
            ep.predicted_chars,
            ep.predicted_scores,
            ep.sequence_confidence,
            ep.attention_masks,
            char_probabilities(ep),
        )
        for name, t in zip(_FETCHES, tensors):
            tf1.add_to_collection(f"{_COLLECTION}/{name}", t)
        saver = tf1.train.Saver(tf1.global_variables())
    return InferenceGraph(graph, *tensors, saver)


def _import(path: Path) -> InferenceGraph:
    from plateocr.model.compat import tf, tf1

    graph = tf.Graph()
    with graph.as_default():
        saver = tf1.train.import_meta_graph(str(path), clear_devices=True)
        tensors = [tf1.get_collection(f"{_COLLECTION}/{name}")[0] for name in _FETCHES]
    if saver is None:
        raise ValueError("no saver in the cached graph")
    return InferenceGraph(graph, *tensors, saver)


def _export(g: InferenceGraph, path: Path) -> None:
    from plateocr.model.compat import tf1
    from plateocr.outputs import atomic_path

    with g.graph.as_default(), atomic_path(path) as tmp:
        tf1.train.export_meta_graph(str(tmp), graph=g.graph, saver_def=g.saver.as_saver_def(), clear_devices=True)


def cache_path(config) -> Path:
    """Where the cached graph of `config` is (or would be) kept."""
    return user_cache_dir() / "graphs" / f"inference-{cache_key(config)}.meta"


def inference_graph(config, use_cache: bool = True) -> InferenceGraph:
    """The inference graph of `config`: imported from the user's cache when there, else built
    (and cached when the cache directory is writable). A broken cache file is rebuilt."""
    if not use_cache:
        return build_inference_graph(config)
    path = cache_path(config)
    if path.is_file():
        try:
            g = _import(path)
        except Exception:  # truncated or foreign file: fall through and rebuild it
            pass
        else:
            _touch(path)
            return g
    from plateocr.errors import PlateOCRError

    g = build_inference_graph(config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _export(g, path)
    except (OSError, PlateOCRError):  # atomic_path's write errors are PlateOCRErrors
        return g  # a read-only cache directory just does not give the speed-up
    _prune(path.parent)
    return g


def tflite_cache_path(config, checkpoint: str) -> Path:
    """Where the TFLite model of `checkpoint` is (or would be) kept."""
    return user_cache_dir() / "graphs" / f"litert-{tflite_key(config, checkpoint)}.tflite"


def cached_tflite(path: Path, build: Callable[[], bytes], load: Callable[[bytes], T]) -> T:
    """load(the TFLite model cached at `path`); when it is missing, damaged (checksum) or does
    not load, load(build()), written to `path` (atomically; skipped where the cache directory
    is not writable)."""
    cached = _read_tflite(path)
    if cached is not None:
        try:
            loaded = load(cached)
        except Exception:  # a file that passes the checksum but not the runtime: rebuild it
            pass
        else:
            _touch(path)
            return loaded
    model = build()
    loaded = load(model)
    _store_tflite(path, model)
    return loaded


def _crc32c(data: bytes) -> bytes:
    import google_crc32c

    return google_crc32c.value(data).to_bytes(4, "big")


def _read_tflite(path: Path) -> bytes | None:
    """The flatbuffer of a cached TFLite file whose checksum holds, else None."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    end = len(blob) - len(TFLITE_TRAILER) - 4
    if end <= 0 or blob[end:-4] != TFLITE_TRAILER:
        return None
    model = blob[:end]
    return model if _crc32c(model) == blob[-4:] else None


def _store_tflite(path: Path, model: bytes) -> None:
    from plateocr.errors import PlateOCRError
    from plateocr.outputs import atomic_path

    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(model)
                fh.write(TFLITE_TRAILER + _crc32c(model))
    except (OSError, PlateOCRError):  # a read-only or full cache directory: no speed-up, no error
        return
    _prune(path.parent, pattern="litert-*.tflite")


def _touch(path: Path) -> None:
    try:
        os.utime(path)  # most recently used: kept by _prune
    except OSError:
        pass


def _prune(folder: Path, keep: int = KEEP_GRAPHS, pattern: str = "inference-*.meta") -> None:
    """Remove all but the `keep` most recently used cached graphs of one kind (`pattern`)."""
    try:
        graphs = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in graphs[keep:]:
            old.unlink()
    except OSError:  # another process pruned at the same time, or a read-only folder
        pass
