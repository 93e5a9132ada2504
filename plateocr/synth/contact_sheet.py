"""A contact sheet: crops in a grid with their labels under them, to review the renderer by eye
beside real crops (`plateocr synth OUT --crops --count 64 --sheet sheet.png`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from plateocr.imaging import encode_png
from plateocr.outputs import write_bytes_atomic

CELL_SCALE = 2  # crops are small (32x128): show them twice as large
LABEL_H = 16


def contact_sheet(crops: list[np.ndarray], labels: list[str], columns: int = 8) -> np.ndarray:
    """One BGR image: `crops` (BGR or grey uint8, any sizes) scaled into equal cells, each with
    its label printed below, `columns` to a row."""
    if not crops:
        raise ValueError("a contact sheet needs at least one crop")
    h = max(c.shape[0] for c in crops) * CELL_SCALE
    w = max(c.shape[1] for c in crops) * CELL_SCALE
    columns = max(1, min(columns, len(crops)))
    rows = -(-len(crops) // columns)
    pad = 4
    sheet = np.full((rows * (h + LABEL_H + pad) + pad, columns * (w + pad) + pad, 3), 255, np.uint8)
    for i, (crop, label) in enumerate(zip(crops, labels)):
        if crop.ndim == 2:
            crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        r, c = divmod(i, columns)
        y, x = pad + r * (h + LABEL_H + pad), pad + c * (w + pad)
        k = min(h / crop.shape[0], w / crop.shape[1])
        cell = cv2.resize(crop, (int(crop.shape[1] * k), int(crop.shape[0] * k)), interpolation=cv2.INTER_NEAREST)
        sheet[y : y + cell.shape[0], x : x + cell.shape[1]] = cell
        cv2.putText(
            sheet, label, (x + 2, y + h + LABEL_H - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
    return sheet


def write_contact_sheet(path: str | Path, crops: list[np.ndarray], labels: list[str], columns: int = 8) -> Path:
    path = Path(path)
    write_bytes_atomic(path, encode_png(contact_sheet(crops, labels, columns)))
    return path
