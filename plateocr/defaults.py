"""Defaults shared by several stages, kept in one place so crop, records, training and predict agree."""

# Crop size (height, width): the bundled base model's input. Plates are wide (about 4.5:1 in
# Europe) and small in street photos (the real EU set's median box is 113x26 px), so 32x128 keeps
# them near their native resolution; the InceptionV3 tower then yields a 1x13 feature row (one
# column per character place), and a training step costs ~6x less than at 64x256. The tutorial's
# square 200x200 is still available with --size 200x200 --stretch.
CROP_SIZE = (32, 128)
CROP_SIZE_TEXT = f"{CROP_SIZE[0]}x{CROP_SIZE[1]}"
KEEP_ASPECT = False  # stretch: fills the whole input with plate
MARGIN = 0.05  # fraction of the box's width/height added on each side
# A found box is kept only where it reads like a plate: its reading's confidence per character
# (the geometric mean, plateocr.photo_reading.per_char_confidence) at least this. Chosen on eu's training three quarters
# (benchmarks/detection.py's split; its test quarter chose nothing): the bundled detector's boxes
# on plates read 0.53 and up there, 17 of its 21 other boxes (badges, grilles, lamps) 0.23 or
# less; the bundled reader reads every real ar crop at 0.25 or more. 0 keeps every box.
READING_THRESHOLD = 0.2

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
PREDICT_FORMATS = ("table", "csv", "json")  # predict --format
# Images per batch when reading (predict, eval, PlateReader); training has a batch size of its own.
READ_BATCH_SIZE = 64
READ_BATCH_HELP = "Images read per batch (does not change the result; train's --batch-size is its own)."
# What runs the model when reading (PlateReader's backend, predict --backend; plateocr.inference.reader).
READ_BACKENDS = ("auto", "litert", "tensorflow")
READ_BACKEND_ENV = "PLATEOCR_BACKEND"
READ_BACKEND_HELP = (
    "What runs the model: litert (TensorFlow Lite, built once per checkpoint and cached; then no "
    "TensorFlow start-up), tensorflow, or auto (litert where installed). The readings are the same. "
    f"\\[default: ${READ_BACKEND_ENV}, else auto]"
)

# Read each plate as a few re-framed views and vote (plateocr.inference.test_time_augmentation):
# the default of predict, eval and export, which say so in their --help. A view is (horizontal
# scale, vertical scale, horizontal shift, vertical shift), shifts as fractions of the crop's
# size; the first view is the crop itself.
TTA_VIEWS = (
    (1.0, 1.0, 0.0, 0.0),
    (1.06, 1.1, 0.0, 0.0),
    (0.94, 0.9, 0.0, 0.0),
    (1.0, 1.0, 0.015, 0.0),
    (1.0, 1.0, -0.015, 0.0),
)
TTA_HELP = (
    f"Read each plate as {len(TTA_VIEWS)} slightly re-framed views and keep the text they agree on (more "
    f"accurate, {len(TTA_VIEWS)}x the inference). --no-tta: one view. \\[default: on]"
)
