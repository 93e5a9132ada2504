"""Things printed or stuck on plates that are not characters: coats of arms, registration seals
and inspection stickers.

Real plates carry them in place of the EU strip (a coat of arms over the country code, older
Slovak plates), right after the strip (a small coat of arms, as in Slovakia) and in
the gap between character groups (stacked seals in Germany and Czechia, a shield over stickers
in Slovakia, a checkered shield in Croatia). A reader trained without them reads them as extra
letters (a leading P or B, an E between groups), so the renderer draws them often and never
puts them in the label.

All drawing is in place on a float32 BGR plate.
"""

from __future__ import annotations

import cv2
import numpy as np

_RED, _WHITE, _BLUE = (40, 30, 200), (240, 240, 240), (160, 70, 20)


def shield_mask(h: int, w: int) -> np.ndarray:
    """A float32 [h, w] heraldic shield: straight top and sides, a curved point at the bottom."""
    mask = np.zeros((4 * h, 4 * w), np.uint8)  # drawn at 4x and shrunk: smooth edges at any size
    H, W = 4 * h, 4 * w
    body = int(H * 0.55)
    cv2.rectangle(mask, (0, 0), (W - 1, body), 255, -1)
    cv2.ellipse(mask, (W // 2, body), (W // 2, H - body - 1), 0, 0, 180, 255, -1)
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _shield_pattern(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """The shield's field (float32 BGR [h, w, 3]): a double cross on red over blue hills, a
    red-and-white checker, bands of colour, or a plain field with a cross."""
    img = np.empty((h, w, 3), np.float32)
    style = rng.random()
    if style < 0.35:  # red field, white double cross, blue hills
        img[:] = _RED
        t = max(1, round(w * 0.14))
        cx = w // 2
        cv2.rectangle(img, (cx - t // 2, round(h * 0.1)), (cx + (t - 1) // 2, round(h * 0.72)), _WHITE, -1)
        for y, half in ((0.28, 0.3), (0.48, 0.4)):
            cv2.rectangle(
                img, (round(cx - w * half), round(h * y)), (round(cx + w * half), round(h * y) + t - 1), _WHITE, -1
            )
        cv2.ellipse(img, (cx, h), (w // 2 + 1, round(h * 0.3)), 0, 180, 360, _BLUE, -1)
    elif style < 0.6:  # checker
        n = int(rng.integers(3, 6))
        ys = np.arange(h) * n // h
        xs = np.arange(w) * n // w
        red = (ys[:, None] + xs[None, :]) % 2 == 0
        img[:] = _WHITE
        img[red] = _RED
    elif style < 0.8:  # two or three bands
        cols = rng.uniform(0, 255, (int(rng.integers(2, 4)), 3))
        vertical = rng.random() < 0.5
        n = len(cols)
        for i, c in enumerate(cols):
            if vertical:
                img[:, i * w // n : (i + 1) * w // n] = c
            else:
                img[i * h // n : (i + 1) * h // n] = c
    else:  # plain field with a light cross or bar
        img[:] = rng.uniform(0, 255, 3)
        t = max(1, round(w * 0.18))
        light = rng.uniform(200, 255, 3)
        cv2.rectangle(img, (w // 2 - t // 2, 0), (w // 2 + (t - 1) // 2, h - 1), light.tolist(), -1)
        if rng.random() < 0.6:
            cv2.rectangle(img, (0, h // 3), (w - 1, h // 3 + t - 1), light.tolist(), -1)
    return img


def draw_shield(rng: np.random.Generator, plate: np.ndarray, x: int, y: int, w: int, h: int) -> None:
    """A coat of arms in the box (x, y, w, h), clipped to the plate; sometimes with a crown or a
    thin outline as many are printed."""
    if w < 3 or h < 4:
        return
    mask = shield_mask(h, w)
    field = _shield_pattern(rng, h, w)
    if rng.random() < 0.5:  # outline
        edge = mask - cv2.erode(mask, np.ones((3, 3), np.uint8))
        field += edge[..., None] * (np.float32(rng.uniform(0, 80)) - field)
    _paste(plate, field, mask, x, y)


def draw_country_code(
    rng: np.random.Generator, plate: np.ndarray, x0: int, x1: int, colour, height: tuple[float, float] = (0.16, 0.22)
) -> None:
    """One or two random capitals centred in columns x0..x1 near the plate's bottom edge (an EU
    strip's or a national panel's country code; never part of the label), `height` a range of
    its cap height as a fraction of the plate's."""
    h = plate.shape[0]
    code = "".join(chr(ord("A") + int(i)) for i in rng.integers(0, 26, int(rng.integers(1, 3))))
    face = cv2.FONT_HERSHEY_SIMPLEX
    scale = cv2.getFontScaleFromHeight(face, max(6, int(h * rng.uniform(*height))))
    (tw, _), _ = cv2.getTextSize(code, face, scale, 1)
    ink = np.zeros((h, x1 - x0), np.uint8)  # putText draws on 8-bit images only
    cv2.putText(ink, code, (int((x1 - x0 - tw) / 2), int(h * 0.85)), face, scale, 255, 1, cv2.LINE_AA)
    alpha = ink.astype(np.float32)[..., None] / 255.0
    plate[:, x0:x1] += alpha * (np.asarray(colour, np.float32) - plate[:, x0:x1])


def draw_national_panel(rng: np.random.Generator, plate: np.ndarray, x: int, w: int, text_colour) -> None:
    """A coat of arms over a country code at the plate's left, on the plate's own background,
    where other plates have the blue EU strip (e.g. Slovak plates before 2004)."""
    h = plate.shape[0]
    sw = max(3, round(w * rng.uniform(0.8, 1.0)))
    sh = min(round(h * 0.6), round(sw * rng.uniform(1.15, 1.35)))
    draw_shield(rng, plate, x + (w - sw) // 2, round(h * rng.uniform(0.06, 0.14)), sw, sh)
    if rng.random() < 0.85:
        colour = _BLUE if rng.random() < 0.5 else text_colour
        draw_country_code(rng, plate, x, min(plate.shape[1], x + w), colour, (0.18, 0.26))


def draw_seal(rng: np.random.Generator, plate: np.ndarray, cx: int, cy: int, r: int) -> None:
    """A round registration seal or inspection sticker: a coloured disc with a ring, a centre
    mark and sometimes tiny print around it."""
    if r < 2:
        return
    outer = rng.uniform(0, 255, 3).tolist()
    cv2.circle(plate, (cx, cy), r, outer, -1, cv2.LINE_AA)
    if rng.random() < 0.7:
        cv2.circle(
            plate, (cx, cy), max(1, round(r * 0.75)), rng.uniform(0, 255, 3).tolist(), max(1, r // 5), cv2.LINE_AA
        )
    if rng.random() < 0.6:
        cv2.circle(plate, (cx, cy), max(1, round(r * 0.35)), rng.uniform(0, 255, 3).tolist(), -1, cv2.LINE_AA)
    if rng.random() < 0.4 and r >= 5:  # print around the rim
        ink = rng.uniform(0, 90, 3).tolist()
        for a in np.linspace(0, 2 * np.pi, int(rng.integers(6, 12)), endpoint=False):
            px, py = cx + 0.85 * r * np.cos(a), cy + 0.85 * r * np.sin(a)
            cv2.circle(plate, (round(px), round(py)), 1, ink, -1)


def draw_group_emblem(rng: np.random.Generator, plate: np.ndarray, x0: int, x1: int, y0: int, y1: int) -> None:
    """What sits in the gap between character groups, in the box x0..x1, y0..y1 (the text's
    height): two stacked seals, a shield over one or two seals, a shield alone, or one seal."""
    gw, th = x1 - x0, y1 - y0
    if gw < 3 or th < 6:
        return
    cx = (x0 + x1) // 2
    style = rng.random()
    if style < 0.35:  # two seals stacked (registration + inspection)
        r = max(2, round(min(gw * 0.45, th * 0.24)))
        for cy in (y0 + round(th * 0.27), y0 + round(th * 0.73)):
            draw_seal(rng, plate, cx, cy, r)
    elif style < 0.7:  # a shield over one or two small seals
        sw = max(3, round(min(gw * 0.9, th * 0.38)))
        sh = round(sw * 1.2)
        draw_shield(rng, plate, cx - sw // 2, y0, sw, sh)
        below = (
            [y0 + sh + (th - sh) // 2]
            if rng.random() < 0.4
            else [y0 + sh + (th - sh) // 4, y0 + sh + 3 * (th - sh) // 4]
        )
        r = max(1, round(min(gw * 0.35, (th - sh) / (2.4 * len(below)))))
        for cy in below:
            draw_seal(rng, plate, cx, cy, r)
    elif style < 0.85:  # a shield alone
        sw = max(3, round(min(gw * 0.9, th * 0.6)))
        sh = min(th, round(sw * rng.uniform(1.1, 1.3)))
        draw_shield(rng, plate, cx - sw // 2, y0 + (th - sh) // 2, sw, sh)
    else:  # one sticker, anywhere up the gap
        r = max(2, round(min(gw * 0.45, th * 0.3)))
        draw_seal(rng, plate, cx, int(rng.integers(y0 + r, max(y0 + r + 1, y1 - r))), r)


def _paste(plate: np.ndarray, img: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Blend img over plate at (x, y) by alpha [h, w], clipped to the plate."""
    H, W = plate.shape[:2]
    h, w = alpha.shape
    ax0, ay0 = max(0, -x), max(0, -y)
    ax1, ay1 = min(w, W - x), min(h, H - y)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    region = plate[y + ay0 : y + ay1, x + ax0 : x + ax1]
    a = alpha[ay0:ay1, ax0:ax1, None]
    region += a * (img[ay0:ay1, ax0:ax1] - region)


def widest_gap(ink: np.ndarray) -> tuple[int, int] | None:
    """(start, end) columns of the widest ink-free run between the first and last inked columns
    of a text mask (float or uint8, ink > 0), or None."""
    if ink.size == 0 or ink.max() <= 0:
        return None
    inked = ink.max(axis=0) > 0.1 * ink.max()
    cols = np.flatnonzero(inked)
    if cols.size < 2:
        return None
    quiet = np.flatnonzero(~inked[cols[0] : cols[-1]]) + cols[0]
    if quiet.size == 0:
        return None
    runs = np.split(quiet, np.flatnonzero(np.diff(quiet) > 1) + 1)
    best = max(runs, key=len)
    return int(best[0]), int(best[-1]) + 1
