"""Cars seen from behind or in front, for street photos: the face (boot or bonnet, window,
lights, bumper, grille) drawn flat on a canvas, then set into the photo in perspective as a turned
car would show it, with the side that turn shows and a shadow under it. The plate's place on the
face is returned, not the plate: scene.py warps the plate in with the same perspective."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from plateocr.synth.street import bgr

# Car paints as they are on the road (BGR): silver, grey, black and white lead.
PAINTS = (
    ((190, 190, 186), 5),
    ((120, 120, 116), 4),
    ((32, 32, 34), 4),
    ((232, 232, 228), 5),
    ((95, 50, 25), 2),
    ((150, 95, 45), 1),
    ((38, 38, 165), 2),
    ((35, 30, 110), 1),
    ((60, 90, 45), 1),
    ((120, 120, 40), 1),
    ((140, 170, 190), 1),
    ((45, 65, 95), 1),
    ((40, 150, 215), 0.3),
)
_PAINT_P = np.array([p for _, p in PAINTS]) / sum(p for _, p in PAINTS)
CAR_LENGTH = 2.4  # a car's length in car widths


@dataclass
class Face:
    """A car's face drawn flat: BGR image, alpha (float32 0-1), where the plate goes (x0, y0, x1,
    y1 in face pixels) and where the lights are ((x, y, radius, BGR) for dusk glows)."""

    image: np.ndarray
    alpha: np.ndarray
    plate: tuple[float, float, float, float]
    lights: list[tuple[float, float, float, tuple[int, int, int]]]
    paint: np.ndarray
    belt: float  # window bottom, fraction of the height
    roof: float  # the roof's width, fraction of the width


def _paint(rng: np.random.Generator) -> np.ndarray:
    base = np.asarray(PAINTS[rng.choice(len(PAINTS), p=_PAINT_P)][0], np.float32)
    return np.clip(base * rng.uniform(0.85, 1.1) + rng.normal(0, 8, 3), 0, 255)


class _Canvas:
    """Shapes drawn in the face's own unit coordinates (u across, v down, 0..1), on image and alpha."""

    def __init__(self, w: int, h: int):
        self.w, self.h = w, h
        self.image = np.zeros((h, w, 3), np.uint8)
        self.alpha = np.zeros((h, w), np.uint8)

    def pts(self, uv) -> np.ndarray:
        return np.round(np.asarray(uv, np.float64) * (self.w, self.h) * 16).astype(np.int32)

    def poly(self, uv, colour, opaque: bool = True) -> None:
        pts = [self.pts(uv)]
        cv2.fillPoly(self.image, pts, bgr(colour), cv2.LINE_AA, 4)
        if opaque:
            cv2.fillPoly(self.alpha, pts, 255, cv2.LINE_AA, 4)

    def rect(self, u0, v0, u1, v1, colour, radius: float = 0.0, opaque: bool = True) -> None:
        """A rectangle with corners rounded by radius (a fraction of the width)."""
        if radius <= 0:
            self.poly([(u0, v0), (u1, v0), (u1, v1), (u0, v1)], colour, opaque)
            return
        ru, rv = radius, min(radius * self.w / self.h, (v1 - v0) / 2)
        ru = min(ru, (u1 - u0) / 2)
        a = np.linspace(0, np.pi / 2, 5)
        corners = []
        for (cu, cv_), start in (
            ((u1 - ru, v1 - rv), 0),
            ((u0 + ru, v1 - rv), 1),
            ((u0 + ru, v0 + rv), 2),
            ((u1 - ru, v0 + rv), 3),
        ):
            t = a + start * np.pi / 2
            corners.extend(zip(cu + ru * np.cos(t), cv_ + rv * np.sin(t)))
        self.poly(corners, colour, opaque)

    def ellipse(self, u, v, ru, rv, colour, thickness: int = -1) -> None:
        centre = (int(u * self.w * 16), int(v * self.h * 16))
        axes = (max(1, int(ru * self.w * 16)), max(1, int(rv * self.h * 16)))
        cv2.ellipse(self.image, centre, axes, 0, 0, 360, bgr(colour), thickness, cv2.LINE_AA, 4)

    def line(self, u0, v0, u1, v1, colour, width: float) -> None:
        t = max(1, int(round(width * self.h)))
        cv2.line(
            self.image,
            (int(u0 * self.w * 16), int(v0 * self.h * 16)),
            (int(u1 * self.w * 16), int(v1 * self.h * 16)),
            bgr(colour),
            t,
            cv2.LINE_AA,
            4,
        )


def _glass(rng: np.random.Generator, c: _Canvas, quad, front: bool) -> None:
    """A window: dark glass with the sky's reflection fading down it."""
    mask = np.zeros((c.h, c.w), np.uint8)
    cv2.fillPoly(mask, [c.pts(quad)], 255, cv2.LINE_AA, 4)
    v = np.linspace(0, 1, c.h, dtype=np.float32)[:, None, None]
    top, bottom = min(q[1] for q in quad), max(q[1] for q in quad)
    t = np.clip((v - top) / max(1e-3, bottom - top), 0, 1)
    dark = rng.uniform(20, 60) + rng.normal(0, 5, 3)
    sky = rng.uniform(90, 200) + rng.normal(0, 10, 3) if front else rng.uniform(50, 130) + rng.normal(0, 8, 3)
    fade = rng.uniform(0.3, 0.9)
    column = (sky + (dark - sky) * np.clip(t / fade, 0, 1)).astype(np.float32)  # h x 1 x 3
    rows = np.flatnonzero(mask.max(axis=1))
    if not len(rows):
        return
    sl = slice(rows[0], rows[-1] + 1)
    a = mask[sl, :, None].astype(np.float32) / 255
    region = c.image[sl].astype(np.float32)
    c.image[sl] = np.clip(region + a * (column[sl] - region), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:  # a streak of reflection across it
        u = rng.uniform(0.2, 0.7)
        w = rng.uniform(0.05, 0.2)
        streak = np.zeros_like(mask)
        cv2.fillPoly(streak, [c.pts([(u, top), (u + w, top), (u + w - 0.15, bottom), (u - 0.15, bottom)])], 255)
        s = (np.minimum(streak, mask)[sl, :, None].astype(np.float32) / 255) * rng.uniform(0.1, 0.3)
        c.image[sl] = np.clip(c.image[sl] + s * (230 - c.image[sl].astype(np.float32)), 0, 255).astype(np.uint8)


def draw_face(rng: np.random.Generator, width: int, plate_aspect: float, rear: bool) -> Face:
    """A car's back (rear=True) or front, `width` pixels wide, with room for a plate of that aspect."""
    tall = rng.random() < 0.2  # vans and SUVs
    h = int(round(width * (rng.uniform(0.9, 1.1) if tall else rng.uniform(0.72, 0.9))))
    c = _Canvas(width, h)
    paint = _paint(rng)
    darker = paint * 0.7
    roof_v = rng.uniform(0.0, 0.04)
    belt = rng.uniform(0.4, 0.5) if tall else rng.uniform(0.34, 0.46)
    bottom = rng.uniform(0.86, 0.92)
    roof_w = rng.uniform(0.78, 0.92) if tall else rng.uniform(0.58, 0.78)
    belt_w = rng.uniform(0.9, 0.97)
    lights = []
    # wheels, under the body
    tyre = (rng.uniform(15, 35),) * 3
    for u in (0.05, 0.81):
        c.rect(u, bottom - 0.1, u + 0.14, 1.0, tyre, radius=0.02)
    # cabin: the pillars in paint, the window in them
    c.poly(
        [(0.5 - roof_w / 2, roof_v), (0.5 + roof_w / 2, roof_v), (0.5 + belt_w / 2, belt), (0.5 - belt_w / 2, belt)],
        paint,
    )
    p = rng.uniform(0.03, 0.07)
    dv = rng.uniform(0.02, 0.05)
    window = [
        (0.5 - roof_w / 2 + p, roof_v + dv),
        (0.5 + roof_w / 2 - p, roof_v + dv),
        (0.5 + belt_w / 2 - p * 1.2, belt - 0.015),
        (0.5 - belt_w / 2 + p * 1.2, belt - 0.015),
    ]
    _glass(rng, c, window, front=not rear)
    if rng.random() < 0.6:  # headrests behind the glass
        shade_ = np.full(3, rng.uniform(15, 50))
        hw, hh = rng.uniform(0.07, 0.1), (belt - roof_v) * rng.uniform(0.25, 0.4)
        for u in (0.5 - rng.uniform(0.15, 0.22), 0.5 + rng.uniform(0.15, 0.22)):
            c.rect(u - hw / 2, belt - 0.015 - hh, u + hw / 2, belt - 0.015 + 0.02, shade_, radius=0.025, opaque=False)
    if rear and rng.random() < 0.4:  # the wiper
        c.line(0.5, belt - 0.03, rng.uniform(0.25, 0.4), roof_v + rng.uniform(0.1, 0.2), (20, 20, 20), 0.008)
    # body below the window
    c.rect(0.0, belt - 0.01, 1.0, bottom, paint, radius=rng.uniform(0.03, 0.08))
    bump = rng.uniform(0.68, 0.76)
    plastic = rng.random() < 0.3
    bumper = (rng.uniform(25, 45),) * 3 if plastic else paint * rng.uniform(0.85, 1.0)
    c.rect(0.0, bump, 1.0, bottom, bumper, radius=0.04)
    c.line(0.02, bump, 0.98, bump, darker, 0.006)
    if rng.random() < 0.5:  # black strip along the bumper's bottom
        c.rect(0.04, bottom - rng.uniform(0.02, 0.05), 0.96, bottom, (30, 30, 30), radius=0.01)
    pw = rng.uniform(0.26, 0.34)  # a European plate is 0.52 m on a car 1.6-1.9 m wide
    ph = pw * width / plate_aspect / h
    ly0, ly1 = belt + rng.uniform(0.01, 0.04), belt + rng.uniform(0.12, 0.2)
    if rear:
        red = np.array((40, 40, 175), np.float32) + rng.normal(0, 12, 3)
        lw = rng.uniform(0.14, 0.24)
        for side in (1, -1):
            pts = [(0.01, ly0), (lw, ly0 + 0.01), (lw - 0.02, ly1 - 0.02), (0.01, ly1)]
            pts = [(u if side > 0 else 1 - u, v) for u, v in pts]
            c.poly(pts, red)
            inner = 0.01 + lw * 0.35
            u = inner if side > 0 else 1 - inner
            c.ellipse(u, (ly0 + ly1) / 2, lw * 0.2, (ly1 - ly0) * 0.25, red * 1.3 + 20)
            lights.append((u, (ly0 + ly1) / 2, lw * 0.3, (60, 60, 255)))
        if rng.random() < 0.25:  # a light bar across the boot
            c.rect(lw, ly0 + 0.02, 1 - lw, ly0 + 0.035, red * 0.8)
        c.ellipse(0.5, ly0 + 0.04, 0.035, 0.03, (200, 200, 200), 2)  # badge
        if rng.random() < 0.6:  # the model's name, in chrome: text that is no plate
            word = "".join(chr(k) for k in rng.integers(97, 123, int(rng.integers(3, 7))))
            scale = 0.022 * width / 22
            cv2.putText(
                c.image,
                word.capitalize(),
                (int(width * rng.uniform(0.62, 0.72)), int(h * (ly1 + 0.06))),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (205, 205, 205),
                max(1, int(scale * 1.5)),
                cv2.LINE_AA,
            )
        on_bumper = rng.random() < 0.55 and ph * 1.15 < bottom - bump
        cy = (bump + bottom) / 2 if on_bumper else min(ly1 + rng.uniform(0.04, 0.1) + ph / 2, bump - ph / 2 - 0.01)
        if rng.random() < 0.4:  # exhaust pipes
            u = rng.choice([0.2, 0.8])
            c.ellipse(u, bottom - 0.005, 0.03, 0.015, (15, 15, 15))
    else:
        housing = (rng.uniform(35, 70),) * 3
        lamp = np.full(3, rng.uniform(185, 235), np.float32) + rng.normal(0, 5, 3)
        lw = rng.uniform(0.16, 0.24)
        for side in (1, -1):
            pts = [(0.02, ly0), (lw, ly0 + 0.015), (lw - 0.01, ly1 - 0.03), (0.03, ly1 - 0.01)]
            pts = [(u if side > 0 else 1 - u, v) for u, v in pts]
            c.poly(pts, housing)
            pts = [(0.035, ly0 + 0.015), (lw - 0.015, ly0 + 0.025), (lw - 0.02, ly1 - 0.045), (0.04, ly1 - 0.025)]
            c.poly([(u if side > 0 else 1 - u, v) for u, v in pts], lamp)
            u = 0.03 + lw * 0.5
            u = u if side > 0 else 1 - u
            c.ellipse(u, (ly0 + ly1) / 2, lw * 0.18, (ly1 - ly0) * 0.22, lamp * 1.08)
            lights.append((u, (ly0 + ly1) / 2, lw * 0.35, (230, 245, 255)))
        gu = rng.uniform(0.24, 0.32)
        g0, g1 = ly0 + 0.02, ly1 - rng.uniform(0.0, 0.04)
        grille = (rng.uniform(15, 45),) * 3
        kidneys = rng.random() < 0.15
        spans = [(gu, 0.49), (0.51, 1 - gu)] if kidneys else [(gu, 1 - gu)]
        chrome = (rng.uniform(120, 210),) * 3
        for a, b in spans:
            c.rect(a, g0, b, g1, grille, radius=0.02)
            if kidneys:
                for u in np.arange(a + 0.015, b - 0.01, 0.015):
                    c.line(u, g0 + 0.005, u, g1 - 0.005, chrome, 0.004)
            else:
                for v in np.arange(g0 + 0.015, g1 - 0.005, rng.uniform(0.015, 0.035)):
                    c.line(a + 0.01, v, b - 0.01, v, chrome, 0.005)
        c.ellipse(
            0.5,
            (g0 + g1) / 2 if not kidneys else g0 - 0.02,
            0.03,
            0.03,
            (210, 210, 210),
            -1 if rng.random() < 0.5 else 2,
        )
        intake = rng.random() < 0.6
        if intake:
            c.rect(0.22, bump + 0.02, 0.78, bottom - 0.02, (28, 28, 28), radius=0.02)
            for u in np.arange(0.24, 0.77, 0.03):
                c.line(u, bump + 0.025, u, bottom - 0.025, (55, 55, 55), 0.004)
        if rng.random() < 0.4:  # fog lights
            for u in (0.12, 0.88):
                c.ellipse(u, (bump + bottom) / 2, 0.03, 0.025, (170, 170, 170))
        cy = (bump + bottom) / 2 if ph * 1.1 < bottom - bump else bump + ph / 2
    cx = 0.5 if rng.random() < 0.85 else rng.uniform(0.3, 0.7)
    plate = (cx - pw / 2, cy - ph / 2, cx + pw / 2, cy + ph / 2)
    c.rect(
        plate[0] - 0.012,
        plate[1] - 0.012 * width / h,
        plate[2] + 0.012,
        plate[3] + 0.012 * width / h,
        darker * 0.6,
        radius=0.006,
    )
    _shade_body(rng, c, belt)
    x0, y0, x1, y1 = plate
    return Face(
        c.image,
        c.alpha.astype(np.float32) / 255,
        (x0 * width, y0 * h, x1 * width, y1 * h),
        [(u * width, v * h, r * width, colour) for u, v, r, colour in lights],
        paint,
        belt,
        roof_w,
    )


def _shade_body(rng: np.random.Generator, c: _Canvas, belt: float) -> None:
    """Light from above: the top of the body brighter, the bumper darker, a soft highlight band."""
    v = np.linspace(0, 1, c.h, dtype=np.float32)
    gain = 1.1 - rng.uniform(0.15, 0.4) * np.clip(v - belt, 0, 1) / (1 - belt)
    centre, width = belt + rng.uniform(0.03, 0.12), rng.uniform(0.02, 0.06)
    gain += rng.uniform(0.05, 0.25) * np.exp(-(((v - centre) / width) ** 2))
    c.image[:] = np.clip(c.image * gain[:, None, None], 0, 255).astype(np.uint8)


@dataclass
class View:
    """Where a car stands before the camera: its face centre in the photo (pixels), its width
    there, how far it is turned (yaw, radians, + shows its right side), the camera's height
    (pitch, radians, + looks down on it) and a roll of the whole photo."""

    cx: float
    cy: float
    scale: float  # photo pixels per face pixel at the face's centre
    yaw: float
    pitch: float
    roll: float
    distance: float  # camera distance in face widths


def project(view: View, face_w: int, face_h: int, pts) -> np.ndarray:
    """Face-plane points (x, y in face pixels, z behind the face in face pixels) -> photo pixels."""
    p = np.asarray(pts, np.float64).reshape(-1, 3)
    x, y, z = p[:, 0] - face_w / 2, p[:, 1] - face_h / 2, p[:, 2]
    cy_, sy = np.cos(view.yaw), np.sin(view.yaw)
    cp, sp = np.cos(view.pitch), np.sin(view.pitch)
    x, z = x * cy_ + z * sy, -x * sy + z * cy_
    y, z = y * cp - z * sp, y * sp + z * cp
    d = view.distance * face_w
    z = z + d
    u, v = x * d / z, y * d / z
    cr, sr = np.cos(view.roll), np.sin(view.roll)
    u, v = u * cr - v * sr, u * sr + v * cr
    return np.stack([view.cx + u * view.scale, view.cy + v * view.scale], axis=1)


def place_car(rng: np.random.Generator, photo: np.ndarray, face: Face, view: View) -> np.ndarray:
    """Draw the car into photo (in place): its shadow on the ground, the side its turn shows,
    then the face. Returns the car's coverage (float32 photo-sized alpha) so that plates it
    covers can be found."""
    fh, fw = face.alpha.shape
    H, W = photo.shape[:2]
    length = fw * CAR_LENGTH
    ground = project(
        view,
        fw,
        fh,
        [(-0.05 * fw, fh, -0.05 * fw), (1.05 * fw, fh, -0.05 * fw), (1.05 * fw, fh, length), (-0.05 * fw, fh, length)],
    )
    _shadow(photo, ground, rng.uniform(0.35, 0.6), max(1.0, 0.03 * fw * view.scale))
    cover = np.zeros((H, W), np.float32)
    # the side the turn shows: the one whose far end projects outward
    side_x = fw if view.yaw > 0 else 0.0
    if abs(view.yaw) > 0.06:
        _draw_side(rng, photo, cover, face, view, side_x, length)
    quad = project(view, fw, fh, [(0, 0, 0), (fw, 0, 0), (fw, fh, 0), (0, fh, 0)])
    src = np.float32([(0, 0), (fw, 0), (fw, fh), (0, fh)])
    x0, y0 = np.floor(quad.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if x1 <= x0 or y1 <= y0:
        return cover
    m = cv2.getPerspectiveTransform(src, np.float32(quad - (x0, y0)))
    size = (x1 - x0, y1 - y0)
    img = cv2.warpPerspective(face.image, m, size, flags=cv2.INTER_LINEAR)
    a = cv2.warpPerspective(face.alpha, m, size, flags=cv2.INTER_LINEAR)
    region = photo[y0:y1, x0:x1].astype(np.float32)
    photo[y0:y1, x0:x1] = (region + a[..., None] * (img.astype(np.float32) - region)).astype(np.uint8)
    cover[y0:y1, x0:x1] = np.maximum(cover[y0:y1, x0:x1], a)
    return cover


def _shadow(photo: np.ndarray, quad: np.ndarray, depth: float, softness: float) -> None:
    """Darken the photo inside quad (in place) by depth, with edges blurred by softness pixels."""
    H, W = photo.shape[:2]
    pad = int(3 * softness) + 1
    x0, y0 = np.maximum(np.floor(quad.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(quad.max(axis=0)).astype(int) + pad, (W, H))
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(mask, [np.round((quad - (x0, y0)) * 16).astype(np.int32)], depth, cv2.LINE_AA, 4)
    mask = cv2.GaussianBlur(mask, (0, 0), softness)
    region = photo[y0:y1, x0:x1]
    region[:] = (region * (1 - mask)[..., None]).astype(np.uint8)


def _draw_side(rng, photo, cover, face: Face, view: View, side_x: float, length: float) -> None:
    """The car's flank, in perspective: paint below the belt, windows between pillars above it
    under a roof line, two wheels."""
    fh, fw = face.alpha.shape
    belt, roof_v = face.belt * fh, 0.03 * fh
    inset = (0.5 - face.roof / 2) * fw if side_x == 0 else (0.5 + face.roof / 2) * fw
    bottom = 0.9 * fh
    paint = face.paint * rng.uniform(0.65, 0.9)
    glass = np.full(3, rng.uniform(50, 120)) + rng.normal(0, 6, 3)
    tail = length * rng.uniform(0.75, 0.9)  # where the windscreen (or the back window) starts
    shapes = [
        ([(side_x, belt, 0), (side_x, belt, length), (side_x, bottom, length), (side_x, bottom, 0)], paint),
        ([(inset, roof_v, 0.05 * fw), (inset, roof_v, tail), (side_x, belt, length * 0.97), (side_x, belt, 0)], paint),
    ]
    p = 0.06 * fw  # pillars
    for z0, z1 in ((0.12 * fw, length * 0.45 - p / 2), (length * 0.45 + p / 2, tail - p)):
        shapes.append(
            (
                [
                    (inset, roof_v + 0.04 * fh, z0 + p),
                    (inset, roof_v + 0.04 * fh, z1),
                    (side_x, belt - 0.02 * fh, z1 + p),
                    (side_x, belt - 0.02 * fh, z0 + p),
                ],
                glass,
            )
        )
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    r = 0.17 * fw
    hub = (rng.uniform(90, 170),) * 3
    for zc in (0.22 * length, 0.8 * length):
        for k, colour in ((1.0, (22, 22, 22)), (0.55, hub)):
            shapes.append(
                (np.stack([np.full_like(t, side_x), fh - r + k * r * np.sin(t), zc + k * r * np.cos(t)], 1), colour)
            )
    for i, (pts, colour) in enumerate(shapes):
        poly = [np.round(project(view, fw, fh, pts) * 16).astype(np.int32)]
        cv2.fillPoly(photo, poly, bgr(colour), cv2.LINE_AA, 4)
        if i < 2:
            cv2.fillPoly(cover, poly, 1.0, cv2.LINE_AA, 4)
