"""Street-photo scenes with plates and their tight boxes.

render_scene: a cluttered background, a fake car body around each plate, the plate warped in with
slight perspective, then light, blur and noise over the whole photo (the OCR's synthetic photos;
data/sample is made with it, so its output stays as it is).

render_photo: photos as people take them of cars, for the plate detector: mostly one car close
up, front or back, filling much of the frame (cars.py), sometimes a row of parked cars, a plate
seen from very near, or no plate at all; muted streets, car parks and their clutter, the light of
the day (street.py)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from plateocr.synth import cars, street
from plateocr.synth.effects import blur, shade
from plateocr.synth.plate import render_plate

Box = tuple[int, int, int, int]  # xmin, xmax, ymin, ymax; xmax/ymax exclusive (photo[ymin:ymax, xmin:xmax])

PLATE_WIDTHS = (90, 250)  # plate width in the photo, pixels
PLATES_PER_PHOTO = ((1, 2, 3), (0.6, 0.3, 0.1))
CAR_COLOURS = [
    (235, 235, 235),
    (190, 190, 185),
    (30, 30, 30),
    (40, 40, 170),
    (140, 70, 20),
    (90, 90, 90),
    (30, 80, 30),
    (60, 140, 200),
]


def _colour(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Gradient, a road, buildings, windows, poles, signs and texture noise (uint8 BGR)."""
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    img = (c0 * (1 - t) + c1 * t).astype(np.float32) * np.ones((1, width, 1), np.float32)
    img = img.astype(np.uint8)
    horizon = int(height * rng.uniform(0.35, 0.6))
    grey = int(rng.integers(60, 140))
    img[horizon:] = (grey + rng.integers(-10, 10, 3)).clip(0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(4, 10))):  # buildings
        x0, w = int(rng.integers(-50, width)), int(rng.integers(60, 300))
        top = int(rng.integers(0, horizon))
        cv2.rectangle(img, (x0, top), (x0 + w, horizon), _colour(rng), -1)
        if rng.random() < 0.6:  # windows
            win = _colour(rng)
            step = int(rng.integers(18, 40))
            for wy in range(top + 8, horizon - 10, step):
                for wx in range(x0 + 6, x0 + w - 12, step):
                    cv2.rectangle(img, (wx, wy), (wx + step // 2, wy + step // 2), win, -1)
    for _ in range(int(rng.integers(5, 15))):  # poles, wires, road marks
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p0, p1, _colour(rng), int(rng.integers(1, 8)), cv2.LINE_AA)
    for _ in range(int(rng.integers(3, 10))):  # trees, signs, lamps
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(img, centre, int(rng.integers(5, 60)), _colour(rng), int(rng.choice([-1, 2, 4])), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 4))):  # shop signs with text (not plates, not annotated)
        org = (int(rng.integers(0, width - 60)), int(rng.integers(20, height)))
        word = "".join(chr(c) for c in rng.integers(65, 91, int(rng.integers(3, 9))))
        cv2.putText(img, word, org, cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.4, 1.2), _colour(rng), 2, cv2.LINE_AA)
    # texture: coarse noise, upsampled
    noise = rng.normal(0, rng.uniform(3, 12), (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    noise = cv2.resize(noise, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _plate_quad(rng: np.random.Generator, pw: float, ph: float, cx: float, cy: float) -> np.ndarray:
    """Corners (tl, tr, br, bl) of a plate pw x ph centred at (cx, cy), slightly rotated and in perspective."""
    yaw = rng.uniform(-0.12, 0.12)  # one side taller than the other
    pitch = rng.uniform(-0.06, 0.06)  # top narrower or wider than the bottom
    hl, hr = ph * (1 + yaw) / 2, ph * (1 - yaw) / 2
    wt, wb = pw * (1 + pitch) / 2, pw * (1 - pitch) / 2
    quad = np.array([(-wt, -hl), (wt, -hr), (wb, hr), (-wb, hl)], np.float64)
    quad += rng.normal(0, 0.01, quad.shape) * (pw, ph)
    a = np.deg2rad(np.clip(rng.normal(0, 3), -8, 8))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return quad @ rot.T + (cx, cy)


def _car_body(rng: np.random.Generator, img: np.ndarray, quad: np.ndarray, pw: float, ph: float) -> None:
    """A car's front or back around the plate: body, bumper, lights, window, wheels, plate holder."""
    cx, cy = quad.mean(axis=0)
    colour = np.clip(np.array(CAR_COLOURS[rng.integers(len(CAR_COLOURS))]) + rng.normal(0, 15, 3), 0, 255)
    body = tuple(int(c) for c in colour)
    darker = tuple(int(c * 0.55) for c in colour)
    bw, top, bottom = pw * rng.uniform(1.5, 2.1), ph * rng.uniform(1.8, 3.0), ph * rng.uniform(1.0, 1.8)
    x0, x1, y0, y1 = int(cx - bw), int(cx + bw), int(cy - top), int(cy + bottom)
    glass = tuple(int(c) for c in rng.uniform(20, 90, 3))
    cv2.fillPoly(
        img,
        [
            np.array(
                [
                    (x0 + bw * 0.15, y0),
                    (x1 - bw * 0.15, y0),
                    (x1 - bw * 0.4, y0 - top * 0.9),
                    (x0 + bw * 0.4, y0 - top * 0.9),
                ],
                np.int32,
            )
        ],
        glass,
        cv2.LINE_AA,
    )  # rear window
    for wx in (x0 + bw * 0.3, x1 - bw * 0.3):  # wheels
        cv2.rectangle(img, (int(wx - pw * 0.2), y1 - 5), (int(wx + pw * 0.2), int(y1 + ph * 0.6)), (20, 20, 20), -1)
    radius = int(min(bw * 0.25, top * 0.4))
    cv2.rectangle(img, (x0 + radius, y0), (x1 - radius, y1), body, -1)
    cv2.rectangle(img, (x0, y0 + radius), (x1, y1 - radius), body, -1)
    for corner in (
        (x0 + radius, y0 + radius),
        (x1 - radius, y0 + radius),
        (x0 + radius, y1 - radius),
        (x1 - radius, y1 - radius),
    ):
        cv2.circle(img, corner, radius, body, -1, cv2.LINE_AA)
    light = (200, 220, 240) if rng.random() < 0.5 else (30, 30, 200)
    ly = int(cy - top * 0.55)
    for lx in (x0 + bw * 0.3, x1 - bw * 0.3):
        cv2.ellipse(img, (int(lx), ly), (int(bw * 0.22), int(top * 0.18)), 0, 0, 360, light, -1, cv2.LINE_AA)
    by = int(cy + bottom * rng.uniform(0.2, 0.6))  # bumper line
    cv2.line(img, (x0, by), (x1, by), darker, int(rng.integers(2, 6)), cv2.LINE_AA)
    holder = (quad - (cx, cy)) * 1.08 + (cx, cy)  # a dark rim around the plate
    cv2.fillPoly(img, [np.round(holder).astype(np.int32)], darker, cv2.LINE_AA)


def _warp_in(photo: np.ndarray, plate: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Composite the plate onto the photo inside quad (in place); return its alpha patch and its offset."""
    h, w = photo.shape[:2]
    x0, y0 = max(0, int(np.floor(quad[:, 0].min())) - 1), max(0, int(np.floor(quad[:, 1].min())) - 1)
    x1, y1 = min(w, int(np.ceil(quad[:, 0].max())) + 2), min(h, int(np.ceil(quad[:, 1].max())) + 2)
    # Shrink with INTER_AREA first: warpPerspective alone would alias the strokes.
    target_w = max(8, int(np.linalg.norm(quad[1] - quad[0])))
    scale = target_w / plate.shape[1]
    if scale < 1:
        plate = cv2.resize(plate, (target_w, max(4, int(round(plate.shape[0] * scale)))), interpolation=cv2.INTER_AREA)
    ph, pw = plate.shape[:2]
    src = np.float32([(-0.5, -0.5), (pw - 0.5, -0.5), (pw - 0.5, ph - 0.5), (-0.5, ph - 0.5)])
    m = cv2.getPerspectiveTransform(src, np.float32(quad - (x0, y0)))
    size = (x1 - x0, y1 - y0)
    patch = cv2.warpPerspective(plate, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ones = np.ones((ph + 2, pw + 2), np.float32)  # padded so edge pixels get alpha 1 inside the quad
    m_pad = cv2.getPerspectiveTransform(src + 1, np.float32(quad - (x0, y0)))
    alpha = cv2.warpPerspective(ones, m_pad, size, flags=cv2.INTER_LINEAR, borderValue=0)
    inside = np.zeros_like(alpha)
    cv2.fillConvexPoly(inside, np.round((quad - (x0, y0)) * 16).astype(np.int32), 1.0, cv2.LINE_AA, 4)
    alpha = np.minimum(alpha, inside)[..., None]
    region = photo[y0:y1, x0:x1].astype(np.float32)
    photo[y0:y1, x0:x1] = np.clip(region + alpha * (patch.astype(np.float32) - region), 0, 255).astype(np.uint8)
    return alpha[..., 0], (x0, y0)


def _overlaps(box: Box, others: list[Box], pad: int) -> bool:
    return any(
        box[0] < o[1] + pad and o[0] < box[1] + pad and box[2] < o[3] + pad and o[2] < box[3] + pad for o in others
    )


def render_scene(rng: np.random.Generator, width: int = 640, height: int = 480, with_mask: bool = False):
    """A street photo with 1-3 plates: (photo_bgr, [(text, (xmin, xmax, ymin, ymax))]).

    Boxes are integer pixels, tight around each plate as it appears (xmax/ymax exclusive). With
    with_mask=True a third item is an int32 image: 0 background, i+1 where plate i shows.
    """
    photo = background(rng, width, height)
    n = int(rng.choice(PLATES_PER_PHOTO[0], p=PLATES_PER_PHOTO[1]))
    # Several cars in one photo stand further away: smaller plates, less crowding.
    max_w = min(PLATE_WIDTHS[1] - (n - 1) * 50, width - 8)
    placed: list[tuple[np.ndarray, np.ndarray, float, float, str]] = []  # plate, quad, w, h, text
    boxes: list[Box] = []
    for _ in range(n):
        plate, text = render_plate(rng, degrade=False)
        pw = rng.uniform(min(PLATE_WIDTHS[0], max_w), max_w)
        ph = pw * plate.shape[0] / plate.shape[1]
        for _try in range(30):
            cx = rng.uniform(pw * 0.6, width - pw * 0.6)
            # Cars stand on the ground: plates sit in the lower two thirds of the photo.
            top = max(ph * 2, height * 0.33)
            cy = rng.uniform(top, height - ph * 1.2) if height - ph * 1.2 > top else height / 2
            quad = _plate_quad(rng, pw, ph, cx, cy)
            rough = (int(quad[:, 0].min()), int(quad[:, 0].max()) + 1, int(quad[:, 1].min()), int(quad[:, 1].max()) + 1)
            inside = rough[0] >= 2 and rough[2] >= 2 and rough[1] <= width - 2 and rough[3] <= height - 2
            if inside and not _overlaps(rough, boxes, pad=int(ph)):
                boxes.append(rough)
                placed.append((plate, quad, pw, ph, text))
                break
    # All car bodies first, so no body covers another car's plate.
    for _plate, quad, pw, ph, _text in placed:
        _car_body(rng, photo, quad, pw, ph)
    labels = np.zeros((height, width), np.int32)
    plates = []
    for i, (plate, quad, _pw, _ph, text) in enumerate(placed):
        alpha, (x0, y0) = _warp_in(photo, plate, quad)
        ys, xs = np.nonzero(alpha >= 0.5)
        labels[ys + y0, xs + x0] = i + 1
        plates.append((text, (int(xs.min() + x0), int(xs.max() + x0 + 1), int(ys.min() + y0), int(ys.max() + y0 + 1))))
    photo = _finish(rng, photo)
    return (photo, plates, labels) if with_mask else (photo, plates)


def _finish(rng: np.random.Generator, photo: np.ndarray) -> np.ndarray:
    """Light, contrast, blur and sensor noise over the whole photo."""
    img = photo.astype(np.float32)
    shade(rng, img, 0.5)
    img = (img - 128) * rng.uniform(0.8, 1.15) + 128 + rng.uniform(-20, 20)
    if rng.random() < 0.15:  # a little motion blur
        k = int(rng.integers(3, 6))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        img = cv2.filter2D(img, -1, kernel)
    else:
        img = blur(rng, img)
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(0.5, 3.5))
    return np.clip(img, 0, 255).astype(np.uint8)


# What a photo shows: one car near, a plate seen from very near, a row of parked cars, no plate.
PHOTO_KINDS = (("close", "macro", "row", "none"), (0.62, 0.08, 0.2, 0.10))
MAX_FACE_W = 640  # a car wider than this in the photo is drawn at this width and scaled up
MIN_VISIBLE = 0.5  # a plate less visible than this (frame edge, a car in front) is not labelled


@dataclass
class _Car:
    width: float  # in the photo, pixels
    anchor: tuple[float, float]  # where the face's bottom centre lands (or the plate's centre)
    on_plate: bool  # anchor is the plate's centre
    yaw: float
    plate: bool = True


def _cars_for(rng: np.random.Generator, kind: str, width: int, height: int) -> tuple[list[_Car], int]:
    """The cars a photo of this kind shows, far ones first, and its horizon's height."""
    horizon = int(height * rng.uniform(0.25, 0.6))

    def turn(spread: float = 0.3) -> float:
        return float(np.clip(rng.normal(0, spread), -0.8, 0.8))

    if kind == "macro":
        plate_w = width * rng.uniform(0.35, 0.6)
        return [
            _Car(plate_w / 0.3, (width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7)), True, turn(0.12))
        ], horizon
    if kind == "row":
        n = int(rng.integers(2, 5))
        xs = np.sort(rng.uniform(0.05, 0.95, n)) * width
        out = []
        for x in xs:
            depth = rng.uniform(0.35, 1.0)  # 1 at the photo's bottom edge
            base = horizon + (height - horizon) * depth
            w = max(0.2 * width, width * depth * rng.uniform(0.3, 0.5))
            out.append(_Car(w, (x, base), False, turn(0.35)))
        return sorted(out, key=lambda c: c.anchor[1]), horizon
    if kind == "none":
        if rng.random() < 0.5:
            return [], horizon
        w = width * rng.uniform(0.6, 1.1)  # a car too near and too high for its plate to show
        return [
            _Car(w, (width * rng.uniform(0.3, 0.7), height * rng.uniform(1.35, 1.7)), False, turn(), plate=False)
        ], horizon
    # One car, most of it in the frame, the camera about as high as its roof: the horizon
    # crosses the car near its top.
    w = min(width * rng.uniform(0.5, 1.05), height * rng.uniform(0.9, 1.4))
    base = height * rng.uniform(0.86, 1.02)
    main = _Car(w, (width * rng.uniform(0.35, 0.65), base), False, turn())
    horizon = int(np.clip(base - w * rng.uniform(0.5, 0.85), height * 0.1, height * 0.7))
    out = []
    for side in rng.permutation([-1, 1])[: int(rng.choice(3, p=[0.4, 0.4, 0.2]))]:  # neighbours behind it
        nw = w * rng.uniform(0.6, 1.0)
        x = main.anchor[0] + side * (w / 2 + nw * rng.uniform(0.0, 0.6))
        out.append(_Car(nw, (x, main.anchor[1] - height * rng.uniform(0.03, 0.15)), False, main.yaw + turn(0.1)))
    return [*out, main], horizon


def _quad_area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def render_photo(rng: np.random.Generator, width: int = 512, height: int = 384, with_mask: bool = False):
    """A photo of cars as people take them, with 0-4 plates: (photo_bgr, [(text, (xmin, xmax,
    ymin, ymax))]), and with with_mask=True the int32 label image as render_scene gives it.

    Plates are 20-300 px wide at 512x384, on cars turned up to about 45 degrees. A plate cut by
    the frame or hidden by a nearer car is labelled only where at least half of it shows (its box
    then holds the part that shows)."""
    kind = str(rng.choice(PHOTO_KINDS[0], p=PHOTO_KINDS[1]))
    plan, horizon = _cars_for(rng, kind, width, height)
    photo = street.backdrop(rng, width, height, horizon)
    street.negatives(rng, photo, int(rng.integers(0, 5)) + (3 if kind == "none" else 0))
    labels = np.zeros((height, width), np.int32)
    drawn: list[tuple[str, float]] = []  # text, full area of each plate drawn
    lamps = []
    for car in plan:
        plate, text = render_plate(rng, degrade=False)
        fw = int(min(car.width, MAX_FACE_W))
        face = cars.draw_face(rng, fw, plate.shape[1] / plate.shape[0], rear=rng.random() < 0.6)
        fh = face.alpha.shape[0]
        view = cars.View(
            0,
            0,
            car.width / fw,
            car.yaw,
            rng.uniform(-0.05, 0.2),
            float(np.clip(rng.normal(0, 0.03), -0.1, 0.1)),
            rng.uniform(2, 5),
        )
        px0, py0, px1, py1 = face.plate
        anchor = ((px0 + px1) / 2, (py0 + py1) / 2, 0) if car.on_plate else (fw / 2, fh, 0)
        view.cx, view.cy = np.subtract(car.anchor, cars.project(view, fw, fh, [anchor])[0])
        cover = cars.place_car(rng, photo, face, view)
        labels[cover > 0.5] = 0  # the car hides what stands behind it
        lamps += [(*cars.project(view, fw, fh, [(x, y, 0)])[0], r * view.scale, c) for x, y, r, c in face.lights]
        if not car.plate:
            continue
        quad = cars.project(view, fw, fh, [(px0, py0, 0), (px1, py0, 0), (px1, py1, 0), (px0, py1, 0)])
        if quad[:, 0].max() < 0 or quad[:, 1].max() < 0 or quad[:, 0].min() >= width or quad[:, 1].min() >= height:
            continue
        alpha, (x0, y0) = _warp_in(photo, plate, quad)
        ys, xs = np.nonzero(alpha >= 0.5)
        drawn.append((text, _quad_area(quad)))
        labels[ys + y0, xs + x0] = len(drawn)
    img = street.light(rng, photo, lamps)
    photo = street.finish(rng, img)
    plates = []
    kept = np.zeros(len(drawn) + 1, np.int32)
    for k, (text, area) in enumerate(drawn, 1):
        ys, xs = np.nonzero(labels == k)
        if len(xs) and len(xs) >= MIN_VISIBLE * area:
            plates.append((text, (int(xs.min()), int(xs.max() + 1), int(ys.min()), int(ys.max() + 1))))
            kept[k] = len(plates)
    labels = kept[labels]
    return (photo, plates, labels) if with_mask else (photo, plates)
