"""Regenerate the TFLite models shipped with the bundled base model and base detector, or write a
model folder's.

The LiteRT backends read ``<checkpoint>-litert.tflite`` beside a checkpoint instead of converting
it with TensorFlow on first use (plateocr.inference.tflite_store), so a fresh install's first
`predict` (or `predict --detect`) imports no TensorFlow. Shipped:

- plateocr/assets/base_model/ckpt-<step>-litert.tflite, its weights stored as float16 (3.4 MB
  instead of 6.6 MB; LiteRT computes in float32). Its readings of real crops are checked against
  TensorFlow's by tests/test_litert.py (texts equal, confidences within float16 rounding).
- plateocr/assets/base_detector/ckpt-<step>-litert.tflite (0.7 MB, float32).

Each file records a key of the sources that build and convert its graph, the config and the
checkpoint: a change to any of them makes it stale (readers then ignore it and convert on first
use, as without it), and tests fail until this is run:

    python scripts/build_bundled_tflite.py           # write the files that are missing or stale
    python scripts/build_bundled_tflite.py --check   # exit 1 when one is missing or stale
    python scripts/build_bundled_tflite.py --model-dir model/   # a recogniser folder's file (float32), to ship with it
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


@dataclass
class Shipped:
    """One checkpoint's TFLite file: where it goes, the key current sources give it, and how to make it."""

    path: Path
    key: str
    make: Callable[[], bytes]

    def recorded(self) -> str | None:
        from plateocr.inference.tflite_store import read_stored

        stored = read_stored(self.path)
        return stored and stored[1]


def recogniser(model_dir: Path, float16_weights: bool = False) -> Shipped:
    """The recogniser in `model_dir` (converted, then checked against TensorFlow on a sample)."""
    from plateocr.inference.litert_runner import build_tflite
    from plateocr.inference.tflite_store import beside_path, tflite_key
    from plateocr.model.modeldir import ModelDir

    md = ModelDir(model_dir)
    checkpoint = md.resolve_checkpoint()

    def make() -> bytes:
        model, runner = build_tflite(md.config, checkpoint, use_graph_cache=False, float16_weights=float16_weights)
        runner.close()
        return model

    return Shipped(beside_path(checkpoint), tflite_key(md.config, checkpoint), make)


def detector(folder: Path) -> Shipped:
    from plateocr.detection.detector import TFLITE_SOURCES, build_detector_tflite
    from plateocr.detection.detector_dir import DetectorDir
    from plateocr.inference.tflite_store import beside_path, tflite_key

    dd = DetectorDir(folder)
    checkpoint = dd.resolve_checkpoint()

    def make() -> bytes:
        model, runner = build_detector_tflite(dd.config, checkpoint)
        runner.close()
        return model

    return Shipped(beside_path(checkpoint), tflite_key(dd.config, checkpoint, TFLITE_SOURCES), make)


def bundled() -> list[Shipped]:
    """The files shipped with this install's bundled models (none where it has none)."""
    from plateocr.base_model import BASE_MODEL_DIR
    from plateocr.detection.detector import bundled_base_detector
    from plateocr.model.modeldir import ModelDir

    found = []
    if ModelDir.exists(BASE_MODEL_DIR):
        found.append(recogniser(BASE_MODEL_DIR, float16_weights=True))
    if bundled_base_detector() is not None:
        found.append(detector(bundled_base_detector()))
    return found


def write(shipped: Shipped) -> Path:
    """Make the file and write it (atomically, with its key)."""
    from plateocr.inference.tflite_store import write_stored

    if not write_stored(shipped.path, shipped.make(), shipped.key):
        raise SystemExit(f"{shipped.path}: cannot write it")
    return shipped.path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, help="a recogniser model folder instead of the bundled models")
    p.add_argument("--check", action="store_true", help="only say whether the files are current (exit 1 if not)")
    args = p.parse_args(argv)
    files = [recogniser(args.model_dir)] if args.model_dir is not None else bundled()
    if not files:
        print("this install has no bundled models")
        return 1
    failed = 0
    for f in files:
        recorded = f.recorded()
        if recorded == f.key:
            print(f"{f.path}: current (key {f.key})")
            continue
        if args.check:
            print(
                f"{f.path}: {'stale (key ' + recorded + ')' if recorded else 'missing or damaged'}; expected key {f.key}"
            )
            failed = 1
            continue
        write(f)
        print(f"{f.path}: written ({f.path.stat().st_size / 2**20:.1f} MiB, key {f.key})")
    return failed


if __name__ == "__main__":
    sys.exit(main())
