"""The self-describing detector directory: what the detector is, what it was trained on, and its
checkpoints. `predict --detect` and `export` read everything from here (no repeated flags).

    detector/
      detector.json   {"version", "kind": "plateocr-detector", "detector": DetectorConfig,
                       "training": options, "annotations": CSV, "images": folder}
      skipped.csv     the annotation rows the latest training skipped, with why
      checkpoint, ckpt-<step>.*, best/, early_stopping.json   (plateocr.model.checkpoint_folder)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from plateocr.detection.config import DetectorConfig
from plateocr.errors import PlateOCRError
from plateocr.model.checkpoint_folder import (
    CheckpointFolder,
)
from plateocr.outputs import write_text_atomic

DETECTOR_FILE = "detector.json"
SKIPPED_FILE = "skipped.csv"  # the annotation rows the latest training skipped, with why
KIND = "plateocr-detector"
DETECTOR_DIR_VERSION = 1


class DetectorDir(CheckpointFolder):
    """An existing detector directory. Missing or foreign folders give a clear PlateOCRError."""

    train_command = "train-detector"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise PlateOCRError(f"{self.path}: detector directory not found (train one with `plateocr train-detector`)")
        doc_path = self.path / DETECTOR_FILE
        if not doc_path.is_file():
            what = (
                "a recogniser model directory" if (self.path / "config.json").is_file() else "not a detector directory"
            )
            raise PlateOCRError(f"{self.path}: {what} (no {DETECTOR_FILE}; train one with `plateocr train-detector`)")
        try:
            self._doc = json.loads(doc_path.read_text(encoding="utf-8"))
            if not isinstance(self._doc, dict) or self._doc.get("kind") != KIND:
                raise ValueError(f"'kind' is not {KIND!r}")
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise PlateOCRError(f"{doc_path}: cannot read the detector description ({e})") from None
        self.config = DetectorConfig.from_dict(self._doc.get("detector") or {}, source=str(doc_path))

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        return (Path(path) / DETECTOR_FILE).is_file()

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        config: DetectorConfig,
        options: dict | None = None,
        force: bool = False,
        annotations: str | os.PathLike | None = None,
        images: str | os.PathLike | None = None,
    ) -> "DetectorDir":
        """A new detector directory; an existing one (or any non-empty folder) is kept unless
        `force`, which removes only plateocr's own files in it."""
        path = cls._make_room(path, force, "detector")
        doc = {
            "version": DETECTOR_DIR_VERSION,
            "kind": KIND,
            "detector": config.to_dict(),
            "training": dict(options or {}),
            "annotations": str(Path(annotations).resolve()) if annotations else None,
            "images": str(Path(images).resolve()) if images else None,
        }
        write_text_atomic(path / DETECTOR_FILE, json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return cls(path)

    @staticmethod
    def _clear(path: Path) -> None:
        CheckpointFolder._remove_own(path, (DETECTOR_FILE, SKIPPED_FILE))

    @staticmethod
    def _other_kind(path: Path) -> str | None:
        return "a recogniser model directory" if (path / "config.json").is_file() else None

    @property
    def options(self) -> dict:
        return dict(self._doc.get("training") or {})

    def update(self, options: dict) -> None:
        """Record the options of the latest training run."""
        self._doc["training"] = dict(options)
        write_text_atomic(self.path / DETECTOR_FILE, json.dumps(self._doc, indent=2, sort_keys=True) + "\n")

    def check_config(self, config: DetectorConfig, hint: str = "use another --detector-dir, or --force") -> None:
        """Refuse a config other than the one this detector was built with."""
        mine, theirs = self.config.to_dict(), config.to_dict()
        differ = [k for k in mine if mine[k] != theirs.get(k)]
        if differ:
            k = differ[0]
            raise PlateOCRError(f"{self.path}: was built with {k}={mine[k]!r}, not {theirs[k]!r}; {hint}")
