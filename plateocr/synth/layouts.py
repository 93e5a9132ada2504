"""The world's plate layouts beside the European ones of plate.render_plate.

Each family draws a plate (uint8 BGR, text roughly WORK height) and returns it with its label:
- north_american: state name above (large, coloured), slogan below, white / gradient / pictorial
  backgrounds, condensed characters, corner stickers, small stacked characters beside the number
  (not in the label), sometimes a holder frame covering the top and bottom text;
- mercosur: white with a blue band holding the country's name and a flag, black condensed text
  (Argentina `LL NNN LL`, Brazil `LLLNLNN`, Uruguay, Paraguay);
- south_american_old: Argentine black plates with white `LLL NNN`, Brazilian grey (or red)
  plates with the state and city above (`PR-CURITIBA`) and `LLL-NNNN`, a dot or dash between
  the groups;
- british: yellow rear / white front plates, `LLNN LLL`, sometimes a blue GB/UK side strip;
- two_line: squarer plates with the text over two rows (motorcycles, Asia), sometimes a small
  first row and a large second one.

Texts come from each region's formats most of the time and are random otherwise, so that no
format rules. Nothing drawn apart from the characters (names, slogans, stickers) is in the label.
"""

from __future__ import annotations

import cv2
import numpy as np

from plateocr.synth.effects import shade
from plateocr.synth.plate import DIGITS, LETTERS, _jitter, _run, plate_colours, random_groups, text_mask

Plate = tuple[np.ndarray, str]

US_STATES = (
    "CALIFORNIA",
    "TEXAS",
    "NEW YORK",
    "FLORIDA",
    "OHIO",
    "ILLINOIS",
    "GEORGIA",
    "ARIZONA",
    "NEVADA",
    "OREGON",
    "COLORADO",
    "VIRGINIA",
    "MICHIGAN",
    "NEW JERSEY",
    "WASHINGTON",
    "MARYLAND",
    "KANSAS",
    "UTAH",
    "IDAHO",
    "MAINE",
    "ALABAMA",
    "INDIANA",
    "IOWA",
    "MONTANA",
    "WYOMING",
    "VERMONT",
    "ONTARIO",
    "QUEBEC",
    "ALBERTA",
    "MEXICO",
    "JALISCO",
    "MASSACHUSETTS",
    "PENNSYLVANIA",
    "TENNESSEE",
    "NEW MEXICO",
)
US_SLOGANS = (
    "Sunshine State",
    "Empire State",
    "Land of Lincoln",
    "The Lone Star State",
    "Garden State",
    "Great Lakes",
    "Live Free or Die",
    "Grand Canyon State",
    "dmv.ca.gov",
    "Famous Potatoes",
    "Green Mountains",
    "Wild Wonderful",
    "Je me souviens",
    "Yours to discover",
    "In God We Trust",
    "Choose Life",
    "Keep it Beautiful",
    "America's Dairyland",
    "The Peach State",
    "Vacationland",
)
BR_CITIES = (
    "PR-CURITIBA",
    "SP-SAO PAULO",
    "RJ-RIO DE JANEIRO",
    "MG-BELO HORIZONTE",
    "SC-JOINVILLE",
    "RS-PORTO ALEGRE",
    "BA-SALVADOR",
    "PR-LONDRINA",
    "SP-CAMPINAS",
    "GO-GOIANIA",
    "DF-BRASILIA",
)
MERCOSUR_COUNTRIES = {
    "ARGENTINA": ("LL NNN LL",),
    "BRASIL": ("LLLNLNN", "LLL NLNN"),
    "URUGUAY": ("LLL NNNN",),
    "PARAGUAY": ("LLLL NNN",),
}
US_FORMATS = (
    "NLLLNNN",
    "LLL NNNN",
    "LLLNNNN",
    "LLL NNN",
    "NNN LLL",
    "NLL NNN",
    "LL NNNNN",
    "NNNNNN",
    "NNN NNN",
    "LLL NNNL",
    "NLLNNN",
    "LLNNNNN",
    "NNNNLL",
    "LLNNLL",
)
_BLUE_BAND = (160, 60, 10)


def _from_format(rng: np.random.Generator, fmt: str) -> list[str]:
    return ["".join(_run(rng, LETTERS if k == "L" else DIGITS, 1) for k in g) for g in fmt.split()]


def _groups(rng: np.random.Generator, formats: tuple[str, ...], p_format: float = 0.8) -> list[str]:
    if rng.random() < p_format:
        return _from_format(rng, formats[int(rng.integers(len(formats)))])
    return random_groups(rng)[0]


def _groups_for(text: str | None, rng: np.random.Generator, formats: tuple[str, ...]) -> list[str]:
    if text is None:
        return _groups(rng, formats)
    return [text]


def _paste_ink(plate: np.ndarray, ink: np.ndarray, box: tuple[int, int, int, int], colour) -> None:
    """Blend `ink` (uint8 alpha) resized into box (x, y, w, h) of float32 `plate` in `colour`."""
    x, y, w, h = box
    H, W = plate.shape[:2]
    w, h = max(1, min(w, W - x)), max(1, min(h, H - y))
    if x < 0 or y < 0 or w < 2 or h < 2:
        return
    alpha = cv2.resize(ink, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
    region = plate[y : y + h, x : x + w]
    region += alpha * (np.asarray(colour, np.float32) - region)


def _fit_text(
    rng, plate, display: str, x0: int, x1: int, y0: int, y1: int, colour, squeeze=(0.85, 1.15), same_oval=False
) -> None:
    """Draw `display` centred in the box, its height y1-y0, its width by the font's own aspect
    (squeezed to fit)."""
    ink = text_mask(rng, display, same_oval)
    th = y1 - y0
    tw = int(round(ink.shape[1] * th / max(1, ink.shape[0]) * rng.uniform(*squeeze)))
    tw = min(tw, x1 - x0)
    _paste_ink(plate, ink, (x0 + (x1 - x0 - tw) // 2, y0, tw, th), colour)


def _small_words(rng, plate, word: str, y0: int, y1: int, colour, x0: int = 0, x1: int | None = None) -> None:
    """A name or slogan (any characters) in a Hershey face, fitted in the band y0..y1."""
    x1 = plate.shape[1] if x1 is None else x1
    band = y1 - y0
    if band < 4 or x1 - x0 < 8:
        return
    face = int(
        rng.choice(
            [
                cv2.FONT_HERSHEY_SIMPLEX,
                cv2.FONT_HERSHEY_DUPLEX,
                cv2.FONT_HERSHEY_TRIPLEX,
                cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                cv2.FONT_HERSHEY_COMPLEX,
            ]
        )
    )
    thick = max(1, int(round(band * rng.uniform(0.06, 0.14))))
    scale = cv2.getFontScaleFromHeight(face, max(3, int(band * 0.8)), thick)
    (tw, th), base = cv2.getTextSize(word, face, scale, thick)
    if tw > (x1 - x0) * 0.96:
        scale *= (x1 - x0) * 0.96 / tw
        (tw, th), base = cv2.getTextSize(word, face, scale, thick)
    org = (x0 + (x1 - x0 - tw) // 2, y0 + (band + th) // 2)
    mask = np.zeros(plate.shape[:2], np.uint8)  # putText draws on 8-bit images only
    cv2.putText(mask, word, org, face, scale, 255, thick, cv2.LINE_AA)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    plate += alpha * (np.asarray(colour, np.float32) - plate)


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A light vertical gradient (sky over land), float32 BGR."""
    top, bottom = rng.uniform(170, 255, 3), rng.uniform(170, 255, 3)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    return (top * (1 - t) + bottom * t).astype(np.float32) * np.ones((1, w, 1), np.float32)


def _pictorial(rng: np.random.Generator, plate: np.ndarray) -> None:
    """Muted scenery behind the characters: mountains, a sun, waves or a state outline (in place)."""
    h, w = plate.shape[:2]
    layer = plate.copy()
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.random()
        colour = rng.uniform(60, 230, 3).tolist()
        if kind < 0.4:  # mountains
            xs = np.sort(rng.uniform(0, w, int(rng.integers(3, 7))))
            pts = [(0, h)] + [(int(x), int(h * rng.uniform(0.35, 0.8))) for x in xs] + [(w, h)]
            cv2.fillPoly(layer, [np.array(pts, np.int32)], colour, cv2.LINE_AA)
        elif kind < 0.6:  # sun
            cv2.circle(
                layer,
                (int(rng.uniform(0, w)), int(rng.uniform(0, h * 0.6))),
                int(h * rng.uniform(0.15, 0.4)),
                colour,
                -1,
                cv2.LINE_AA,
            )
        elif kind < 0.85:  # waves / fields
            y = int(h * rng.uniform(0.5, 0.9))
            xs = np.arange(0, w + 8, 8)
            ys = y + np.sin(xs / w * rng.uniform(3, 12) + rng.uniform(0, 6)) * h * 0.05
            pts = np.column_stack([xs, ys]).astype(np.int32)
            cv2.fillPoly(layer, [np.vstack([pts, [[w, h], [0, h]]]).astype(np.int32)], colour, cv2.LINE_AA)
        else:  # a big outline (a state's shape), as a blob
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            cv2.ellipse(
                layer,
                c,
                (int(w * rng.uniform(0.1, 0.3)), int(h * rng.uniform(0.2, 0.5))),
                float(rng.uniform(0, 180)),
                0,
                360,
                colour,
                -1,
                cv2.LINE_AA,
            )
    a = np.float32(rng.uniform(0.2, 0.45))  # faint: the characters must stay the darkest thing
    plate += a * (layer - plate)


def _sticker(rng: np.random.Generator, plate: np.ndarray, x: int, y: int, s: int) -> None:
    colour = rng.uniform(0, 255, 3)
    cv2.rectangle(plate, (x, y), (x + s, y + int(s * rng.uniform(0.6, 1.0))), colour.tolist(), -1)
    if rng.random() < 0.7:
        ink = (20.0, 20.0, 20.0) if colour.mean() > 120 else (240.0, 240.0, 240.0)
        _small_words(rng, plate, str(int(rng.integers(1, 31))), y, y + int(s * 0.6), ink, x, x + s)


def north_american(rng: np.random.Generator, text: str | None = None) -> Plate:
    groups = _groups_for(text, rng, US_FORMATS)
    label = "".join(groups)
    h = int(rng.integers(60, 80))
    w = int(round(h * rng.uniform(1.85, 2.1)))  # 12x6 inch
    style = rng.random()
    if style < 0.4:
        plate = np.empty((h, w, 3), np.float32)
        plate[:] = _jitter(rng, (240, 240, 240), 10)
    elif style < 0.7:
        plate = _gradient(rng, h, w)
    else:
        plate = _gradient(rng, h, w)
        _pictorial(rng, plate)
    dark = rng.random() < 0.7
    fg = (
        _jitter(rng, [(30, 20, 20), (110, 40, 10), (20, 20, 130), (60, 60, 20)][int(rng.integers(4))], 10)
        if dark
        else _jitter(rng, (40, 40, 40), 10)
    )
    top_band = int(round(h * rng.uniform(0.18, 0.28)))
    bottom_band = int(round(h * rng.uniform(0.12, 0.2)))
    state_colour = _jitter(rng, [(30, 30, 170), (130, 50, 10), (20, 20, 20), (20, 100, 20)][int(rng.integers(4))], 15)
    _small_words(
        rng,
        plate,
        US_STATES[int(rng.integers(len(US_STATES)))],
        2,
        top_band,
        state_colour,
        int(w * 0.12),
        int(w * 0.88),
    )
    if rng.random() < 0.75:
        _small_words(
            rng,
            plate,
            US_SLOGANS[int(rng.integers(len(US_SLOGANS)))],
            h - bottom_band,
            h - 2,
            state_colour,
            int(w * 0.15),
            int(w * 0.85),
        )
    sep = ["", " ", "-"][int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
    display = sep.join(groups)
    x0, x1 = int(w * rng.uniform(0.04, 0.1)), int(w * rng.uniform(0.9, 0.96))
    if rng.random() < 0.2:  # small stacked characters at the left (vehicle class, county): not in the label
        sw = int(w * 0.07)
        stack = _run(rng, LETTERS, 2) if rng.random() < 0.7 else _run(rng, LETTERS, 3)
        sh = int(h * 0.5) // len(stack)
        for i, c in enumerate(stack):
            _paste_ink(plate, text_mask(rng, c), (x0, top_band + 2 + i * sh, sw, sh - 1), fg)
        x0 += sw + 3
    _fit_text(rng, plate, display, x0, x1, top_band + 1, h - bottom_band - 1, fg, squeeze=(0.65, 1.05))
    for corner in range(int(rng.choice(3, p=[0.4, 0.4, 0.2]))):  # registration stickers
        s = int(h * rng.uniform(0.15, 0.22))
        x = 2 if corner == 0 and rng.random() < 0.5 else w - s - 3
        _sticker(rng, plate, x, 2 if rng.random() < 0.7 else h - s - 2, s)
    if rng.random() < 0.35:  # a holder frame covering part of the top and bottom text
        t, b = int(h * rng.uniform(0.05, 0.16)), int(h * rng.uniform(0.08, 0.2))
        colour = rng.uniform(10, 60, 1).repeat(3) if rng.random() < 0.6 else rng.uniform(150, 220, 1).repeat(3)
        plate[:t] = colour
        plate[h - b :] = colour
        side = max(1, int(h * 0.04))
        plate[:, :side] = colour
        plate[:, w - side :] = colour
        if rng.random() < 0.5:
            ink = (230.0, 230.0, 230.0) if colour[0] < 100 else (30.0, 30.0, 30.0)
            _small_words(
                rng,
                plate,
                str(rng.choice(["DEALER", "AUTO MALL", "MOTORS", "TOYOTA", "FORD", "HONDA"])),
                h - b,
                h - 1,
                ink,
                int(w * 0.2),
                int(w * 0.8),
            )
    elif rng.random() < 0.5:
        cv2.rectangle(plate, (1, 1), (w - 2, h - 2), fg.tolist(), 1, cv2.LINE_AA)
    shade(rng, plate, 0.2)
    return np.clip(plate, 0, 255).astype(np.uint8), label


def _flag(rng: np.random.Generator, plate: np.ndarray, x: int, y: int, w: int, h: int) -> None:
    n = int(rng.integers(2, 4))
    cols = rng.uniform(0, 255, (n, 3))
    for i, c in enumerate(cols):
        plate[y + i * h // n : y + (i + 1) * h // n, x : x + w] = c
    if rng.random() < 0.6:
        cv2.circle(plate, (x + w // 2, y + h // 2), max(1, h // 5), (30.0, 200.0, 240.0), -1, cv2.LINE_AA)


def mercosur(rng: np.random.Generator, text: str | None = None) -> Plate:
    country = list(MERCOSUR_COUNTRIES)[int(rng.choice(4, p=[0.4, 0.4, 0.1, 0.1]))]
    groups = _groups_for(text, rng, MERCOSUR_COUNTRIES[country])
    label = "".join(groups)
    h = int(rng.integers(56, 72))
    w = int(round(h * rng.uniform(2.8, 3.3)))  # 400x130 mm
    plate = np.empty((h, w, 3), np.float32)
    plate[:] = _jitter(rng, (242, 242, 242), 8)
    band = int(round(h * rng.uniform(0.2, 0.27)))
    plate[:band] = _jitter(rng, _BLUE_BAND, 15)
    white = (245.0, 245.0, 245.0)
    _small_words(
        rng,
        plate,
        country if rng.random() < 0.8 else f"REPUBLICA {country}",
        1,
        band - 1,
        white,
        int(w * 0.2),
        int(w * 0.8),
    )
    fw = int(band * 1.3)
    _flag(rng, plate, w - fw - int(w * 0.03), int(band * 0.15), fw, int(band * 0.7))
    if rng.random() < 0.7:  # the Mercosur emblem: an arc of stars at the band's left
        cx, cy = int(w * 0.06), band // 2
        for a in np.linspace(-1.0, 1.0, 4):
            cv2.circle(
                plate,
                (int(cx + band * 0.35 * np.sin(a)), int(cy - band * 0.2 * np.cos(a))),
                max(1, band // 10),
                white,
                -1,
                cv2.LINE_AA,
            )
    left = int(w * 0.03)
    if rng.random() < 0.6:  # QR code square and country code at the left, below the band
        q = int(h * 0.18)
        y = band + int(h * 0.08)
        cells = (rng.random((5, 5)) < 0.5).astype(np.uint8) * 255
        qr = cv2.resize(255 - cells, (q, q), interpolation=cv2.INTER_NEAREST).astype(np.float32)
        plate[y : y + q, left : left + q] = qr[..., None]
        _small_words(
            rng,
            plate,
            "RA" if country == "ARGENTINA" else country[:2],
            y + q + 2,
            y + q + int(h * 0.18),
            (20.0, 20.0, 20.0),
            left,
            left + q + 2,
        )
        left += q + int(h * 0.04)
    display = " ".join(groups) if rng.random() < 0.85 else "".join(groups)
    fg = _jitter(rng, (20, 20, 20), 6)
    right = w - int(w * 0.04)
    _fit_text(rng, plate, display, left, right, band + int(h * 0.08), h - int(h * 0.1), fg, squeeze=(0.7, 1.05))
    if rng.random() < 0.6:
        cv2.rectangle(plate, (0, 0), (w - 1, h - 1), (20.0, 20.0, 20.0), max(1, h // 40), cv2.LINE_AA)
    shade(rng, plate, 0.2)
    return np.clip(plate, 0, 255).astype(np.uint8), label


def south_american_old(rng: np.random.Generator, text: str | None = None) -> Plate:
    argentine = rng.random() < 0.5
    groups = _groups_for(text, rng, ("LLL NNN",) if argentine else ("LLL NNNN",))
    label = "".join(groups)
    h = int(rng.integers(56, 72))
    w = int(round(h * rng.uniform(2.9, 3.4) if argentine else h * rng.uniform(2.9, 3.2)))
    plate = np.empty((h, w, 3), np.float32)
    if argentine:
        plate[:] = _jitter(rng, (22, 22, 22), 8)
        fg = _jitter(rng, (225, 225, 225), 15)
        top = int(h * rng.uniform(0.16, 0.22))
        if rng.random() < 0.8:
            _small_words(
                rng,
                plate,
                "REPUBLICA ARGENTINA" if rng.random() < 0.6 else "ARGENTINA",
                1,
                top,
                fg,
                int(w * 0.15),
                int(w * 0.85),
            )
        inset = int(rng.integers(1, 5))  # a raised rim, often thick and close to the characters
        cv2.rectangle(
            plate,
            (inset, inset),
            (w - 1 - inset, h - 1 - inset),
            fg.tolist(),
            max(1, int(h * rng.uniform(0.03, 0.1))),
            cv2.LINE_AA,
        )
        sep = [" ", "  ", "-", " \u00b7 "][int(rng.integers(4))]
        y0, y1 = top + 1, h - int(h * 0.1)
    else:
        red = rng.random() < 0.25
        plate[:] = _jitter(rng, (30, 30, 180) if red else (190, 190, 185), 12)
        fg = _jitter(rng, (235, 235, 235) if red else (25, 25, 25), 8)
        top = int(h * rng.uniform(0.2, 0.26))
        _small_words(rng, plate, BR_CITIES[int(rng.integers(len(BR_CITIES)))], 1, top, fg, int(w * 0.1), int(w * 0.9))
        cv2.rectangle(plate, (1, 1), (w - 2, h - 2), fg.tolist(), max(1, h // 35), cv2.LINE_AA)
        sep = ["-", " \u00b7 ", " "][int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
        y0, y1 = top + 2, h - int(h * 0.08)
    # the separator dot is not in any font's 0-9A-Z: draw the groups with a gap and put it there
    dot = "\u00b7" in sep
    display = (" " if dot else sep).join(groups)
    ink = text_mask(rng, display, hollow_p=0.4)  # embossed, often worn
    th = y1 - y0
    tw = min(int(round(ink.shape[1] * th / ink.shape[0] * rng.uniform(0.7, 1.1))), int(w * rng.uniform(0.84, 0.94)))
    x = (w - tw) // 2
    _paste_ink(plate, ink, (x, y0, tw, th), fg)
    if dot and len(groups) > 1:
        gap_x = x + int(tw * len(groups[0]) / max(1, len(display)) + tw * 0.5 / max(1, len(display)))
        cv2.circle(plate, (gap_x, (y0 + y1) // 2), max(1, th // 12), fg.tolist(), -1, cv2.LINE_AA)
    shade(rng, plate, 0.25)
    return np.clip(plate, 0, 255).astype(np.uint8), label


def british(rng: np.random.Generator, text: str | None = None) -> Plate:
    groups = _groups_for(text, rng, ("LLNN LLL", "LNNN LLL", "LLL NNNL"))
    label = "".join(groups)
    h = int(rng.integers(52, 66))
    w = int(round(h * rng.uniform(4.3, 4.9)))  # 520x111 mm
    plate = np.empty((h, w, 3), np.float32)
    plate[:] = _jitter(rng, (30, 200, 245) if rng.random() < 0.55 else (245, 245, 245), 10)
    fg = _jitter(rng, (15, 15, 15), 5)
    strip = int(h * rng.uniform(0.32, 0.42)) if rng.random() < 0.4 else 0
    if strip:
        plate[:, :strip] = _jitter(rng, (150, 60, 10), 12)
        _small_words(
            rng,
            plate,
            str(rng.choice(["GB", "UK", "CYM", "ENG"])),
            int(h * 0.6),
            h - 3,
            (240.0, 240.0, 240.0),
            0,
            strip,
        )
    _fit_text(
        rng,
        plate,
        " ".join(groups),
        strip + int(h * 0.15),
        w - int(h * 0.15),
        int(h * 0.14),
        h - int(h * 0.14),
        fg,
        squeeze=(0.85, 1.05),
    )
    if rng.random() < 0.4:
        _small_words(
            rng,
            plate,
            str(rng.choice(["DEALER", "MOTORS LTD", "AUTOS"])),
            h - int(h * 0.12),
            h - 1,
            fg,
            int(w * 0.35),
            int(w * 0.65),
        )
    shade(rng, plate, 0.2)
    return np.clip(plate, 0, 255).astype(np.uint8), label


def two_line(rng: np.random.Generator, text: str | None = None) -> Plate:
    """Two rows of characters: even rows (motorcycles) or a small first row over a large second."""
    label = text if text is not None else "".join(random_groups(rng)[0])
    k = int(rng.integers(1, len(label))) if len(label) > 1 else 1
    if text is None and rng.random() < 0.5 and len(label) >= 5:
        k = int(rng.integers(2, 4))  # a short first row (region code, letters)
    rows = [label[:k], label[k:]]
    h = int(rng.integers(70, 110))
    w = int(round(h * rng.uniform(1.2, 2.2)))
    bg, fg = plate_colours(rng)
    plate = np.empty((h, w, 3), np.float32)
    plate[:] = bg
    small_top = rng.random() < 0.4
    row_hs = [int(h * 0.26), int(h * 0.5)] if small_top else [int(h * rng.uniform(0.3, 0.4))] * 2
    gap = int(round(h * rng.uniform(0.04, 0.1)))
    y = max(1, (h - sum(row_hs) - gap) // 2)
    for row, rh in zip(rows, row_hs):
        if row:
            _fit_text(rng, plate, row, 3, w - 3, y, y + rh, fg, squeeze=(0.8, 1.15))
        y += rh + gap
    if rng.random() < 0.5:
        cv2.rectangle(plate, (2, 2), (w - 3, h - 3), fg.tolist(), int(rng.integers(1, 3)), cv2.LINE_AA)
    shade(rng, plate, 0.25)
    return np.clip(plate, 0, 255).astype(np.uint8), label


FAMILIES = {
    "north_american": north_american,
    "mercosur": mercosur,
    "south_american_old": south_american_old,
    "british": british,
    "two_line": two_line,
}
