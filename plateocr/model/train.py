"""The old import path of train(): the training system is plateocr.training (plateocr.training.loop).
Kept while scripts/train_base_model.py and the README name plateocr.model.train.train."""

from plateocr.training.loop import TrainingInterrupted, TrainListener, TrainResult, train
from plateocr.training.options import TrainOptions

__all__ = ["train", "TrainOptions", "TrainResult", "TrainListener", "TrainingInterrupted"]
