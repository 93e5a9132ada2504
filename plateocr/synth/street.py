"""Where cars are photographed, in muted colours: sky, buildings, trees, walls and fences behind;
asphalt, paving or gravel with parking lines and kerbs in front; signs, stickers, grilles and
blank boards as things that look a little like plates and are not; then the light of the day
(sun and shadows, overcast, dusk with the lamps on, a garage) over the whole photo."""

from __future__ import annotations

import cv2
import numpy as np

from plateocr.synth.effects import blur, jpeg_roundtrip


_NOISE_SHAPE = (768, 1024, 3)
_noise_table: np.ndarray | None = None


def noise(rng: np.random.Generator, h: int, w: int, channels: int = 3) -> np.ndarray:
    """Standard normal float32 noise [h, w, channels]: a window at a random place of one fixed
    table (drawing fresh normals costs more than the rest of a photo); fresh draws when larger."""
    global _noise_table
    if h > _NOISE_SHAPE[0] or w > _NOISE_SHAPE[1]:
        return rng.standard_normal((h, w, channels), dtype=np.float32)
    if _noise_table is None:
        _noise_table = np.random.default_rng(20240618).standard_normal(_NOISE_SHAPE, dtype=np.float32)
    y, x = int(rng.integers(0, _NOISE_SHAPE[0] - h + 1)), int(rng.integers(0, _NOISE_SHAPE[1] - w + 1))
    c = int(rng.integers(0, 4 - channels)) if channels < 3 else 0
    return _noise_table[y : y + h, x : x + w, c : c + channels]


def muted(rng: np.random.Generator, saturation: float = 0.25, lo: float = 40, hi: float = 220) -> np.ndarray:
    """A BGR colour of low saturation, as most of a street is."""
    grey = rng.uniform(lo, hi)
    hue = rng.normal(0, 1, 3)
    return np.clip(grey * (1 + rng.uniform(0, saturation) * hue / max(1e-6, np.abs(hue).max())), 0, 255)


def bgr(colour) -> tuple[int, int, int]:
    """A colour as OpenCV's drawing functions take it: three ints in 0..255."""
    return tuple(min(255, max(0, int(v))) for v in colour)


def _texture(rng: np.random.Generator, h: int, w: int, cell: int, amount: float) -> np.ndarray:
    """Smooth random blotches (float32 h x w x 1), upsampled from a coarse grid."""
    small = rng.normal(0, amount, (h // cell + 2, w // cell + 2, 1)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]


def backdrop(rng: np.random.Generator, width: int, height: int, horizon: int) -> np.ndarray:
    """Sky and buildings or trees above the horizon, a road or car park below it (uint8 BGR)."""
    img = np.empty((height, width, 3), np.float32)
    # sky
    top, low = muted(rng, 0.3, 150, 250), muted(rng, 0.2, 170, 250)
    if rng.random() < 0.5:  # blue
        top = top * np.array([1.2, 1.0, 0.8])
    t = np.linspace(0, 1, max(1, horizon), dtype=np.float32)[:, None, None]
    img[:horizon] = top * (1 - t) + low * t
    _ground(rng, img, horizon)
    _behind(rng, img, horizon)
    img += _texture(rng, height, width, 6, rng.uniform(2, 8))
    return np.clip(img, 0, 255).astype(np.uint8)


def _ground(rng: np.random.Generator, img: np.ndarray, horizon: int) -> None:
    h, w = img.shape[:2]
    kind = rng.choice(["asphalt", "paving", "gravel", "tiles"], p=[0.7, 0.14, 0.13, 0.03])
    base = muted(rng, 0.12, 60, 150) if kind != "gravel" else muted(rng, 0.25, 110, 180)
    ground = img[horizon:]
    ground[:] = base
    gh = h - horizon
    if gh <= 0:
        return
    # lighter far away, darker near: the road's sheen
    t = np.linspace(0, 1, gh, dtype=np.float32)[:, None, None]
    ground *= 1.08 - rng.uniform(0, 0.25) * t
    ground += noise(rng, gh, w, 1) * np.float32(rng.uniform(4, 14))
    ground += _texture(rng, gh, w, 24, rng.uniform(4, 14))
    vx = rng.uniform(0.2, 0.8) * w  # the vanishing point of lines on the ground
    if kind in ("paving", "tiles"):
        light, dark = (base * 1.1, base * 0.75) if kind == "paving" else (base * 1.5, base * 0.4)
        rows = int(rng.integers(6, 16))
        for i in range(rows):  # rows of stones, wider as they come nearer
            y0 = horizon + gh * (i / rows) ** 1.6
            y1 = horizon + gh * ((i + 1) / rows) ** 1.6
            n = int(rng.integers(8, 20))
            for j in range(-n, 2 * n):
                x = vx + (j / n * w - vx) * (y0 - horizon + 1) / gh * 2
                x2 = vx + ((j + 1) / n * w - vx) * (y0 - horizon + 1) / gh * 2
                colour = light if (i + j) % 2 or kind == "paving" else dark
                if kind == "paving":
                    colour = base * rng.uniform(0.85, 1.12)
                cv2.rectangle(img, (int(x), int(y0)), (int(x2) - 1, int(y1) - 1), bgr(colour), -1)
                if kind == "paving":
                    cv2.rectangle(img, (int(x), int(y0)), (int(x2) - 1, int(y1) - 1), bgr(base * 0.6), 1)
    for _ in range(int(rng.integers(0, 5))):  # parking lines and lane marks, toward the vanishing point
        x = rng.uniform(-0.5, 1.5) * w
        paint = (rng.uniform(170, 235),) * 3 if rng.random() < 0.85 else (40, 190, 220)
        far = (int(vx + (x - vx) * 0.15), horizon)
        cv2.line(
            img, far, (int(x), h), bgr(np.asarray(paint) * rng.uniform(0.6, 1.0)), int(rng.integers(2, 9)), cv2.LINE_AA
        )
    if rng.random() < 0.45:  # a kerb, and grass or a pavement beyond it
        y = int(horizon + gh * rng.uniform(0.0, 0.25))
        beyond = muted(rng, 0.15, 120, 190) if rng.random() < 0.5 else np.array([50, 120, 80]) * rng.uniform(0.6, 1.2)
        img[horizon:y] = beyond + noise(rng, y - horizon, w, 1) * np.float32(6)
        cv2.line(img, (0, y), (w, y), bgr(muted(rng, 0.05, 150, 210)), int(rng.integers(2, 6)))


def _behind(rng: np.random.Generator, img: np.ndarray, horizon: int) -> None:
    """Buildings, trees, walls, fences and hedges standing on the horizon."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(2, 7))):
        kind = rng.choice(["building", "trees", "wall", "fence", "garage"], p=[0.35, 0.3, 0.15, 0.12, 0.08])
        x0 = int(rng.uniform(-0.3, 0.9) * w)
        bw = int(rng.uniform(0.2, 0.9) * w)
        top = int(horizon * rng.uniform(-0.2, 0.8))
        if kind == "building":
            colour = muted(rng, 0.25, 90, 230)
            if rng.random() < 0.2:  # brick
                colour = np.array([60, 80, 140]) * rng.uniform(0.7, 1.2)
            cv2.rectangle(img, (x0, top), (x0 + bw, horizon), bgr(colour), -1)
            if rng.random() < 0.8:
                glass = muted(rng, 0.2, 30, 110)
                sx, sy = rng.uniform(20, 60), rng.uniform(25, 60)
                ww, wh = sx * rng.uniform(0.35, 0.7), sy * rng.uniform(0.4, 0.7)
                for y in np.arange(top + sy * 0.4, horizon - wh, sy):
                    for x in np.arange(x0 + sx * 0.3, x0 + bw - ww, sx):
                        cv2.rectangle(
                            img, (int(x), int(y)), (int(x + ww), int(y + wh)), bgr(glass * rng.uniform(0.8, 1.2)), -1
                        )
        elif kind == "trees":
            leaf = np.array([rng.uniform(30, 70), rng.uniform(70, 130), rng.uniform(40, 90)])
            if rng.random() < 0.2:  # autumn, or bare and grey
                leaf = muted(rng, 0.4, 60, 140)
            for _ in range(int(rng.integers(4, 14))):
                r = int(rng.uniform(0.04, 0.15) * w)
                cx, cy = int(x0 + rng.uniform(0, bw)), int(rng.uniform(top, horizon))
                cv2.circle(img, (cx, cy), r, bgr(leaf * rng.uniform(0.6, 1.3)), -1, cv2.LINE_AA)
        elif kind == "wall":
            colour = muted(rng, 0.3, 70, 220)
            y0 = int(horizon - rng.uniform(0.1, 0.5) * horizon)
            cv2.rectangle(img, (x0, y0), (x0 + bw, horizon), bgr(colour), -1)
            for _ in range(int(rng.integers(0, 5))):  # graffiti and posters
                cv2.ellipse(
                    img,
                    (int(x0 + rng.uniform(0, bw)), int(rng.uniform(y0, horizon))),
                    (int(rng.uniform(5, 60)), int(rng.uniform(5, 30))),
                    rng.uniform(0, 180),
                    0,
                    360,
                    bgr(rng.uniform(0, 255, 3)),
                    -1,
                    cv2.LINE_AA,
                )
        elif kind == "fence":
            colour = muted(rng, 0.2, 30, 200)
            y0 = int(horizon - rng.uniform(0.05, 0.3) * horizon)
            step = int(rng.integers(6, 20))
            for x in range(x0, x0 + bw, step):
                cv2.line(img, (x, y0), (x, horizon), bgr(colour), max(1, step // 4))
            cv2.line(img, (x0, y0 + 3), (x0 + bw, y0 + 3), bgr(colour), 2)
        else:  # a garage's dark opening
            y0 = int(horizon - rng.uniform(0.3, 0.8) * horizon)
            cv2.rectangle(img, (x0, y0), (x0 + bw, horizon), bgr(muted(rng, 0.1, 15, 60)), -1)


def negatives(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Things a plate detector must learn to pass over (in place): signs with words, blank
    boards, grilles and vents, lamps, stickers, poles."""
    h, w = img.shape[:2]
    for _ in range(count):
        kind = rng.choice(["sign", "board", "grille", "lamp", "pole", "sticker"], p=[0.3, 0.15, 0.15, 0.1, 0.2, 0.1])
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        s = rng.uniform(0.04, 0.2) * w  # size
        if kind == "sign":  # a panel with words in lines: not a plate's single row of characters
            bw, bh = int(s), int(s * rng.uniform(0.4, 1.2))
            panel = bgr(
                rng.choice(
                    [
                        muted(rng, 0.1, 200, 250),
                        np.array([120, 60, 20]),
                        np.array([40, 110, 30]),
                        np.array([30, 30, 170]),
                        np.array([20, 170, 230]),
                    ]
                )
            )
            ink = (20, 20, 20) if sum(panel) > 400 else (240, 240, 240)
            cv2.rectangle(img, (x, y), (x + bw, y + bh), panel, -1)
            lines = int(rng.integers(2, 5))
            scale = bh / lines / 30
            for i in range(lines):
                n = int(rng.integers(3, 12))
                word = "".join(chr(k) for k in rng.integers(97, 123, n))
                if rng.random() < 0.5:
                    word = word.capitalize()
                org = (x + int(bw * 0.06), y + int(bh * (i + 0.8) / lines))
                cv2.putText(img, word, org, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, max(1, int(scale * 2)), cv2.LINE_AA)
        elif kind == "board":  # a blank light rectangle, plate-like in shape but with nothing on it
            bw = int(s * 0.6)
            bh = max(3, int(bw / rng.uniform(1.5, 6)))
            cv2.rectangle(img, (x, y), (x + bw, y + bh), bgr(muted(rng, 0.3, 170, 250)), -1)
            if rng.random() < 0.5:
                cv2.rectangle(img, (x, y), (x + bw, y + bh), bgr(muted(rng, 0.1, 20, 90)), int(rng.integers(1, 3)))
        elif kind == "grille":
            bw, bh = int(s), int(s * rng.uniform(0.2, 0.6))
            cv2.rectangle(img, (x, y), (x + bw, y + bh), bgr(muted(rng, 0.05, 15, 50)), -1)
            step = max(3, int(bh / rng.integers(3, 9)))
            bar = bgr(muted(rng, 0.05, 100, 220))
            for yy in range(y + step // 2, y + bh, step):
                cv2.line(img, (x + 2, yy), (x + bw - 2, yy), bar, max(1, step // 3))
        elif kind == "lamp":
            r = max(2, int(s * 0.15))
            cv2.ellipse(img, (x, y), (r * 2, r), 0, 0, 360, bgr(muted(rng, 0.05, 30, 80)), -1, cv2.LINE_AA)
            cv2.ellipse(
                img, (x, y), (int(r * 1.6), int(r * 0.7)), 0, 0, 360, bgr(muted(rng, 0.1, 200, 250)), -1, cv2.LINE_AA
            )
        elif kind == "pole":
            x2 = x + int(rng.normal(0, 0.02 * w))
            cv2.line(
                img,
                (x, int(rng.uniform(-0.2, 0.3) * h)),
                (x2, int(rng.uniform(0.5, 1.1) * h)),
                bgr(muted(rng, 0.1, 30, 180)),
                int(rng.integers(2, 9)),
                cv2.LINE_AA,
            )
        else:  # a round or square sticker, a parking disc, a sign on a pole
            r = max(3, int(s * 0.2))
            colour = bgr(rng.uniform(0, 255, 3))
            if rng.random() < 0.5:
                cv2.circle(img, (x, y), r, colour, -1, cv2.LINE_AA)
                cv2.circle(img, (x, y), r, bgr(muted(rng, 0.05, 200, 250)), max(1, r // 5), cv2.LINE_AA)
            else:
                cv2.rectangle(img, (x - r, y - r), (x + r, y + r), colour, -1)


def light(rng: np.random.Generator, photo: np.ndarray, lamps) -> np.ndarray:
    """The time of day over the photo (uint8 BGR in, float32 out): in sunshine the shadows of
    things out of frame, a colour cast, and at dusk the lamps (x, y, radius, BGR) glowing."""
    h, w = photo.shape[:2]
    mood = rng.choice(["sun", "overcast", "dusk", "indoor"], p=[0.45, 0.37, 0.1, 0.08])
    img = photo.astype(np.float32)
    if mood == "sun":  # a hard shadow across part of the photo, of a building or tree out of frame
        shade = np.ones((h // 4 + 1, w // 4 + 1), np.float32)
        for _ in range(int(rng.choice(3, p=[0.6, 0.3, 0.1]))):
            pts = (rng.uniform(-0.3, 1.3, (int(rng.integers(3, 6)), 2)) * (shade.shape[1], shade.shape[0])).astype(
                np.int32
            )
            mask = np.zeros_like(shade)
            cv2.fillPoly(mask, [pts], 1.0)
            shade *= 1 - mask * rng.uniform(0.2, 0.45)
        if shade.min() < 1:
            shade = cv2.GaussianBlur(shade, (3, 3), 0)
            img *= cv2.resize(shade, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
        img = (img - 110) * rng.uniform(1.0, 1.25) + 110 + rng.uniform(0, 25)
        cast = np.array([0.95, 1.0, 1.05])
    elif mood == "overcast":
        img = (img - 128) * rng.uniform(0.7, 0.95) + 128 + rng.uniform(-15, 15)
        cast = np.array([1.04, 1.0, 0.97])
    elif mood == "dusk":
        img *= rng.uniform(0.35, 0.65)
        cast = np.array([1.15, 1.0, 0.9]) if rng.random() < 0.5 else np.array([0.85, 0.95, 1.15])
        glow = np.zeros((h // 4 + 1, w // 4 + 1, 3), np.float32)
        for x, y, r, colour in lamps:
            cv2.circle(glow, (int(x / 4), int(y / 4)), max(1, int(r / 4)), bgr(colour), -1)
        glow = cv2.GaussianBlur(glow, (0, 0), 3)
        img += cv2.resize(glow, (w, h), interpolation=cv2.INTER_LINEAR) * rng.uniform(0.4, 1.0)
    else:
        img *= rng.uniform(0.6, 0.9)
        cast = np.array([0.85, 1.0, 1.15])
    img *= (cast * rng.normal(1, 0.03, 3)).astype(np.float32)
    if rng.random() < 0.5:  # vignetting
        xx = ((np.arange(w, dtype=np.float32) - w / 2) / w) ** 2
        yy = ((np.arange(h, dtype=np.float32) - h / 2) / h) ** 2
        img *= (1 - np.float32(rng.uniform(0.2, 0.6)) * (yy[:, None] + xx[None, :]))[..., None]
    return img


def finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Blur, sensor noise and a JPEG's blocks over a float32 photo -> uint8."""
    img = blur(rng, img)
    img += noise(rng, *img.shape) * np.float32(rng.uniform(0.5, 4))
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        out = jpeg_roundtrip(out, int(rng.integers(35, 92)))
    return out
