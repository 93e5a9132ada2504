"""How crops are made (size, keep_aspect, margin), stored as crop.json in the crops folder."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from plateocr.defaults import CROP_SIZE, KEEP_ASPECT, MARGIN
from plateocr.errors import PlateOCRError

SETTINGS_FILE = "crop.json"


@dataclass(frozen=True)
class CropSettings:
    """How crops are made; stored as crop.json so records and predict prepare plates the same way."""

    size: tuple[int, int] = CROP_SIZE  # height, width
    keep_aspect: bool = KEEP_ASPECT
    margin: float = MARGIN

    def __post_init__(self):
        h, w = self.size
        if h < 1 or w < 1:
            raise PlateOCRError(f"crop size {h}x{w}: height and width must be positive")
        if not 0 <= self.margin <= 1:
            raise PlateOCRError(f"margin {self.margin:g}: expected a fraction between 0 and 1")

    def to_dict(self) -> dict:
        return {"size": list(self.size), "keep_aspect": self.keep_aspect, "margin": self.margin}

    @classmethod
    def from_dict(cls, d: dict, source: str = SETTINGS_FILE) -> "CropSettings":
        try:
            h, w = (int(x) for x in d["size"])
            if not isinstance(d["keep_aspect"], bool):
                raise ValueError(f"keep_aspect {d['keep_aspect']!r} is not true or false")
            return cls((h, w), d["keep_aspect"], float(d["margin"]))
        except (KeyError, TypeError, ValueError) as e:
            raise PlateOCRError(f"{source}: not valid crop settings ({e!r})") from None
        except PlateOCRError as e:  # a size or margin out of range
            raise PlateOCRError(f"{source}: {e}") from None

    @classmethod
    def read(cls, folder: str | os.PathLike) -> "CropSettings":
        """The settings `crop` recorded in `folder` (a crops folder or its crop.json)."""
        path = Path(folder)
        if path.is_dir():
            path = path / SETTINGS_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PlateOCRError(f"{path}: crop settings not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise PlateOCRError(f"{path}: cannot read crop settings ({e})") from None
        return cls.from_dict(d, str(path))

    def describe(self) -> str:
        fitting = "keep-aspect" if self.keep_aspect else "stretch"
        return f"{self.size[0]}x{self.size[1]} {fitting}, margin {self.margin:g}"
