"""Cutting plates out of photos: one crop per annotation row, plus the manifest `tfrecords` reads.

The output folder (default ``crops/``) holds:

- ``<photo stem>_L<csv line>.png``: one crop per usable row (the line makes names unique and
  traceable, even with several plates per photo).
- ``labels.csv``: the manifest, ``files,text,source,line,xmin,xmax,ymin,ymax``. ``files`` and
  ``source`` (the photo) are relative to the manifest's folder; the box is the pixel region cut
  from the photo (margin added, clipped to the photo), so ``photo[ymin:ymax, xmin:xmax]`` resized
  gives the crop. Written atomically and last: if it exists, the run finished.
- ``crop.json``: how the crops were made (size [h, w], keep_aspect, margin), see CropSettings.
- ``skipped.csv``: the rows skipped and why (plateocr.problems report).
- ``.progress.jsonl``: a journal of photos already cropped, so ``--resume`` skips them.

Each photo is decoded once; a worker process handles one photo and all of its rows and writes
the PNGs itself. Workers hold the job list (inherited when forked), so only spans of it go out
and only crop names and boxes come back. Crops are written in place (see write_crop): the
folder, not each file, is what is finished or not, and labels.csv says which.

Modules: settings (CropSettings, crop.json), plate (one plate: its box checked, cut and fitted),
photo (one photo, in a worker process: decode once, write its crops), journal (the resume
journal, and taking over an earlier run's folder), stage (crop_annotations, the whole stage).
"""

from plateocr.cropping.plate import Box, box_problem, crop_name, crop_one, crop_region
from plateocr.cropping.settings import SETTINGS_FILE, CropSettings
from plateocr.cropping.stage import (
    MANIFEST_COLUMNS,
    REPORT_FILE,
    CropError,
    CropResult,
    crop_annotations,
    default_images_dir,
)

__all__ = [
    "Box",
    "box_problem",
    "crop_name",
    "crop_one",
    "crop_region",
    "SETTINGS_FILE",
    "CropSettings",
    "MANIFEST_COLUMNS",
    "REPORT_FILE",
    "CropError",
    "CropResult",
    "crop_annotations",
    "default_images_dir",
]
