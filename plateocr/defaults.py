"""Defaults shared by several stages, kept in one place so crop, records, training and predict agree."""

# Crop size (height, width). Plates are wide (about 4.5:1 in Europe); a wide input keeps
# characters large for the same pixel budget, and the InceptionV3 tower then yields a 5x29
# feature grid. The tutorial's square 200x200 is still available with --size 200x200 --stretch.
CROP_SIZE = (64, 256)
KEEP_ASPECT = False  # stretch: fills the whole input with plate
MARGIN = 0.05  # fraction of the box's width/height added on each side

NULL_CHAR = "<nul>"
NULL_CODE = 0
# The base alphabet every default charset starts with, in this order, so that models trained on
# different datasets share character ids (and the bundled base model's output layer fits).
BASE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

CROPS_DIR = "crops"
LABELS_FILE = "labels.csv"
RECORDS_DIR = "records"
SPEC_FILE = "dataset.json"
CHARSET_FILE = "charset.txt"
MODEL_DIR = "model"
