"""The self-describing model directory: what a model was trained on, how, and its checkpoints.

Layout (TensorFlow is not needed to read it):

    model/
      config.json        {"version", "model": ModelConfig, "training": options, "records_dir"}
      charset.txt        the charset the model was trained with (copy of the records' one)
      dataset.json       the dataset spec it was trained with (image shape, views, max length)
      checkpoint         TensorFlow's checkpoint state (latest first)
      ckpt-<step>.index / ckpt-<step>.data-*      periodic checkpoints (weights + optimizer state)
      formats.json       the formats of the training labels (plateocr.formats; read by predict, eval, export)
      best/              the best checkpoint seen by --eval-every, with its metrics.json
      <checkpoint>-litert.tflite  the checkpoint predict reads (best/'s, else the latest) converted
                         for LiteRT, beside it (plateocr.inference.tflite_store; train writes it)
      early_stopping.json  evaluations since the best one, so --patience counts across resumes
      events.out.tfevents.*  TensorBoard summaries (eval/ holds the evaluation ones)

`eval`, `predict` and `export` read everything from here, so they need no repeated flags.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from plateocr.charset import Charset
from plateocr.defaults import CHARSET_FILE, SPEC_FILE
from plateocr.errors import PlateOCRError
from plateocr.formats import FORMATS_FILE
from plateocr.outputs import write_text_atomic
from plateocr.spec import DatasetSpec
from plateocr.model.checkpoint_folder import (  # noqa: F401 (re-exported: callers import them from here)
    BEST_DIR,
    CHECKPOINT_PREFIX,
    EARLY_STOPPING_FILE,
    METRICS_FILE,
    STATE_FILE,
    CheckpointFolder,
    checkpoint_digest,
    checkpoint_exists,
    checkpoint_step,
    write_checkpoint_state,
)

CONFIG_FILE = "config.json"
MODELDIR_VERSION = 1


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


class ModelDir(CheckpointFolder):
    """An existing model directory. Missing or foreign folders give a clear PlateOCRError."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise PlateOCRError(f"{self.path}: model directory not found (train one with `plateocr train`)")
        cfg = self.path / CONFIG_FILE
        if not cfg.is_file():
            raise PlateOCRError(
                f"{self.path}: not a plateocr model directory (no {CONFIG_FILE}; train one with `plateocr train`)"
            )
        try:
            self._doc = json.loads(cfg.read_text(encoding="utf-8"))
            if not isinstance(self._doc, dict) or "model" not in self._doc:
                raise ValueError("no 'model' entry")
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise PlateOCRError(f"{cfg}: cannot read model config ({e})") from None
        self._spec: DatasetSpec | None = None
        self._charset: Charset | None = None

    # --- creation ---------------------------------------------------------------------------
    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        return (Path(path) / CONFIG_FILE).is_file()

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        spec: DatasetSpec,
        charset: Charset,
        config,
        options: dict | None = None,
        force: bool = False,
        records_dir: str | os.PathLike | None = None,
    ) -> "ModelDir":
        """A new model directory. An existing model (or any non-empty folder) is kept unless
        `force`; with `force` only plateocr's own files in it are removed."""
        path = cls._make_room(path, force, "model")
        charset.write(path / CHARSET_FILE)
        spec_copy = DatasetSpec.from_dict(json.loads(spec.to_json()))
        spec_copy.charset_file = CHARSET_FILE
        spec_copy.write(path / SPEC_FILE)
        doc = {
            "version": MODELDIR_VERSION,
            "model": config.to_dict() if hasattr(config, "to_dict") else dict(config),
            "training": dict(options or {}),
            "records_dir": str(Path(records_dir).resolve()) if records_dir is not None else None,
        }
        write_text_atomic(path / CONFIG_FILE, json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return cls(path)

    @staticmethod
    def _clear(path: Path) -> None:
        CheckpointFolder._remove_own(path, (CONFIG_FILE, CHARSET_FILE, SPEC_FILE, FORMATS_FILE), ("eval",))

    @staticmethod
    def _other_kind(path: Path) -> str | None:
        from plateocr.detection.detector_dir import DETECTOR_FILE

        return "a plate detector directory" if (path / DETECTOR_FILE).is_file() else None

    # --- what the model was trained with ---------------------------------------------------
    @property
    def spec(self) -> DatasetSpec:
        if self._spec is None:
            self._spec = DatasetSpec.read(self.path / SPEC_FILE)
        return self._spec

    @property
    def charset(self) -> Charset:
        if self._charset is None:
            self._charset = Charset.read(self.path / CHARSET_FILE)
        return self._charset

    @property
    def config_dict(self) -> dict:
        return dict(self._doc["model"])

    @property
    def config(self):
        from plateocr.model.config import ModelConfig

        return ModelConfig.from_dict(self.config_dict)

    @property
    def options(self) -> dict:
        return dict(self._doc.get("training") or {})

    @property
    def records_dir(self) -> Path | None:
        r = self._doc.get("records_dir")
        return Path(r) if r else None

    def update(self, options: dict | None = None, records_dir: str | os.PathLike | None = None) -> None:
        """Record the options (and records) of the latest training run."""
        if options is not None:
            self._doc["training"] = dict(options)
        if records_dir is not None:
            self._doc["records_dir"] = str(Path(records_dir).resolve())
        write_text_atomic(self.path / CONFIG_FILE, json.dumps(self._doc, indent=2, sort_keys=True) + "\n")

    def check_compatible(
        self,
        spec: DatasetSpec,
        charset: Charset,
        records_dir: str | os.PathLike,
        hint: str = "use another --model-dir, or --force to start over",
    ) -> None:
        """Refuse records whose charset or image layout differ from what the model was trained on."""
        mine = self.spec
        if charset.chars != self.charset.chars or charset.null_code != self.charset.null_code:
            raise PlateOCRError(
                f"{records_dir}: charset ({charset.num_classes} classes) differs from the one {self.path} "
                f"was trained with ({self.charset.num_classes} classes); {hint}"
            )
        for name in ("image_shape", "num_of_views", "max_sequence_length"):
            a, b = _plain(getattr(spec, name)), _plain(getattr(mine, name))
            if a != b:
                raise PlateOCRError(
                    f"{records_dir}: {name} {a} differs from the {b} {self.path} was trained with; {hint}"
                )
