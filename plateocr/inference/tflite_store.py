"""Where the reader's TFLite models are kept, and the order they are looked up in.

PlateReader's LiteRT backend (plateocr.inference.litert_runner) reads a checkpoint's inference
graph converted to TensorFlow Lite with its weights. Converting imports TensorFlow (seconds), so
the model is stored, in two places:

- beside the checkpoint it was converted from: ``<checkpoint prefix>-litert.tflite``
  (``best/ckpt-400`` -> ``best/ckpt-400-litert.tflite``; not ``<prefix>.tflite``, which the
  checkpoint's own files ``<prefix>.*`` and so its digest would take in), so a model directory
  copied to another machine, or trained on one, starts warm. `plateocr train` writes it at its
  end. The bundled base model and detector ship with theirs (scripts/build_bundled_tflite.py
  regenerates them); the base model's stores its weights as float16 (3.4 MB instead of 6.6 MB,
  the same key: its texts equal TensorFlow's on real crops, its confidences move by float16
  rounding, tests/test_litert.py).
- in the user's cache directory (plateocr.user_cache): ``graphs/litert-<key>.tflite``, for model
  directories that cannot be written (the KEEP_GRAPHS most recently used are kept).

Either file is the flatbuffer, then KEY_TAG and its key, then TFLITE_TRAILER and the CRC32C of
all that precedes TFLITE_TRAILER. The key (tflite_key) hashes what decides the flatbuffer: the
source of the modules that build the graph and convert it (graph_cache's graph modules and
TFLITE_MODULES), the model config and the checkpoint's digest (its files' bytes: retrained weights
give another key, the same weights copied elsewhere the same one). No TensorFlow version is in
it: the flatbuffer runs on any LiteRT. A file whose key or checksum does not hold (stale or
damaged) is ignored, and replaced where it may be written. The reading options (views, formats,
attention) are applied to the graph's outputs in Python, so one file serves them all.

open_tflite looks up the model directory's file, then the user cache's, else builds the model and
writes it to both: beside the checkpoint (atomically) when that folder is writable and not the
bundled base model (read-only in site-packages: never written at run time), and to the user
cache. A model found only in the user cache is copied beside its checkpoint the same way. A
conversion that fails (LiteRTUnavailable) leaves a marker in the user cache,
``graphs/litert-<key>.failed`` holding the reason and the TensorFlow and LiteRT versions it
failed with, so later starts read with TensorFlow at once with the same note instead of
converting again; another TensorFlow or LiteRT version tries again. Reading any of this imports
no TensorFlow; an unreadable cache directory (permissions) only loses the speed-up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, TypeVar

from plateocr.inference.graph_cache import KEEP_GRAPHS, _GRAPH_MODULES, _prune, _sources_hash, _touch
from plateocr.user_cache import user_cache_dir

# What converts the inference graph to TFLite (paths in the plateocr package), beside the graph's modules.
TFLITE_MODULES = ("inference/litert_runner.py", "inference/tflite_conversion.py")
TFLITE_SUFFIX = "-litert.tflite"  # beside a checkpoint: <prefix>-litert.tflite
KEY_TAG = b"plateocr-key:"  # then the key (KEY_LENGTH ASCII hex digits)
TFLITE_TRAILER = b"plateocr-crc32c:"  # then the 4-byte CRC32C (big-endian) of all before this tag
KEY_LENGTH = 20
T = TypeVar("T")


READER_SOURCES = _GRAPH_MODULES + TFLITE_MODULES  # the reader's; the detector names its own


def tflite_key(config, checkpoint: str | os.PathLike, sources: tuple[str, ...] = READER_SOURCES) -> str:
    """The key of `checkpoint`'s TFLite model: the graph's and converting code's sources (paths in
    the package), the model config and the checkpoint's digest (OSError when its files cannot be
    read). No TensorFlow."""
    from plateocr.model.modeldir import checkpoint_digest

    h = _sources_hash(sources)
    h.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    h.update(checkpoint_digest(checkpoint).encode())
    return h.hexdigest()[:KEY_LENGTH]


def beside_path(checkpoint: str | os.PathLike) -> Path:
    """The TFLite model's file beside `checkpoint` (a prefix): <prefix>-litert.tflite."""
    return Path(f"{checkpoint}{TFLITE_SUFFIX}")


def cache_path(key: str) -> Path:
    """The user cache's file for the TFLite model of `key`."""
    return user_cache_dir() / "graphs" / f"litert-{key}.tflite"


def tflite_cache_path(config, checkpoint: str | os.PathLike) -> Path:
    """Where the user cache keeps (or would keep) the TFLite model of `checkpoint`."""
    return cache_path(tflite_key(config, checkpoint))


def _failure_path(key: str) -> Path:
    return user_cache_dir() / "graphs" / f"litert-{key}.failed"


def _crc32c(data: bytes) -> bytes:
    import google_crc32c

    return google_crc32c.value(data).to_bytes(4, "big")


def encode(model: bytes, key: str) -> bytes:
    """The stored form of a flatbuffer: model, KEY_TAG, key, TFLITE_TRAILER, CRC32C."""
    body = model + KEY_TAG + key.encode("ascii")
    return body + TFLITE_TRAILER + _crc32c(body)


def decode(blob: bytes) -> tuple[bytes, str] | None:
    """(flatbuffer, key) of a stored file whose checksum holds, else None."""
    end = len(blob) - len(TFLITE_TRAILER) - 4
    start = end - KEY_LENGTH - len(KEY_TAG)
    if start <= 0 or blob[end:-4] != TFLITE_TRAILER or blob[start : start + len(KEY_TAG)] != KEY_TAG:
        return None
    if _crc32c(blob[:end]) != blob[-4:]:
        return None
    return blob[:start], blob[start + len(KEY_TAG) : end].decode("ascii", "replace")


def read_stored(path: Path) -> tuple[bytes, str] | None:
    """(flatbuffer, recorded key) of the file at `path`; None when missing, unreadable or damaged."""
    try:
        blob = path.read_bytes()
    except OSError:  # missing, or a folder that cannot be entered
        return None
    return decode(blob)


def write_stored(path: Path, model: bytes, key: str) -> bool:
    """Write `model` with its key to `path`, atomically; False where it cannot be (no error)."""
    from plateocr.errors import PlateOCRError
    from plateocr.outputs import atomic_path

    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(encode(model, key))
    except (OSError, PlateOCRError):  # a read-only or full folder: no speed-up, no error
        return False
    return True


def may_write_beside(checkpoint: str | os.PathLike) -> bool:
    """Whether open_tflite writes beside `checkpoint`: its folder is writable, and it is not a
    bundled model (the base model or detector, read-only where installed; their scripts write
    their TFLite models: scripts/build_bundled_tflite.py)."""
    from plateocr import base_model

    folder = Path(checkpoint).resolve().parent
    bundled = (base_model.BASE_MODEL_DIR.resolve(), (Path(base_model.__file__).parent / "assets").resolve())
    inside = any(b == folder or b in folder.parents for b in bundled)
    return not inside and os.access(folder, os.W_OK)


def store_beside(checkpoint: str | os.PathLike, model: bytes, key: str) -> bool:
    """Write the TFLite model beside `checkpoint`, and remove the ones left beside checkpoints
    that are gone (rotated by training); False where it cannot be written."""
    from plateocr.model.modeldir import CHECKPOINT_PREFIX, checkpoint_exists

    path = beside_path(checkpoint)
    if not write_stored(path, model, key):
        return False
    try:
        for other in path.parent.glob(f"{CHECKPOINT_PREFIX}-*{TFLITE_SUFFIX}"):
            if not checkpoint_exists(str(other)[: -len(TFLITE_SUFFIX)]):
                other.unlink()
    except OSError:  # removed by another process at the same time
        pass
    return True


def _store_cached(key: str, model: bytes) -> None:
    path = cache_path(key)
    if write_stored(path, model, key):
        _prune(path.parent, KEEP_GRAPHS, pattern="litert-*.tflite")


def _versions() -> dict[str, str]:
    """The installed TensorFlow's and LiteRT's versions (a conversion's outcome depends on them)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("tensorflow", "ai-edge-litert"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


def remembered_failure(key: str) -> str | None:
    """The reason the TFLite model of `key` could not be had, when it failed with the TensorFlow
    and LiteRT installed now; else None."""
    try:
        doc = json.loads(_failure_path(key).read_text(encoding="utf-8"))
        if doc["versions"] == _versions():
            return str(doc["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def remember_failure(key: str, reason: str) -> None:
    from plateocr.errors import PlateOCRError
    from plateocr.outputs import write_text_atomic

    path = _failure_path(key)
    try:
        write_text_atomic(path, json.dumps({"reason": reason, "versions": _versions()}, sort_keys=True) + "\n")
    except (OSError, PlateOCRError):
        return
    _prune(path.parent, KEEP_GRAPHS, pattern="litert-*.failed")


def open_tflite(
    config,
    checkpoint: str,
    build: Callable[[], tuple[bytes, T]],
    load: Callable[[bytes], T],
    sources: tuple[str, ...] = READER_SOURCES,
) -> T:
    """load(the TFLite model of `checkpoint`): beside it, else in the user cache, else build()'s
    (flatbuffer, loaded), written to both (module docstring). A file that passes its checksum but
    not load() is passed over. A LiteRTUnavailable of build() is remembered in the user cache and
    raised again, without building, by later calls (with the same TensorFlow and LiteRT)."""
    from plateocr.inference.litert_runner import LiteRTUnavailable

    try:
        key = tflite_key(config, checkpoint, sources)
    except OSError:  # the checkpoint's files went away: restoring it will say so
        return build()[1]
    writable = may_write_beside(checkpoint)
    for path in (beside_path(checkpoint), cache_path(key)):
        stored = read_stored(path)
        if stored is None or stored[1] != key:
            continue
        try:
            loaded = load(stored[0])
        except Exception:  # the runtime refuses it: the next one, else build it
            continue
        if path != beside_path(checkpoint):
            _touch(path)
            if writable:
                store_beside(checkpoint, stored[0], key)
        return loaded
    reason = remembered_failure(key)
    if reason is not None:
        raise LiteRTUnavailable(reason)
    try:
        model, loaded = build()
    except LiteRTUnavailable as e:
        remember_failure(key, str(e))
        raise
    if writable:
        store_beside(checkpoint, model, key)
    _store_cached(key, model)
    return loaded
