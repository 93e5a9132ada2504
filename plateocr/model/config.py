"""ModelConfig: everything that fixes the network's graph (and so its checkpoints).

Built from a DatasetSpec (image shape, views, max length, classes, null code) plus the model's
own hyper-parameters, stored as JSON in the model directory. No TensorFlow import here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from plateocr.errors import PlateOCRError

CONFIG_VERSION = 1

# Endpoints of tf_slim.nets.inception_v3.inception_v3_base, in order; the tower stops at one.
INCEPTION_ENDPOINTS = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "MaxPool_3a_3x3",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "MaxPool_5a_3x3",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
)


@dataclass(frozen=True)
class ModelConfig:
    image_shape: tuple[int, int, int]  # (height, width of all views side by side, channels)
    num_of_views: int
    max_sequence_length: int
    num_classes: int
    null_code: int
    final_endpoint: str = "Mixed_5d"
    # One-hot row/column indices appended to the feature map, so attention can address
    # positions directly (the paper's "location-aware" variant). Upstream's default is off,
    # which keeps its checkpoints' attention shapes; plates are read left to right at fixed
    # places, so plateocr turns it on for its own models.
    use_coordinates: bool = True
    lstm_units: int = 256
    lstm_cell_clip: float = 10.0
    weight_decay: float = 4e-5
    label_smoothing: float = 0.1
    # Upstream uses 0.9997: after 1,600 steps its moving averages are still ~60% their initial
    # values, so a short CPU run evaluates with wrong statistics and reads nothing. 0.99 keeps
    # <1% of the initial value after 500 steps while still averaging over ~100 batches.
    batch_norm_decay: float = 0.99
    batch_norm_epsilon: float = 0.001
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(x) for x in self.image_shape))
        self.validate()

    # -- checks -------------------------------------------------------------------------
    def validate(self) -> None:
        problems = []
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            problems.append(f"image_shape must be (height, width, channels), got {self.image_shape}")
        elif self.image_shape[2] != 3:
            problems.append(f"images must have 3 channels (RGB), got {self.image_shape[2]}")
        if self.num_of_views < 1:
            problems.append(f"num_of_views must be >= 1, got {self.num_of_views}")
        elif len(self.image_shape) == 3 and self.image_shape[1] % self.num_of_views:
            problems.append(f"image width {self.image_shape[1]} is not a multiple of num_of_views {self.num_of_views}")
        if self.max_sequence_length < 1:
            problems.append(f"max_sequence_length must be >= 1, got {self.max_sequence_length}")
        if self.num_classes < 2:
            problems.append(f"num_classes must be >= 2, got {self.num_classes}")
        if not 0 <= self.null_code < max(self.num_classes, 1):
            problems.append(f"null_code {self.null_code} is not a class id (0..{self.num_classes - 1})")
        if self.final_endpoint not in INCEPTION_ENDPOINTS:
            problems.append(f"final_endpoint {self.final_endpoint!r} is not one of {', '.join(INCEPTION_ENDPOINTS)}")
        if self.lstm_units < 1:
            problems.append(f"lstm_units must be >= 1, got {self.lstm_units}")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.batch_norm_decay < 1:
            problems.append(f"batch_norm_decay must be in [0, 1), got {self.batch_norm_decay}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if problems:
            raise PlateOCRError("model config: " + "; ".join(problems))

    # -- derived ------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.image_shape[0]

    @property
    def width(self) -> int:
        """Width of the whole input (all views side by side)."""
        return self.image_shape[1]

    @property
    def view_width(self) -> int:
        return self.image_shape[1] // self.num_of_views

    # -- construction / JSON ------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec, **overrides) -> "ModelConfig":
        """The config for a DatasetSpec; keyword overrides set the model's own hyper-parameters."""
        values = dict(
            image_shape=tuple(spec.image_shape),
            num_of_views=spec.num_of_views,
            max_sequence_length=spec.max_sequence_length,
            num_classes=spec.num_classes,
            null_code=spec.null_code,
        )
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise PlateOCRError(f"model config: unknown setting(s) {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes) -> "ModelConfig":
        d = self.to_dict()
        d.update(changes)
        return ModelConfig.from_dict(d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "model config") -> "ModelConfig":
        return config_from_dict(cls, d, source, CONFIG_VERSION, "model config")


def config_from_dict(cls, d: dict, source: str, version: int, what: str, convert=None):
    """A config dataclass `cls` from its stored dict, or a one-line PlateOCRError naming `source`:
    an unknown setting, a newer version than `version`, or a value the class refuses. `convert`
    turns the checked dict's values into the class's types (JSON lists into tuples) first."""
    try:
        d = dict(d)
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))}")
        stored = d.get("version", version)
        if stored > version:
            raise ValueError(f"version {stored} is newer than this plateocr ({version})")
        return cls(**(convert(d) if convert else d))
    except PlateOCRError as e:
        raise PlateOCRError(f"{source}: {e}") from None
    except (TypeError, ValueError) as e:
        raise PlateOCRError(f"{source}: not a valid plateocr {what} ({e})") from None
