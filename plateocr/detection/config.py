"""DetectorConfig: everything that fixes the plate detector's graph (and so its checkpoints).

Stored as JSON in the detector directory (detector.json), so `predict --detect` and `export`
rebuild the same network with no flags. The input size and the output grid are fixed for all
detectors (plateocr.detection.geometry). No TensorFlow import here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from plateocr.errors import PlateOCRError

DETECTOR_CONFIG_VERSION = 1


@dataclass(frozen=True)
class DetectorConfig:
    # Channels of the backbone's stages at strides 2, 4, 8, 16 and 32.
    widths: tuple[int, ...] = (16, 32, 64, 96, 128)
    head_width: int = 48
    weight_decay: float = 4e-5
    batch_norm_decay: float = 0.99
    version: int = DETECTOR_CONFIG_VERSION

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "detector config") -> "DetectorConfig":
        from plateocr.model.config import config_from_dict

        def tuples(values: dict) -> dict:
            return {**values, "widths": tuple(values["widths"])} if "widths" in values else values

        config = config_from_dict(cls, d, source, DETECTOR_CONFIG_VERSION, "detector config", tuples)
        config.validate(source)
        return config

    def validate(self, source: str = "detector config") -> None:
        if len(self.widths) != 5:
            raise PlateOCRError(f"{source}: widths needs 5 stages (strides 2 to 32), got {len(self.widths)}")
