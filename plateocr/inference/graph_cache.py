"""Cached copies of the inference graph, so a cold `plateocr predict` skips rebuilding it.

Building InceptionV3 + the decoder through tf-slim's Python layers takes seconds on a small
CPU; importing the same graph from a serialized MetaGraph takes a few hundred milliseconds. The
first reader of a model config writes ``graphs/inference-<key>.meta`` into the user's cache
directory (plateocr.user_cache; when it may); later ones import it. The key covers everything
that shapes the graph: the model config, the TensorFlow version and the source of the modules
that build it, so an upgraded plateocr or a retrained model with another config never picks up
a stale graph, and models of one config (whatever their weights) share one file. A cache
directory that cannot be read or written (permissions) only loses the speed-up.

The reader's LiteRT graph (the same graph converted to TensorFlow Lite with a checkpoint's
weights) is stored by plateocr.inference.tflite_store, beside the checkpoint and in the same
cache folder; its key covers _GRAPH_MODULES' sources too.

The KEEP_GRAPHS most recently used files of each kind are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

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
    try:
        found = path.is_file()
    except OSError:  # a cache directory that cannot be entered (PermissionError): build, cache nothing
        found = False
    if found:
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
