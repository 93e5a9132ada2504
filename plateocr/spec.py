"""The dataset spec: what `plateocr tfrecords` wrote and what `plateocr train` reads.

It replaces the hand-written dataset module of the reference implementation: split sizes and
shard patterns, image shape, views, max length, null code, charset file, and how crops were
resized (so predict prepares new images exactly as training saw them). Stored as JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from plateocr.errors import PlateOCRError
from plateocr.outputs import write_text_atomic

SPEC_VERSION = 1


@dataclass
class SplitSpec:
    pattern: str  # glob of the shards, relative to the spec's folder
    size: int  # number of examples


@dataclass
class DatasetSpec:
    splits: dict[str, SplitSpec]
    charset_file: str  # relative to the spec's folder
    image_shape: tuple[int, int, int]  # (height, width of all views, channels)
    num_of_views: int
    max_sequence_length: int
    null_code: int
    num_classes: int
    keep_aspect: bool = False  # how crops were fitted to image_shape (see plateocr.imaging.fit)
    margin: float | None = None  # margin `crop` added around boxes, when known
    seed: int | None = None
    version: int = SPEC_VERSION
    extra: dict = field(default_factory=dict)

    @property
    def height(self) -> int:
        return self.image_shape[0]

    @property
    def width(self) -> int:
        return self.image_shape[1]

    def to_json(self) -> str:
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: dict, source: str = "dataset spec") -> "DatasetSpec":
        try:
            d = dict(d)
            d["splits"] = {k: SplitSpec(**v) for k, v in d["splits"].items()}
            d["image_shape"] = tuple(int(x) for x in d["image_shape"])
            if len(d["image_shape"]) != 3:
                raise ValueError("image_shape must be [height, width, channels]")
            return cls(**d)
        except (KeyError, TypeError, ValueError) as e:
            raise PlateOCRError(f"{source}: not a valid plateocr dataset spec ({e})") from None

    def write(self, path: str | os.PathLike) -> None:
        write_text_atomic(path, self.to_json())

    @classmethod
    def read(cls, path: str | os.PathLike) -> "DatasetSpec":
        path = Path(path)
        if path.is_dir():
            from plateocr.defaults import SPEC_FILE

            path = path / SPEC_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PlateOCRError(f"{path}: dataset spec not found (run `plateocr tfrecords` first)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise PlateOCRError(f"{path}: cannot read dataset spec ({e})") from None
        return cls.from_dict(d, source=str(path))
