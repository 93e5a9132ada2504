"""How to train a detector: DetectorTrainOptions (stored in the detector directory; a resumed run
reuses what is not given) and their checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from plateocr.errors import PlateOCRError

# A new detector that starts from a checkpoint (the bundled base detector by default) takes
# this learning rate unless one is given: its weights already find plates, a high rate would
# first undo that.
FINE_TUNE_LEARNING_RATE = 5e-4


@dataclass
class DetectorTrainOptions:
    steps: int = 3000  # total global steps to reach
    batch_size: int = 16
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    schedule: str = "cosine"  # decays to 0 at `steps` (plateocr.training.optimizers)
    warmup_steps: int = 100
    # Share of each batch that is rendered street scenes; the rest are the user's photos, each
    # zoomed and shifted anew, with rendered plates pasted in with probability `paste`.
    scene_share: float = 0.25
    paste: float = 0.5
    val: float = 0.15  # of the photos, by photo, for --eval-every and early stopping
    eval_every: int = 200
    patience: int = 5
    seed: int = 0
    save_every_secs: float = 300.0
    clip_gradient_norm: float = 5.0

    def validate(self) -> None:
        checks = [
            (self.steps >= 1, "--steps must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.learning_rate > 0, "--learning-rate must be positive"),
            (0.0 <= self.scene_share <= 1.0, "--scene-share must lie between 0 and 1"),
            (0.0 <= self.paste <= 1.0, "--paste must lie between 0 and 1"),
            (0.0 <= self.val < 1.0, "--val must lie between 0 and 1 (0 turns it off)"),
            (self.eval_every >= 0, "--eval-every must be 0 (off) or positive"),
            (self.patience >= 0, "--patience must be 0 (off) or positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise PlateOCRError(message)

    @classmethod
    def resolve(cls, stored: dict | None, given: dict | None) -> "DetectorTrainOptions":
        """Defaults, overridden by what a previous run stored, overridden by what is given now."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (stored or {}).items() if k in known}
        values.update({k: v for k, v in (given or {}).items() if k in known and v is not None})
        opts = cls(**values)
        opts.validate()
        return opts

    def to_dict(self) -> dict:
        return asdict(self)
