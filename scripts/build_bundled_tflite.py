"""Regenerate the TFLite model shipped with the bundled base detector, or write a model folder's.

PlateDetector's LiteRT backend reads plateocr/assets/base_detector/ckpt-<step>-litert.tflite
(0.7 MB) instead of converting the checkpoint with TensorFlow on first use
(plateocr.inference.tflite_store), so a fresh install's first `predict --detect` imports no
TensorFlow. The file records a key of the sources that build and convert the graph
(plateocr.detection.detector.TFLITE_SOURCES), the config and the checkpoint: a change to any of
them makes it stale (readers then ignore it and convert on first use, as without it), and
tests/test_detection.py::test_the_bundled_detector_tflite_is_current fails until this is run:

    python scripts/build_bundled_tflite.py           # convert the detector and write its file
    python scripts/build_bundled_tflite.py --check   # exit 1 when it is missing or stale
    python scripts/build_bundled_tflite.py --model-dir model/   # a recogniser folder's file, to ship with it

The bundled base model's own file (6.6 MB) is not shipped, to keep the repository lean: its first
read converts it once into the user cache.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from plateocr.model.modeldir import ModelDir  # noqa: E402


def status(model_dir: Path) -> tuple[Path, str, str | None]:
    """(the TFLite file beside the model's checkpoint, the key the current sources give it, the
    key it records: None when it is missing or damaged)."""
    from plateocr.inference.tflite_store import beside_path, read_stored, tflite_key

    md = ModelDir(model_dir)
    checkpoint = md.resolve_checkpoint()
    stored = read_stored(beside_path(checkpoint))
    return beside_path(checkpoint), tflite_key(md.config, checkpoint), stored and stored[1]


def build(model_dir: Path) -> Path:
    """Convert the model's checkpoint (checked against TensorFlow on a sample) and write the file."""
    from plateocr.inference.litert_runner import build_tflite
    from plateocr.inference.tflite_store import beside_path, tflite_key, write_stored

    md = ModelDir(model_dir)
    checkpoint = md.resolve_checkpoint()
    model, runner = build_tflite(md.config, checkpoint, use_graph_cache=False)
    runner.close()
    path = beside_path(checkpoint)
    if not write_stored(path, model, tflite_key(md.config, checkpoint)):
        raise SystemExit(f"{path}: cannot write it")
    return path


def detector_status() -> tuple[Path, str, str | None] | None:
    """status() of the bundled base detector's file; None when the install has no detector."""
    from plateocr.detection.detector import TFLITE_SOURCES, bundled_base_detector
    from plateocr.detection.detector_dir import DetectorDir
    from plateocr.inference.tflite_store import beside_path, read_stored, tflite_key

    folder = bundled_base_detector()
    if folder is None:
        return None
    dd = DetectorDir(folder)
    checkpoint = dd.resolve_checkpoint()
    stored = read_stored(beside_path(checkpoint))
    return beside_path(checkpoint), tflite_key(dd.config, checkpoint, TFLITE_SOURCES), stored and stored[1]


def build_detector(folder: Path | None = None) -> Path:
    """Convert the detector in `folder` (default: the bundled one) and write its file."""
    from plateocr.detection.detector import TFLITE_SOURCES, bundled_base_detector, build_detector_tflite
    from plateocr.detection.detector_dir import DetectorDir
    from plateocr.inference.tflite_store import beside_path, tflite_key, write_stored

    dd = DetectorDir(folder or bundled_base_detector())
    checkpoint = dd.resolve_checkpoint()
    model, runner = build_detector_tflite(dd.config, checkpoint)
    runner.close()
    path = beside_path(checkpoint)
    if not write_stored(path, model, tflite_key(dd.config, checkpoint, TFLITE_SOURCES)):
        raise SystemExit(f"{path}: cannot write it")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, help="a recogniser model folder instead of the bundled detector")
    p.add_argument("--check", action="store_true", help="only say whether the file is current (exit 1 if not)")
    args = p.parse_args(argv)
    if args.model_dir is not None:
        found = (status(args.model_dir), lambda: build(args.model_dir))
    elif detector_status() is not None:
        found = (detector_status(), build_detector)
    else:
        print("this install has no bundled base detector")
        return 1
    (path, key, recorded), make = found
    if args.check:
        if recorded == key:
            print(f"{path}: current (key {key})")
            return 0
        print(f"{path}: {'stale (key ' + recorded + ')' if recorded else 'missing or damaged'}; expected key {key}")
        return 1
    path = make()
    print(f"{path}: written ({path.stat().st_size / 2**20:.1f} MiB, key {key})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
