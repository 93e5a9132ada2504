"""The base model bundled with the package: trained on synthetic plates only (charset 0-9 A-Z).

`plateocr train` starts from it unless told --from-scratch (or given --init-from another), and
`plateocr predict` reads with it when there is no model directory, so a fresh install reads
plates before any training. scripts/train_base_model.py regenerates it. Its TFLite model for
LiteRT ships beside the checkpoint with float16 weights (3.4 MB; scripts/build_bundled_tflite.py
regenerates it, plateocr.inference.tflite_store reads it), so a fresh install's first read imports
no TensorFlow. The folder is never written at run time (read-only where the package is installed).
"""

from __future__ import annotations

import os
from pathlib import Path

from plateocr.defaults import MODEL_DIR
from plateocr.model.modeldir import ModelDir

BASE_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "base_model"


def bundled_base_model() -> Path | None:
    """The bundled base model's folder, or None when this install has none."""
    return BASE_MODEL_DIR if ModelDir.exists(BASE_MODEL_DIR) else None


def default_model_dir(model_dir: str | os.PathLike | None = None) -> Path:
    """The model to read with: `model_dir` when given; else model/ in the working directory when
    it holds a model; else the bundled base model; else model/ (whose absence is then reported)."""
    if model_dir is not None:
        return Path(model_dir)
    local = Path(MODEL_DIR)
    if ModelDir.exists(local):
        return local
    return bundled_base_model() or local
