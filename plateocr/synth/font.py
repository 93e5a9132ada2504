"""plateocr's own stroke font: 0-9 and A-Z as polylines in a unit box, drawn with cv2.polylines.

Coordinates are (x, y) with x in [0, 1] left to right and y in [0, 1] top to bottom. Each glyph
also has an advance factor (narrow 1 and I, wide M and W) so the text does not look monospaced.
Drawing at any height, width, stroke thickness and slant gives many looks from one design.
"""

from __future__ import annotations

import cv2
import numpy as np

Stroke = list[tuple[float, float]]

_P_BOWL: Stroke = [(0, 1), (0, 0), (0.75, 0), (1, 0.15), (1, 0.4), (0.75, 0.55), (0, 0.55)]
_O: Stroke = [(0.3, 0), (0.7, 0), (1, 0.25), (1, 0.75), (0.7, 1), (0.3, 1), (0, 0.75), (0, 0.25), (0.3, 0)]
_SIX: Stroke = [
    (0.9, 0.08),
    (0.7, 0),
    (0.3, 0),
    (0.05, 0.25),
    (0.02, 0.7),
    (0.2, 1),
    (0.8, 1),
    (1, 0.8),
    (1, 0.6),
    (0.8, 0.45),
    (0.3, 0.45),
    (0.03, 0.62),
]

GLYPHS: dict[str, list[Stroke]] = {
    "0": [
        [
            (0.5, 0),
            (0.85, 0.1),
            (1, 0.35),
            (1, 0.65),
            (0.85, 0.9),
            (0.5, 1),
            (0.15, 0.9),
            (0, 0.65),
            (0, 0.35),
            (0.15, 0.1),
            (0.5, 0),
        ]
    ],
    "1": [[(0.1, 0.25), (0.6, 0), (0.6, 1)]],
    "2": [[(0.03, 0.2), (0.25, 0), (0.75, 0), (0.97, 0.2), (0.97, 0.4), (0.03, 1), (1, 1)]],
    "3": [
        [(0.03, 0.1), (0.2, 0), (0.8, 0), (0.95, 0.12), (0.95, 0.35), (0.8, 0.48), (0.35, 0.48)],
        [(0.8, 0.48), (1, 0.62), (1, 0.88), (0.8, 1), (0.2, 1), (0.03, 0.9)],
    ],
    "4": [[(0.75, 1), (0.75, 0), (0, 0.7), (1, 0.7)]],
    "5": [
        [(0.95, 0), (0.1, 0), (0.05, 0.45), (0.7, 0.4), (0.97, 0.55), (0.97, 0.85), (0.75, 1), (0.2, 1), (0.03, 0.9)]
    ],
    "6": [_SIX],
    "7": [[(0, 0), (1, 0), (0.4, 1)]],
    "8": [
        [
            (0.5, 0.46),
            (0.15, 0.38),
            (0.08, 0.2),
            (0.25, 0),
            (0.75, 0),
            (0.92, 0.2),
            (0.85, 0.38),
            (0.5, 0.46),
            (0.1, 0.58),
            (0, 0.8),
            (0.2, 1),
            (0.8, 1),
            (1, 0.8),
            (0.9, 0.58),
            (0.5, 0.46),
        ]
    ],
    "9": [[(1 - x, 1 - y) for x, y in _SIX]],
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.2, 0.62), (0.8, 0.62)]],
    "B": [
        [(0, 0), (0, 1), (0.75, 1), (0.97, 0.85), (0.97, 0.62), (0.75, 0.48), (0, 0.48)],
        [(0, 0), (0.7, 0), (0.9, 0.12), (0.9, 0.35), (0.7, 0.48)],
    ],
    "C": [[(1, 0.15), (0.8, 0), (0.3, 0), (0.05, 0.2), (0, 0.5), (0.05, 0.8), (0.3, 1), (0.8, 1), (1, 0.85)]],
    "D": [[(0, 0), (0, 1), (0.6, 1), (0.9, 0.85), (1, 0.5), (0.9, 0.15), (0.6, 0), (0, 0)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.75, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.75, 0.5)]],
    "G": [
        [
            (1, 0.15),
            (0.8, 0),
            (0.3, 0),
            (0.05, 0.2),
            (0, 0.5),
            (0.05, 0.8),
            (0.3, 1),
            (0.8, 1),
            (1, 0.85),
            (1, 0.55),
            (0.55, 0.55),
        ]
    ],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "I": [[(0.5, 0), (0.5, 1)], [(0.1, 0), (0.9, 0)], [(0.1, 1), (0.9, 1)]],
    "J": [[(0.3, 0), (1, 0)], [(0.8, 0), (0.8, 0.8), (0.6, 1), (0.2, 1), (0, 0.8)]],
    "K": [[(0, 0), (0, 1)], [(1, 0), (0, 0.62)], [(0.3, 0.42), (1, 1)]],
    "L": [[(0, 0), (0, 1), (1, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "O": [_O],
    "P": [_P_BOWL],
    "Q": [_O, [(0.5, 0.6), (1.05, 1.1)]],
    "R": [_P_BOWL, [(0.5, 0.55), (1, 1)]],
    "S": [
        [
            (1, 0.12),
            (0.8, 0),
            (0.2, 0),
            (0, 0.15),
            (0, 0.35),
            (0.2, 0.48),
            (0.8, 0.52),
            (1, 0.65),
            (1, 0.85),
            (0.8, 1),
            (0.2, 1),
            (0, 0.88),
        ]
    ],
    "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "U": [[(0, 0), (0, 0.75), (0.25, 1), (0.75, 1), (1, 0.75), (1, 0)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.22, 1), (0.5, 0.35), (0.78, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "Z": [[(0, 0), (1, 0), (0, 1), (1, 1)]],
    "-": [[(0.1, 0.5), (0.9, 0.5)]],
}

# Variants from DIN-like plate faces, each drawn instead of the glyph above on some plates: a W
# with its middle apex as high as the outer ones (read as VV or N by a reader that only saw the
# low one), and a 0 with long straight sides (read as G, as its flat sides are the G's).
W_TALL: list[Stroke] = [[(0, 0), (0.25, 1), (0.5, 0.02), (0.75, 1), (1, 0)]]
ZERO_TALL: list[Stroke] = [
    [
        (0.5, 0),
        (0.82, 0.03),
        (1, 0.16),
        (1, 0.84),
        (0.82, 0.97),
        (0.5, 1),
        (0.18, 0.97),
        (0, 0.84),
        (0, 0.16),
        (0.18, 0.03),
        (0.5, 0),
    ]
]
VARIANTS: dict[str, list[Stroke]] = {"W": W_TALL, "0": ZERO_TALL}

# Advance (glyph box width) relative to the common width; unlisted glyphs use 1.
ADVANCE = {"1": 0.55, "I": 0.5, "0": 0.85, "M": 1.15, "W": 1.2, "-": 0.6, " ": 0.6}

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel stroke placement
_ONE = 1 << _SHIFT


def text_width(text: str, char_w: float, spacing: float) -> float:
    """Width in pixels that draw_text needs for `text` (before slant)."""
    return sum(ADVANCE.get(c, 1.0) * char_w for c in text) + spacing * max(len(text) - 1, 0)


def draw_text(
    img: np.ndarray,
    text: str,
    origin: tuple[float, float],
    char_h: float,
    char_w: float,
    spacing: float,
    thickness: int,
    slant: float = 0.0,
    color=255,
    glyphs: dict[str, list[Stroke]] | None = None,
) -> None:
    """Draw `text` with its top-left glyph box at `origin` (x, y); spaces leave a gap.

    slant shifts a point right by slant * (distance above the baseline), i.e. italics for > 0.
    glyphs replaces GLYPHS (e.g. with a variant of some letters).
    """
    glyphs = GLYPHS if glyphs is None else glyphs
    x0, y0 = origin
    strokes = []
    for c in text:
        adv = ADVANCE.get(c, 1.0) * char_w
        for stroke in glyphs.get(c, ()):
            pts = np.asarray(stroke, dtype=np.float64)
            px = x0 + pts[:, 0] * adv + slant * (1.0 - pts[:, 1]) * char_h
            py = y0 + pts[:, 1] * char_h
            strokes.append(np.round(np.stack([px, py], axis=1) * _ONE).astype(np.int32))
        x0 += adv + spacing
    if strokes:
        cv2.polylines(img, strokes, False, color, thickness, cv2.LINE_AA, _SHIFT)
