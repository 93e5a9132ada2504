"""One synthetic number plate, independent of any photo: random text, layout, font and colours.

render_plate is the unit a streaming crop generator can call in a loop (about 60x250 px each);
render_scene puts the same plates into street photos.
"""

from __future__ import annotations

import cv2
import numpy as np

from plateocr.defaults import BASE_ALPHABET
from plateocr.synth import font, outline_fonts
from plateocr.synth.effects import blur, shade
from plateocr.synth.emblems import draw_country_code, draw_group_emblem, draw_national_panel, draw_shield, widest_gap

DIGITS = BASE_ALPHABET[:10]
LETTERS = BASE_ALPHABET[10:]
MIN_CHARS, MAX_CHARS = 5, 8

HERSHEY_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
_WORK_H = 40  # text is drawn at about this cap height, then resized into the plate's text box


def _run(rng: np.random.Generator, alphabet: str, n: int) -> str:
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), n))


# Real national formats (L letter, N digit, a space between groups shown apart), weighted
# roughly by how many cars carry them. Drawing from them gives the reader the prior real plates
# need: on many fonts 0 and O are the same oval, and only the format (and the gaps, which
# formatted plates always show) says that the one after "LL-NNN" is a letter.
FORMATS = {
    "LL NNN LL": 3,
    "LL NNNLL": 2,  # France, Italy (AB 123 CD); Slovakia (TS-260AK)
    "LLNN LLL": 2,  # United Kingdom
    "LL NNNN": 1,
    "LLL NNNN": 1,
    "LL NNNNN": 1,
    "LLL NNNNN": 1,  # Poland, Romania, Greece...
    "NLN NNNN": 1,
    "NLL NNNN": 1,  # Czechia
    "NNNN LLL": 1,  # Spain
    "LLL NNN": 1,
    "LLL NNNL": 1,
    "NNN LLL": 1,  # Sweden, Hungary, Russia-like, US states
    "NN LLL N": 1,
    "N LLL NN": 1,
    "NN LL LL": 1,
    "LL NN LL": 1,
    "NN LLL NN": 1,  # Netherlands, Belgium
    "L NNNNN": 1,
    "NNN LLLL": 1,
    "LLLL NNN": 1,
}
_FORMAT_NAMES = tuple(FORMATS)
_FORMAT_P = np.array(list(FORMATS.values()), float) / sum(FORMATS.values())


def _german(rng: np.random.Generator) -> list[str]:
    """District (1-3 letters), recognition letters (1-2) and number (1-4 digits), 5-8 in all."""
    while True:
        a, b, c = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 5))
        if MIN_CHARS <= a + b + c <= MAX_CHARS:
            return [_run(rng, LETTERS, a), _run(rng, LETTERS, b), _run(rng, DIGITS, c)]


def _from_format(rng: np.random.Generator, fmt: str) -> list[str]:
    return ["".join(_run(rng, LETTERS if k == "L" else DIGITS, 1) for k in group) for group in fmt.split()]


def random_groups(rng: np.random.Generator) -> tuple[list[str], str]:
    """Plate text as the groups a plate shows apart (e.g. ['AB', '123', 'CD']), 5-8 chars in all,
    and its kind: "format" (a national one), "pattern" (runs of letters and digits) or "random".

    Half follow a real national format, the rest generic patterns, so that no one format rules.
    """
    style = rng.random()
    if style < 0.42:
        return _from_format(rng, _FORMAT_NAMES[rng.choice(len(_FORMAT_NAMES), p=_FORMAT_P)]), "format"
    if style < 0.5:
        return _german(rng), "format"
    groups = _generic_groups(rng, (style - 0.5) * 2)
    return groups, "pattern" if all(g.isalpha() or g.isdigit() for g in groups) else "random"


def _generic_groups(rng: np.random.Generator, style: float) -> list[str]:
    n = int(rng.integers(MIN_CHARS, MAX_CHARS + 1))
    if style < 0.3:  # letters then digits: AB 1234
        k = int(rng.integers(1, min(3, n - 2) + 1))
        return [_run(rng, LETTERS, k), _run(rng, DIGITS, n - k)]
    if style < 0.7:  # letters, digits, letters: M 123 AB
        k = int(rng.integers(1, 3))
        m = int(rng.integers(1, n - k))
        return [_run(rng, LETTERS, k), _run(rng, DIGITS, m), _run(rng, LETTERS, n - k - m)]
    if style < 0.8:  # digits then letters: 123 ABC
        k = int(rng.integers(2, n - 1))
        return [_run(rng, DIGITS, k), _run(rng, LETTERS, n - k)]
    # anything goes, in two or three groups
    text = _run(rng, BASE_ALPHABET, n)
    cuts = sorted(rng.choice(np.arange(1, n), size=int(rng.integers(1, 3)), replace=False).tolist())
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, n])]


def random_text(rng: np.random.Generator) -> str:
    """A plate text: 5-8 characters of 0-9A-Z in a plausible plate pattern."""
    return "".join(random_groups(rng)[0])


def _split_groups(text: str) -> list[str]:
    """Groups for a given text: split where letters and digits change."""
    groups = [text[0]]
    for c in text[1:]:
        if c.isdigit() == groups[-1][-1].isdigit():
            groups[-1] += c
        else:
            groups.append(c)
    return groups


# --- the text layer -------------------------------------------------------------------------


def _stroke_text_mask(rng: np.random.Generator, display: str, same_oval: bool = False) -> np.ndarray:
    if same_oval:
        display = display.replace("O", "0")
    glyphs = dict(font.GLYPHS)
    for c, variant in font.VARIANTS.items():
        if rng.random() < 0.5:
            glyphs[c] = variant
    h = _WORK_H
    char_w = h * rng.uniform(0.42, 0.72)  # down to the narrow DIN-like faces of EU plates
    spacing = char_w * rng.uniform(0.12, 0.35)
    thickness = max(2, int(round(h * rng.uniform(0.06, 0.16))))
    slant = rng.uniform(0.04, 0.18) if rng.random() < 0.2 else 0.0
    pad = thickness + 2
    width = int(np.ceil(font.text_width(display, char_w, spacing) + slant * h)) + 2 * pad
    mask = np.zeros((h + 2 * pad, width), np.uint8)
    font.draw_text(mask, display, (pad, pad), h, char_w, spacing, thickness, slant, glyphs=glyphs)
    return mask


def _hershey_text_mask(rng: np.random.Generator, display: str, same_oval: bool = False) -> np.ndarray:
    face = int(HERSHEY_FONTS[rng.integers(len(HERSHEY_FONTS))])
    if rng.random() < 0.15:
        face |= cv2.FONT_ITALIC
    scale = cv2.getFontScaleFromHeight(face, _WORK_H)
    thickness = int(rng.integers(2, 6))
    # Hershey slashes every 0. Plate fonts mostly draw it as a narrow O (a reader that only saw
    # slashed zeros reads them as O), so draw it so, leaving the slash to a few plates.
    slashed = rng.random() < 0.15 and not same_oval
    ovals = "0O" if same_oval else "0"
    zero_w = rng.uniform(0.72, 0.88)
    (_, h), base = cv2.getTextSize(display or " ", face, scale, thickness)
    pad = 2 * thickness + 4
    rows = h + base + 2 * pad
    pieces = []
    for c in display:  # one glyph at a time, each in its advance width
        glyph = "O" if c in ovals and not slashed else c
        (w, _), _ = cv2.getTextSize(glyph, face, scale, thickness)
        piece = np.zeros((rows, w + thickness), np.uint8)
        cv2.putText(piece, glyph, (thickness // 2, pad + h), face, scale, 255, thickness, cv2.LINE_AA)
        if glyph == "O" and c in ovals:
            piece = cv2.resize(piece, (max(1, round(piece.shape[1] * zero_w)), rows), interpolation=cv2.INTER_AREA)
        pieces.append(piece)
    side = np.zeros((rows, pad), np.uint8)
    return np.hstack([side, *pieces, side])


def _ink_crop(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask.max(axis=1))
    cols = np.flatnonzero(mask.max(axis=0))
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


OUTLINE_SHARE = 0.7  # of texts drawn in an outline font, when the renderer has any


def hollow(rng: np.random.Generator, ink: np.ndarray) -> np.ndarray:
    """The ink with its inside faded: embossed characters whose paint is worn, or whose raised
    rims catch the light, read as outlines (old Argentine and Brazilian plates)."""
    stem = max(3, int(ink.shape[0] * rng.uniform(0.05, 0.09)))
    inner = cv2.erode(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (stem, stem)))
    return np.clip(ink.astype(np.float32) - inner * rng.uniform(0.35, 0.8), 0, 255).astype(np.uint8)


def text_mask(rng: np.random.Generator, display: str, same_oval: bool = False, hollow_p: float = 0.1) -> np.ndarray:
    """The text's ink (uint8, 255 = ink), cropped to the ink, in one of the fonts: mostly an
    outline font when any is present (outline_fonts), else plateocr's stroke font or a Hershey face.

    same_oval draws O exactly as 0 (a narrow unslashed oval), as many plate fonts do. hollow_p:
    how often an outline-font text is drawn hollow (see hollow()).
    """
    fonts = outline_fonts.active()
    if fonts and rng.random() < OUTLINE_SHARE:  # no draw without fonts: the built-in stream is unchanged
        ink = _ink_crop(outline_fonts.draw_text_mask(rng, fonts, display, same_oval))
        return hollow(rng, ink) if rng.random() < hollow_p else ink
    if rng.random() < 0.45:
        return _ink_crop(_stroke_text_mask(rng, display, same_oval))
    return _ink_crop(_hershey_text_mask(rng, display, same_oval))


# --- colours --------------------------------------------------------------------------------


def _jitter(rng: np.random.Generator, bgr, amount: float = 12.0) -> np.ndarray:
    return np.clip(np.asarray(bgr, np.float32) + rng.normal(0, amount, 3), 0, 255)


def plate_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(background, text) BGR colours as float32."""
    dark = _jitter(rng, [(20, 20, 20), (60, 20, 10), (20, 20, 90), (40, 40, 40)][rng.integers(4)], 8)
    light = _jitter(rng, (235, 235, 235), 10)
    r = rng.random()
    if r < 0.42:  # white
        return _jitter(rng, (238, 240, 240), 10), dark
    if r < 0.64:  # yellow
        return _jitter(rng, (30, 200, 240), 15), dark
    if r < 0.74:  # blue, white text
        return _jitter(rng, (170, 80, 20), 15), light
    if r < 0.82:  # black, white or silver text
        return _jitter(rng, (25, 25, 25), 8), _jitter(rng, (210, 210, 210), 20)
    if r < 0.9:  # light other colour, dark text
        return rng.uniform(150, 255, 3).astype(np.float32), dark
    # strong other colour (green, red, ...), light text
    bg = rng.uniform(0, 140, 3).astype(np.float32)
    bg[rng.integers(3)] = rng.uniform(120, 200)
    return bg, light


# --- the plate ------------------------------------------------------------------------------


def _eu_strip(rng: np.random.Generator, plate: np.ndarray, strip_w: int) -> None:
    h = plate.shape[0]
    plate[:, :strip_w] = _jitter(rng, (150, 55, 5), 12)
    if rng.random() < 0.7:  # the ring of stars, as yellow dots
        cx, cy, r = strip_w / 2, h * 0.3, strip_w * 0.3
        for a in np.linspace(0, 2 * np.pi, 12, endpoint=False):
            cv2.circle(
                plate,
                (int(cx + r * np.cos(a)), int(cy + r * np.sin(a))),
                max(1, h // 40),
                (0, 210, 255),
                -1,
                cv2.LINE_AA,
            )
    if rng.random() < 0.7:  # country code: drawn on the plate, not part of the label
        draw_country_code(rng, plate, 0, strip_w, (235.0, 235.0, 235.0))


def render_plate(
    rng: np.random.Generator, text: str | None = None, height: int | None = None, degrade: bool = True
) -> tuple[np.ndarray, str]:
    """A plate image (uint8 BGR, about `height` x 3-5.5 x height) and its label text.

    The label is the characters only: separators ('-') and gaps drawn between groups are not in it.
    degrade=True adds the blur, noise and uneven light a photo would; render_scene passes False
    and degrades the whole photo instead.
    """
    if text is not None and not (text and set(text) <= set(BASE_ALPHABET)):
        raise ValueError(f"plate text must be characters of {BASE_ALPHABET} (got {text!r})")
    groups, kind = random_groups(rng) if text is None else (_split_groups(text), "pattern")
    label = "".join(groups)
    # A formatted plate always shows its groups apart; generic texts sometimes run together.
    sep = ["", " ", "-"][rng.choice(3, p=[0.0, 0.6, 0.4] if kind == "format" else [0.35, 0.4, 0.25])]
    seps = [sep] * (len(groups) - 1)
    group_emblem = len(groups) > 1 and rng.random() < 0.3
    if group_emblem:  # seals or a coat of arms between two groups: leave them a gap
        seps[0 if rng.random() < 0.7 else int(rng.integers(len(seps)))] = " " * int(rng.integers(1, 3))
    display = groups[0] + "".join(s + g for s, g in zip(seps, groups[1:]))

    h = int(height or rng.integers(52, 72))
    # O drawn as 0 only where letters and digits come in runs: the format tells them apart, as
    # it must on real plates whose font has one oval for both.
    same_oval = rng.random() < 0.3 and kind != "random"
    ink = text_mask(rng, display, same_oval)
    text_h = int(round(h * rng.uniform(0.56, 0.72)))
    text_w = ink.shape[1] * text_h / ink.shape[0] * rng.uniform(0.85, 1.2)
    strip_w = int(round(h * rng.uniform(0.24, 0.32))) if rng.random() < 0.4 else 0
    # No strip: sometimes a national panel in its place (a coat of arms over the country code, as
    # on older Slovak plates). With one: sometimes a small coat of arms or
    # stacked seals between it and the text.
    panel_w = int(round(h * rng.uniform(0.32, 0.42))) if not strip_w and rng.random() < 0.25 else 0
    arms_w = int(round(h * rng.uniform(0.17, 0.25))) if strip_w and rng.random() < 0.45 else 0
    margin = h * rng.uniform(0.12, 0.35)
    arms_room = arms_w + int(round(h * 0.08)) if arms_w else 0
    if panel_w:  # such plates are tight: the panel near the edge, the text right after it
        panel_x = int(round(h * rng.uniform(0.02, 0.08)))
        margin = h * rng.uniform(0.03, 0.1)
        arms_room = panel_x + panel_w
        tall = int(round(h * rng.uniform(0.62, 0.74)))
        text_w, text_h = text_w * tall / text_h, tall
    # Keep the plate's shape plausible: squeeze long texts, pad short ones.
    max_w, min_w = h * 5.4, h * 2.8
    text_w = min(text_w, max_w - strip_w - arms_room - 2 * margin)
    w = int(round(max(min_w, strip_w + arms_room + 2 * margin + text_w)))
    text_w = int(round(text_w))

    bg, fg = plate_colours(rng)
    plate = np.empty((h, w, 3), np.float32)
    plate[:] = bg
    alpha = cv2.resize(ink, (text_w, text_h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    left = strip_w + arms_room
    x0 = left + (w - left - text_w) // 2
    y0 = (h - text_h) // 2 + int(rng.integers(-1, 2))
    region = plate[y0 : y0 + text_h, x0 : x0 + text_w]
    region += alpha[..., None] * (fg - region)
    if group_emblem and (gap := widest_gap(alpha)) is not None:
        pad = max(1, (gap[1] - gap[0]) // 8)
        draw_group_emblem(rng, plate, x0 + gap[0] + pad, x0 + gap[1] - pad, y0, y0 + text_h)
    if arms_w:
        arms_h = int(round(arms_w * rng.uniform(1.1, 1.3)))
        ax = strip_w + int(round(h * rng.uniform(0.03, 0.07)))
        if rng.random() < 0.6:
            ay = int(round(h * rng.uniform(0.08, 0.2))) if rng.random() < 0.7 else (h - arms_h) // 2
            draw_shield(rng, plate, ax, ay, arms_w, arms_h)
        else:  # seals and stickers stacked there instead (German vanity plates)
            draw_group_emblem(rng, plate, ax, ax + arms_w, y0, y0 + text_h)
    if panel_w:
        draw_national_panel(rng, plate, panel_x, panel_w, fg)
    if strip_w:
        _eu_strip(rng, plate, strip_w)
    if rng.random() < 0.5:
        inset = int(rng.integers(1, 4))
        cv2.rectangle(
            plate, (inset, inset), (w - 1 - inset, h - 1 - inset), fg.tolist(), int(rng.integers(1, 3)), cv2.LINE_AA
        )
    shade(rng, plate, 0.25)
    if degrade:
        plate = blur(rng, plate)
        plate += rng.standard_normal(plate.shape, dtype=np.float32) * np.float32(rng.uniform(0, 6))
    return np.clip(plate, 0, 255).astype(np.uint8), label
