"""Which of the model's variables a training run updates (TrainOptions.train_layers).

Short fine-tunes on a few hundred plates can keep the early layers of a pretrained tower, whose
edge and stroke detectors hold for any plate, and train only what is specific to the new plates.
Plain names, no TensorFlow: the CLI validates the choice before building a graph.
"""

from __future__ import annotations

# all of them; the decoder and the tower's Inception blocks (the stem's plain convolutions keep
# their weights); the decoder only.
TRAIN_LAYERS = ("all", "top", "decoder")
TOWER_SCOPE = "conv_tower_fn/INCE/InceptionV3/"


def is_trained(variable_name: str, train_layers: str) -> bool:
    """Whether a variable (by name) is updated when training `train_layers`."""
    if train_layers not in TRAIN_LAYERS:
        raise ValueError(f"train_layers must be one of {TRAIN_LAYERS}, got {train_layers!r}")
    at = variable_name.find(TOWER_SCOPE)
    if at < 0 or train_layers == "all":
        return True
    if train_layers == "decoder":
        return False
    return variable_name[at + len(TOWER_SCOPE) :].startswith("Mixed_")
