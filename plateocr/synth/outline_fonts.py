"""Outline (TrueType/OpenType) fonts for the renderer, drawn through Pillow.

Real plates are printed in DIN-like, condensed gothic and OCR faces; a reader that only saw
plateocr's stroke font and OpenCV's Hershey faces reads their 1 as I and their 0 as O. So the
renderer draws most plates in outline fonts when any are present:

- system fonts from an allow-list of openly licensed Debian font packages (KNOWN_FONTS; e.g.
  `apt-get install fonts-opendin fonts-routed-gothic fonts-bebas-neue`), never fonts-urw-base35
  (AGPL), found under the usual font folders;
- a user's own fonts (`plateocr synth --fonts DIR`): every .ttf/.otf/.ttc below DIR, e.g. their
  country's plate font.

Without any, the renderer falls back to its built-in faces. A font is used only if it draws every
character of 0-9A-Z as a glyph of its own (not the missing-glyph box).

Each text is drawn one character at a time, so that plates get the looks real faces vary in:
weight (ink grown or thinned), width (condensed faces, narrowed glyphs), letter spacing, and the
glyph variants plates use: 1 as a plain bar, with a flag, with flag and foot; 4 open or closed
with a rounded bowl; I with slab serifs; M and W with upright stems and a V to part of the height;
0 plain, slashed or dotted; 7 with a bar; a narrow 0 beside a round O, or (same_oval) O drawn
exactly as 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from plateocr.defaults import BASE_ALPHABET
from plateocr.errors import PlateOCRError

# Debian package -> font files used from it (licence checked in /usr/share/doc/PKG/copyright).
# Sans and OCR faces only: plates are not set in serif or script faces. Weight in parentheses:
# how often a plate is drawn in that file relative to 1 (plate-like faces more often).
KNOWN_FONTS: dict[str, dict[str, float]] = {
    "fonts-opendin": {"OSP-DIN.ttf": 4},  # OFL: a DIN 1451 face, as on German and many EU plates
    "fonts-routed-gothic": {  # MIT/OFL: Highway Gothic, as on US plates
        "routed-gothic.ttf": 2,
        "routed-gothic-narrow.ttf": 2,
        "routed-gothic-wide.ttf": 1,
    },
    "fonts-ocr-b": {"OCRB.otf": 1.5},  # public domain / permissive
    "fonts-bebas-neue": {  # OFL: condensed caps, as on American and South American plates
        "BebasNeue-Regular.otf": 1.5,
        "BebasNeue-Bold.otf": 1.5,
        "BebasNeue-Book.otf": 1,
    },
    "fonts-b612": {"B612-Regular.otf": 0.7, "B612-Bold.otf": 0.7, "B612Mono-Bold.otf": 0.7},  # OFL
    "fonts-liberation2": {"LiberationSans-Regular.ttf": 0.5, "LiberationSans-Bold.ttf": 1},  # OFL
    "fonts-croscore": {"Arimo-Bold.ttf": 0.7, "Cousine-Bold.ttf": 0.5},  # OFL
    "fonts-dejavu-core": {"DejaVuSans.ttf": 0.4, "DejaVuSans-Bold.ttf": 0.8, "DejaVuSansMono-Bold.ttf": 0.5},
    "fonts-dejavu-extra": {"DejaVuSansCondensed-Bold.ttf": 1.5, "DejaVuSansCondensed.ttf": 0.7},  # Vera licence
    "fonts-open-sans": {"OpenSans-CondBold.ttf": 1.5, "OpenSans-Semibold.ttf": 0.5},  # Apache-2.0
    "fonts-league-spartan": {"LeagueSpartan-Bold.otf": 0.7, "LeagueSpartan-SemiBold.otf": 0.5},  # OFL
    "fonts-roadgeek": {  # GPL/MIT: US highway sign series B-E (FHWA), the lettering of many plates
        "RG2014B.ttf": 1.5,
        "RG2014C.ttf": 1.5,
        "RG2014D.ttf": 1,
        "RG2014E.ttf": 0.7,
    },
    "fonts-tiresias": {
        "tiresias_lpfont.ttf": 2,
        "tiresias_lpfont_bold.ttf": 2,  # GPL + font exception
        "tiresias_signfont_bold.ttf": 0.7,
    },
    "fonts-play": {"Play-Bold.ttf": 1.5, "Play-Regular.ttf": 1},  # OFL: squarish, as Argentine plates
    "fonts-ocr-a": {"OCRA.ttf": 0.5},  # public domain
    "fonts-roboto-unhinted": {
        "RobotoCondensed-Bold.ttf": 1.5,
        "RobotoCondensed-Regular.ttf": 1,  # Apache-2.0
        "Roboto-Medium.ttf": 0.5,
    },
    "fonts-yanone-kaffeesatz": {"YanoneKaffeesatz-Bold.otf": 1, "YanoneKaffeesatz-Regular.otf": 0.7},  # OFL
    "fonts-dosis": {"Dosis-Bold.otf": 1, "Dosis-SemiBold.otf": 0.7},  # OFL: rounded, condensed
    "fonts-national-park": {"NationalPark-Heavy.otf": 0.7, "NationalPark-Regular.otf": 0.5},  # OFL
    "fonts-freefont-ttf": {"FreeSansBold.ttf": 0.7},  # GPL + font exception
    "fonts-go": {"Go-Bold.ttf": 0.5, "Go-Mono-Bold.ttf": 0.5},  # BSD
    "fonts-cabin": {"Cabin-Bold.otf": 0.5},  # OFL
    "fonts-beteckna": {"BetecknaGSCondensed-Bold.ttf": 1, "BetecknaGS-Bold.ttf": 0.7},  # GPL: geometric
    "fonts-jura": {"Jura-Bold.otf": 0.5},  # OFL / GPL
}
USER_FONT_WEIGHT = 4.0  # a user's own fonts (their plate font) are drawn often
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
RENDER_SIZE = 64  # Pillow font size (px) the glyphs are drawn at before the plate's resize
WORK_CAP_H = 40  # cap height the drawn text is normalised to (as the built-in faces)


@dataclass(frozen=True)
class FontFile:
    path: str
    weight: float


def debian_packages() -> list[str]:
    """The Debian packages of KNOWN_FONTS (the base-model script installs them)."""
    return list(KNOWN_FONTS)


def find_system_fonts(dirs=SYSTEM_FONT_DIRS) -> list[FontFile]:
    """The KNOWN_FONTS files present under the system font folders (first found per name)."""
    wanted = {name: w for files in KNOWN_FONTS.values() for name, w in files.items()}
    found: dict[str, FontFile] = {}
    for d in dirs:
        root = Path(os.path.expanduser(d))
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.name in wanted and path.name not in found and path.is_file():
                found[path.name] = FontFile(str(path), wanted[path.name])
    return [found[n] for n in sorted(found)]


def find_user_fonts(folder: str | Path) -> list[FontFile]:
    """Every font file below `folder`; a clear error when there is none or it is not a folder."""
    root = Path(folder).expanduser()
    if root.is_file() and root.suffix.lower() in FONT_SUFFIXES:
        paths = [root]
    elif root.is_dir():
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
    else:
        raise PlateOCRError(f"{root}: no such font folder or font file")
    if not paths:
        raise PlateOCRError(f"{root}: no .ttf, .otf or .ttc font files in it")
    return [FontFile(str(p), USER_FONT_WEIGHT) for p in paths]


@dataclass(frozen=True)
class FontChoice:
    """The fonts the renderer draws with (hashable: it travels to worker processes)."""

    system: bool = True
    user_dirs: tuple[str, ...] = ()

    def files(self) -> list[FontFile]:
        files = find_system_fonts() if self.system else []
        for d in self.user_dirs:
            files += find_user_fonts(d)
        return files


class LoadedFont:
    """One font at RENDER_SIZE with what the renderer needs of it: cap height, glyph masks."""

    def __init__(self, path: str, weight: float):
        from PIL import ImageFont

        self.path = path
        self.weight = weight
        try:
            self.font = ImageFont.truetype(path, RENDER_SIZE)
        except OSError as e:
            raise PlateOCRError(f"{path}: not a font Pillow can read ({e})") from None
        top, bottom = self._ink_rows("H")
        self.cap_h = bottom - top
        self.cap_top = top

    def _ink_rows(self, c: str) -> tuple[int, int]:
        box = self.font.getbbox(c, anchor="ls")
        return box[1], box[3]

    def glyph(self, c: str) -> tuple[np.ndarray, int, float]:
        """(ink mask uint8, its left offset from the pen, its advance) of one char; row 2 of the
        mask is the top of H, whatever the char."""
        return _glyph(self.path, c)

    def covers(self, alphabet: str) -> bool:
        """True when every char has ink and none is the font's missing-glyph box."""
        missing = _raw_mask(self.path, "\uffff")
        for c in alphabet:
            m = _raw_mask(self.path, c)
            if m is None or (missing is not None and m.shape == missing.shape and np.array_equal(m, missing)):
                return False
        return self.cap_h > RENDER_SIZE // 4


@lru_cache(maxsize=64)
def _load(path: str, weight: float) -> LoadedFont:
    return LoadedFont(path, weight)


@lru_cache(maxsize=4096)
def _raw_mask(path: str, c: str) -> np.ndarray | None:
    from PIL import Image, ImageDraw

    font = _load(path, 0.0).font
    box = font.getbbox(c, anchor="ls")
    w, h = box[2] - box[0] + 4, box[3] - box[1] + 4
    if w <= 4 or h <= 4:
        return None
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((2 - box[0], 2 - box[1]), c, fill=255, font=font, anchor="ls")
    mask = np.asarray(img)
    return mask if mask.max() > 0 else None


@lru_cache(maxsize=4096)
def _glyph(path: str, c: str) -> tuple[np.ndarray, int, float]:
    from PIL import Image, ImageDraw

    f = _load(path, 0.0)
    font = f.font
    box = font.getbbox(c, anchor="ls")
    top = min(box[1], f.cap_top)
    bottom = max(box[3], 0)
    w, h = max(1, box[2] - box[0] + 4), max(1, bottom - top + 4)
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((2 - box[0], 2 - top), c, fill=255, font=font, anchor="ls")
    mask = np.asarray(img).copy()
    # rows relative to the cap line: row 2 is the top of H (a glyph that rises above it, rare in
    # 0-9A-Z, is clipped there)
    skip = f.cap_top - top
    mask = mask[skip:] if skip > 0 else mask
    return mask, box[0] - 2, float(font.getlength(c))


class FontSet:
    """The usable fonts of a FontChoice, and random draws from them."""

    def __init__(self, choice: FontChoice):
        self.choice = choice
        fonts = []
        for ff in choice.files():
            try:
                f = _load(ff.path, ff.weight)
            except PlateOCRError:
                if ff.weight == USER_FONT_WEIGHT:
                    raise
                continue
            if f.covers(BASE_ALPHABET):
                fonts.append((ff.path, ff.weight))
            elif ff.weight == USER_FONT_WEIGHT:
                raise PlateOCRError(f"{ff.path}: the font does not draw every character of 0-9A-Z")
        self.paths = [p for p, _ in fonts]
        w = np.array([w for _, w in fonts], float)
        self.p = w / w.sum() if len(w) else w

    def __bool__(self) -> bool:
        return bool(self.paths)

    def pick(self, rng: np.random.Generator) -> LoadedFont:
        return _load(self.paths[int(rng.choice(len(self.paths), p=self.p))], 0.0)


_ACTIVE: FontSet | None = None


@contextmanager
def fonts_in_use(choice: FontChoice | None) -> Iterator[FontSet]:
    """use_fonts(choice) for a block; the fonts in use before come back after it."""
    before = _ACTIVE
    try:
        yield use_fonts(choice)
    finally:
        _restore(before)


def _restore(font_set: FontSet | None) -> None:
    global _ACTIVE
    _ACTIVE = font_set


def use_fonts(choice: FontChoice | None) -> FontSet:
    """Make `choice` the renderer's fonts in this process (None: the default, system fonts);
    cheap when it is already the active one. Worker processes call it with their job's choice."""
    global _ACTIVE
    choice = choice or FontChoice()
    if _ACTIVE is None or _ACTIVE.choice != choice:
        _ACTIVE = FontSet(choice)
    return _ACTIVE


def active() -> FontSet:
    return _ACTIVE if _ACTIVE is not None else use_fonts(None)


# --- drawing ---------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _stem_of(path: str) -> int:
    m, _, _ = _glyph(path, "I")
    rows = np.flatnonzero(m.max(axis=1) > 127)
    if not len(rows):
        return RENDER_SIZE // 10
    middle = m[(rows[0] + rows[-1]) // 2] > 127  # the I's middle row: the stem without its serifs
    return max(2, int(middle.sum()))


def _stem(f: LoadedFont) -> int:
    """The font's vertical stem width in render pixels (the ink across the middle of its I)."""
    return _stem_of(f.path)


def _one_variant(rng: np.random.Generator, f: LoadedFont, shape: tuple[int, int]) -> np.ndarray:
    """A 1 drawn as plates draw it: a plain bar, a bar with a flag, or with flag and foot."""
    h, w = shape
    stem = _stem(f)
    img = np.zeros((h, max(w, stem * 3)), np.uint8)
    cap = f.cap_h
    x = img.shape[1] // 2 + stem // 2
    cv2.rectangle(img, (x - stem // 2, 0), (x + (stem - 1) // 2, cap - 1), 255, -1)
    style = rng.random()
    if style > 0.33:  # a flag down-left from the top
        dx, dy = int(cap * rng.uniform(0.18, 0.32)), int(cap * rng.uniform(0.12, 0.3))
        cv2.line(img, (x, stem // 2), (x - dx, dy), 255, max(1, int(stem * 0.85)), cv2.LINE_AA)
    if style > 0.75:  # and a foot
        fw = int(cap * rng.uniform(0.18, 0.28))
        cv2.rectangle(img, (x - fw, cap - max(2, stem * 3 // 4)), (x + fw, cap - 1), 255, -1)
    return img


def _four_variant(style: str, f: LoadedFont) -> np.ndarray:
    """A 4 drawn at the font's stem width: "closed" with a rounded bowl (the diagonal bulges up
    and left, as in old Argentine and some DIN-like faces, where it looks much like a 0), or
    "open" (its left arm upright, apart from the stem)."""
    cap, stem = f.cap_h, _stem(f)
    w = int(cap * 0.66)
    img = np.zeros((cap, w + stem), np.uint8)
    half = stem // 2
    sx, bar_y = w - stem, int(cap * 0.68)  # the stem's x and the crossbar's height
    if style == "closed":
        t = np.linspace(0, 1, 24)[:, None]
        p0, p1, p2 = np.array([sx, half]), np.array([half, half]), np.array([half, bar_y])
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2  # a quadratic Bezier
        cv2.polylines(img, [np.round(curve).astype(np.int32)], False, 255, stem, cv2.LINE_AA)
        top = half
    else:
        cv2.line(img, (half + 1, half), (half + 1, bar_y), 255, stem, cv2.LINE_AA)
        top = int(cap * 0.3)
    cv2.line(img, (sx, top), (sx, cap - 1 - half), 255, stem, cv2.LINE_AA)
    cv2.line(img, (half, bar_y), (w + half - 1, bar_y), 255, stem, cv2.LINE_AA)
    return img


def _mw_variant(c: str, f: LoadedFont, depth: float) -> np.ndarray:
    """An M or W drawn as narrow plate faces draw them (old Argentine plates, many condensed
    faces): two upright stems, and between them a V from the top corners (M) or the bottom ones
    (W) whose point reaches `depth` of the height, where the font's own W slants outward and an
    upright W looks like an H."""
    cap, stem = f.cap_h, _stem(f)
    w = int(cap * 0.62)
    img = np.zeros((cap, w + stem), np.uint8)
    half = stem // 2
    left, right = half, w - half
    cv2.line(img, (left, half), (left, cap - 1 - half), 255, stem, cv2.LINE_AA)
    cv2.line(img, (right, half), (right, cap - 1 - half), 255, stem, cv2.LINE_AA)
    mid = (left + right) // 2
    if c == "M":
        point, ends = int(cap * depth), half
    else:
        point, ends = cap - 1 - int(cap * depth), cap - 1 - half
    thick = max(1, int(stem * 0.85))
    cv2.line(img, (left, ends), (mid, point), 255, thick, cv2.LINE_AA)
    cv2.line(img, (right, ends), (mid, point), 255, thick, cv2.LINE_AA)
    return img


def _serif_i(f: LoadedFont) -> np.ndarray:
    """An I with top and bottom serifs (slab I), as plate faces draw it to tell it from 1."""
    cap, stem = f.cap_h, _stem(f)
    w = max(stem * 3, int(cap * 0.42))
    img = np.zeros((cap, w), np.uint8)
    x = w // 2
    cv2.rectangle(img, (x - stem // 2, 0), (x + (stem - 1) // 2, cap - 1), 255, -1)
    bar = max(2, int(stem * 0.8))
    cv2.rectangle(img, (0, 0), (w - 1, bar - 1), 255, -1)
    cv2.rectangle(img, (0, cap - bar), (w - 1, cap - 1), 255, -1)
    return img


def _decorate_zero(rng: np.random.Generator, mask: np.ndarray, stem: int, style: str) -> np.ndarray:
    """A 0 with a slash or a dot in it (in a copy)."""
    mask = mask.copy()
    rows = np.flatnonzero(mask.max(axis=1) > 127)
    cols = np.flatnonzero(mask.max(axis=0) > 127)
    if not len(rows) or not len(cols):
        return mask
    top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
    thick = max(1, int(stem * 0.7))
    if style == "slash":
        cv2.line(
            mask,
            (right - (right - left) // 5, top + (bottom - top) // 6),
            (left + (right - left) // 5, bottom - (bottom - top) // 6),
            255,
            thick,
            cv2.LINE_AA,
        )
    else:
        cv2.ellipse(
            mask,
            ((left + right) // 2, (top + bottom) // 2),
            (max(1, thick // 3), max(1, thick // 2)),
            0,
            0,
            360,
            255,
            -1,
        )
    return mask


def _seven_bar(mask: np.ndarray, stem: int) -> np.ndarray:
    mask = mask.copy()
    rows = np.flatnonzero(mask.max(axis=1) > 127)
    cols = np.flatnonzero(mask.max(axis=0) > 127)
    if len(rows) and len(cols):
        y = (rows[0] + rows[-1]) // 2 + 1
        w = cols[-1] - cols[0]
        cv2.line(mask, (cols[0] + w // 4, y), (cols[-1] - w // 8, y), 255, max(1, int(stem * 0.7)), cv2.LINE_AA)
    return mask


def _h_scale(mask: np.ndarray, k: float) -> np.ndarray:
    if abs(k - 1.0) < 0.02:
        return mask
    return cv2.resize(mask, (max(1, int(round(mask.shape[1] * k))), mask.shape[0]), interpolation=cv2.INTER_AREA)


def draw_text_mask(rng: np.random.Generator, fonts: FontSet, display: str, same_oval: bool = False) -> np.ndarray:
    """`display` (chars of 0-9A-Z, spaces and '-') in a random outline font: uint8 ink, 255 = ink,
    about WORK_CAP_H high (not cropped to the ink). Spaces leave a gap."""
    f = fonts.pick(rng)
    stem = _stem(f)
    width = rng.uniform(0.68, 1.1) if rng.random() < 0.6 else 1.0  # condensed or wider
    tracking = f.cap_h * (rng.uniform(-0.02, 0.22))
    one = rng.random()  # 1: the font's own, or a plain bar / flag / flag and foot (one per plate)
    one_seed = None if one < 0.4 else int(rng.integers(1 << 31))
    four = str(rng.choice(["font", "closed", "open"], p=[0.65, 0.22, 0.13]))
    serif_i = rng.random() < 0.2
    zero = rng.choice(["plain", "slash", "dot"], p=[0.9, 0.07, 0.03])
    seven_bar = rng.random() < 0.08
    zero_narrow = rng.uniform(0.78, 0.92) if rng.random() < 0.5 else 1.0
    o_round = rng.uniform(1.0, 1.12) if rng.random() < 0.4 else 1.0
    weight = rng.choice([-1, 0, 1, 2], p=[0.15, 0.5, 0.25, 0.1])
    upright_mw = rng.uniform(0.4, 0.7) if rng.random() < 0.3 else None  # the depth of the M's and W's V
    cap = f.cap_h

    def variant(c: str) -> np.ndarray | None:
        """The glyph drawn by hand for this plate instead of the font's, or None."""
        if c == "1" and one_seed is not None:
            return _one_variant(np.random.default_rng(one_seed), f, (cap, int(cap * 0.45)))
        if c == "4" and four != "font":
            return _four_variant(four, f)
        if c == "I" and serif_i:
            return _serif_i(f)
        if c in "MW" and upright_mw is not None:
            return _mw_variant(c, f, upright_mw)
        return None

    rows = cap + RENDER_SIZE // 3  # room for descent (Q) below the baseline
    pieces: list[np.ndarray] = []
    x_positions: list[int] = []
    x = 0.0
    for c in display:
        if c == " " or c == "-" and _raw_mask(f.path, "-") is None:  # a font without a hyphen: a gap
            x += cap * rng.uniform(0.25, 0.55)
            continue
        glyph_c = "0" if (c == "O" and same_oval) else c
        m = variant(glyph_c)
        if m is not None:
            m = _h_scale(np.pad(m, ((2, 0), (0, 0))), width)  # row 2 is the cap line, as in glyph()
            adv, left = float(m.shape[1]), 0
        else:
            m, left, adv = f.glyph(glyph_c)
            if glyph_c == "0" and zero != "plain" and not same_oval:
                m = _decorate_zero(rng, m, stem, str(zero))
            if glyph_c == "7" and seven_bar:
                m = _seven_bar(m, stem)
            k = width * (zero_narrow if glyph_c == "0" else o_round if glyph_c == "O" else 1.0)
            m = _h_scale(m, k)
            adv *= k
            left = int(round(left * k))
        pieces.append(m)
        x_positions.append(int(round(x + left)))
        x += adv + tracking
    if not pieces:
        return np.zeros((WORK_CAP_H, 4), np.uint8)
    total_w = max(p + m.shape[1] for p, m in zip(x_positions, pieces)) + 4
    offset = max(0, -min(x_positions)) + 2
    canvas = np.zeros((rows + 4, total_w + offset), np.uint8)
    for p, m in zip(x_positions, pieces):
        hh = min(m.shape[0], canvas.shape[0] - 2)
        region = canvas[2 : 2 + hh, p + offset : p + offset + m.shape[1]]
        np.maximum(region, m[:hh, : region.shape[1]], out=region)
    if weight < 0 and stem < cap * 0.12 or weight > 0 and stem > cap * 0.17:
        weight = 0  # thin faces are not thinned further, bold ones not made blobs
    if weight:
        k = max(1, int(round(abs(weight) * stem * 0.12)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        canvas = cv2.dilate(canvas, kernel) if weight > 0 else cv2.erode(canvas, kernel)
        if canvas.max() == 0:  # thinned away: keep the font's own weight
            return draw_text_mask(rng, fonts, display, same_oval)
    scale = WORK_CAP_H / cap
    return cv2.resize(
        canvas,
        (max(1, int(round(canvas.shape[1] * scale))), max(1, int(round(canvas.shape[0] * scale)))),
        interpolation=cv2.INTER_AREA,
    )
