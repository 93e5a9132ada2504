"""Synthetic number plates and street photos, drawn with OpenCV (no font or image files).

- random_text(rng): a plate text, 5-8 characters of 0-9A-Z.
- render_plate(rng, text=None): one plate image and its label, independent of any photo.
- render_scene(rng, width, height): a street photo with 1-3 plates and their tight boxes.
- write_dataset(...): photos + annot.csv, as `plateocr synth` writes them.
- crops.iter_crops(seed): endless plate crops as `plateocr crop` cuts them from photos (for
  pretraining); crop_dataset.write_crops: a crops folder, as `plateocr synth --crops` writes it.

Every function takes a numpy Generator; the same generator state gives the same output.
"""

from plateocr.synth.dataset import SynthResult, image_rng, write_dataset
from plateocr.synth.plate import random_text, render_plate
from plateocr.synth.scene import render_scene

__all__ = ["SynthResult", "image_rng", "random_text", "render_plate", "render_scene", "write_dataset"]
