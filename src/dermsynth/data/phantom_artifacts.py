"""Dermoscopy artifact painters: dermoscope frame, hair, ruler, ink marks, gel bubbles.

The artifacts are the biases the thesis worried about (Rosén & Zoubi 2022, Sec. 3.1; the annotation
categories of Bissoto et al., "Debiasing Skin Lesion Datasets and Models? Not So Fast", CVPR-W 2020).
Each painter works on ANY RGB uint8 image of any size and returns ``(new_image, mask)``: ``mask`` is a
bool ``[H, W]`` array that covers every pixel the painter changed, so outside the mask the output equals
the input exactly (the ground truth for judging cleaning, and for shortcut tests that add a frame to a
real image). Geometry is drawn in units of the image side, so a painter looks alike at 32 px and 1024 px.
"""

from __future__ import annotations

import cv2
import numpy as np

_AA_SHIFT = 4  # sub-pixel bits for cv2 drawing
_AA_SCALE = 1 << _AA_SHIFT


def _check(img: np.ndarray) -> None:
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {img.dtype} {img.shape}")


def _composite(img: np.ndarray, cov: np.ndarray, color: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``img * (1 - cov) + color * cov``; exact copy where ``cov == 0``. Returns (image, cov > 0)."""
    cov = cov.astype(np.float32)
    cov[cov < 1.0 / 512] = 0.0
    mask = cov > 0
    out = img.copy()
    if not mask.any():
        return out, mask
    c = cov[mask][:, None]
    col = color[mask] if color.ndim == 3 else np.broadcast_to(color.astype(np.float32), (c.shape[0], 3))
    mixed = img[mask].astype(np.float32) * (1.0 - c) + col * c
    out[mask] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out, mask


def _pts(xy: np.ndarray) -> np.ndarray:
    """Float pixel coordinates [N, 2] -> int32 fixed-point points for cv2 drawing with ``shift``."""
    return np.rint(xy * _AA_SCALE).astype(np.int32).reshape(-1, 1, 2)


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 24) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def add_frame(
    img: np.ndarray, rng: np.random.Generator, radius: tuple[float, float] = (0.80, 1.30)
) -> tuple[np.ndarray, np.ndarray]:
    """Dermoscope frame: black outside a (slightly off-centre) circle, soft rim ("dark_corner").

    ``radius`` is the range of the circle's radius in half-sides: below 1 the ring shows on all
    sides, between 1 and 1.41 only the corners are dark (vignetting).
    """
    _check(img)
    h, w = img.shape[:2]
    m = min(h, w) / 2.0
    cx = w / 2.0 + rng.normal(0, 0.03) * m
    cy = h / 2.0 + rng.normal(0, 0.03) * m
    radius = rng.uniform(*radius) * m  # < 1.41 m so the corners are always dark
    width = rng.uniform(0.02, 0.12) * m
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.sqrt((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2)
    cov = np.clip((d - radius) / width, 0.0, 1.0)
    cov = cov * cov * (3 - 2 * cov)  # smoothstep rim
    level = rng.uniform(0, 22)
    tint = rng.uniform(0.8, 1.1, size=3)
    grain = rng.normal(0, 2.0, size=(h, w, 1)).astype(np.float32)
    color = np.clip(level * tint[None, None, :] + grain, 0, 255).astype(np.float32)
    return _composite(img, cov, color)


def add_hair(
    img: np.ndarray, rng: np.random.Generator, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Dark hairs: quadratic Bezier curves, anti-aliased, thickness ~ 1-3 px per 256 px."""
    _check(img)
    h, w = img.shape[:2]
    side = float(max(h, w))
    n = int(rng.integers(2, 26)) if n is None else n
    canvas = np.zeros((h, w), np.uint8)
    thick_base = max(1.0, side / 256.0)
    for _ in range(n):
        p0 = rng.uniform(-0.1, 1.1, size=2) * (w, h)
        ang = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.25, 1.1) * side
        p2 = p0 + length * np.array([np.cos(ang), np.sin(ang)])
        bend = rng.normal(0, 0.15) * length
        mid = (p0 + p2) / 2 + bend * np.array([-np.sin(ang), np.cos(ang)])
        curve = _bezier(p0, mid, p2)
        thick = max(1, int(round(thick_base * rng.uniform(0.8, 2.4))))
        cv2.polylines(canvas, [_pts(curve)], False, 255, thick, cv2.LINE_AA, _AA_SHIFT)
    cov = canvas.astype(np.float32) / 255.0 * rng.uniform(0.75, 0.97)
    base = rng.uniform(15, 70)
    color = np.array([base * 1.15, base, base * 0.85], np.float32)
    return _composite(img, cov, color)


def add_ruler(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ruler with ticks (every 5th and 10th longer) along one edge, optionally on a pale strip."""
    _check(img)
    h, w = img.shape[:2]
    side = float(min(h, w))
    edge = int(rng.integers(4))
    tilt = rng.normal(0, 0.08)
    inset = rng.uniform(0.03, 0.16) * side
    length = rng.uniform(0.45, 1.0) * side
    start = rng.uniform(0, 1) * (side - length) if length < side else 0.0
    # ruler frame: origin on the chosen edge, u along the edge, v pointing into the image
    origins = {0: (start, inset), 1: (w - start, h - inset), 2: (inset, h - start), 3: (w - inset, start)}
    base_angle = {0: 0.0, 1: np.pi, 2: -np.pi / 2, 3: np.pi / 2}[edge] + tilt
    u = np.array([np.cos(base_angle), np.sin(base_angle)])
    v = np.array([-u[1], u[0]])
    o = np.array(origins[edge], float) - v * 0.0
    spacing = rng.uniform(0.018, 0.04) * side
    tick = rng.uniform(0.025, 0.05) * side
    thick = max(1, int(round(side / 300 * rng.uniform(0.8, 1.6))))
    dark = rng.random() < 0.75
    out, mask = img, np.zeros((h, w), bool)
    if rng.random() < 0.5:  # the ruler body: a pale translucent strip under the ticks
        strip = np.zeros((h, w), np.uint8)
        corners = np.stack(
            [
                o - v * 0.3 * tick,
                o + u * length - v * 0.3 * tick,
                o + u * length + v * 3.2 * tick,
                o + v * 3.2 * tick,
            ]
        )
        cv2.fillPoly(strip, [_pts(corners)], 255, cv2.LINE_AA, _AA_SHIFT)
        body = np.array([235, 232, 215], np.float32) * rng.uniform(0.9, 1.0)
        out, mask = _composite(out, strip.astype(np.float32) / 255 * rng.uniform(0.3, 0.75), body)
    canvas = np.zeros((h, w), np.uint8)
    cv2.polylines(canvas, [_pts(np.stack([o, o + u * length]))], False, 255, thick, cv2.LINE_AA, _AA_SHIFT)
    for k in range(int(length // spacing) + 1):
        f = 2.0 if k % 10 == 0 else 1.5 if k % 5 == 0 else 1.0
        a = o + u * k * spacing
        cv2.polylines(
            canvas, [_pts(np.stack([a, a + v * tick * f]))], False, 255, thick, cv2.LINE_AA, _AA_SHIFT
        )
    color = np.full(3, rng.uniform(5, 40) if dark else rng.uniform(215, 250), np.float32)
    out, m2 = _composite(out, canvas.astype(np.float32) / 255 * rng.uniform(0.8, 1.0), color)
    return out, mask | m2


_INK_COLORS = np.array([[110, 50, 150], [70, 60, 160], [40, 110, 70], [30, 30, 40]], np.float32)


def add_ink(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Surgical-marker ink: a ring around the centre, strokes or dots in violet/blue/green/black."""
    _check(img)
    h, w = img.shape[:2]
    side = float(min(h, w))
    canvas = np.zeros((h, w), np.uint8)
    thick = max(1, int(round(side * rng.uniform(0.012, 0.035))))
    kind = rng.choice(["ring", "strokes", "dots"], p=[0.35, 0.45, 0.2])
    if kind == "ring":
        centre = np.array([w, h]) / 2 + rng.normal(0, 0.05, 2) * side
        r = rng.uniform(0.3, 0.48) * side
        theta = np.linspace(0, rng.uniform(1.2, 2.0) * np.pi, 48) + rng.uniform(0, 2 * np.pi)
        wobble = 1 + 0.04 * np.sin(3 * theta + rng.uniform(0, 6))
        pts = centre + (r * wobble)[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1)
        cv2.polylines(canvas, [_pts(pts)], False, 255, thick, cv2.LINE_AA, _AA_SHIFT)
    elif kind == "strokes":
        for _ in range(int(rng.integers(1, 4))):
            p0 = rng.uniform(0, 1, 2) * (w, h)
            p2 = p0 + rng.normal(0, 0.25, 2) * side
            mid = (p0 + p2) / 2 + rng.normal(0, 0.08, 2) * side
            cv2.polylines(canvas, [_pts(_bezier(p0, mid, p2))], False, 255, thick, cv2.LINE_AA, _AA_SHIFT)
    else:
        for _ in range(int(rng.integers(2, 9))):
            c = rng.uniform(0.05, 0.95, 2) * (w, h)
            cv2.circle(
                canvas,
                tuple(_pts(c)[0, 0]),
                int(thick * rng.uniform(0.6, 1.5) * _AA_SCALE),
                255,
                -1,
                cv2.LINE_AA,
                _AA_SHIFT,
            )
    cov = canvas.astype(np.float32) / 255
    if side >= 64:  # marker ink bleeds a little
        cov = cv2.GaussianBlur(cov, (0, 0), side / 400)
    color = _INK_COLORS[rng.integers(len(_INK_COLORS))] * rng.uniform(0.85, 1.1)
    return _composite(img, cov * rng.uniform(0.55, 0.9), color)


def add_gel_bubbles(
    img: np.ndarray, rng: np.random.Generator, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Air bubbles in the immersion gel: bright rim, slightly lighter inside, specular highlight."""
    _check(img)
    h, w = img.shape[:2]
    side = float(min(h, w))
    n = int(rng.integers(1, 12)) if n is None else n
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cov = np.zeros((h, w), np.float32)
    for _ in range(n):
        r = max(1.5, rng.uniform(0.012, 0.07) * side)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        x0, x1 = max(0, int(cx - r - 2)), min(w, int(cx + r + 3))
        y0, y1 = max(0, int(cy - r - 2)), min(h, int(cy + r + 3))
        if x0 >= x1 or y0 >= y1:
            continue
        d = np.sqrt((xx[y0:y1, x0:x1] + 0.5 - cx) ** 2 + (yy[y0:y1, x0:x1] + 0.5 - cy) ** 2) / r
        inside = np.clip((1.0 - d) * r, 0, 1)  # 1 px anti-aliased edge
        rim = np.exp(-(((d - 0.88) / 0.1) ** 2)) * rng.uniform(0.5, 0.85)
        hl = np.exp(
            -(
                (
                    (xx[y0:y1, x0:x1] + 0.5 - cx + 0.35 * r) ** 2
                    + (yy[y0:y1, x0:x1] + 0.5 - cy + 0.35 * r) ** 2
                )
                / (0.12 * r) ** 2
            )
        )
        c = inside * np.maximum(np.maximum(0.12, rim), hl * 0.9)
        cov[y0:y1, x0:x1] = np.maximum(cov[y0:y1, x0:x1], c)
    return _composite(img, cov, np.array([250, 250, 252], np.float32))


#: Painters by manifest column name, in the order they are applied (the frame last: it is optical).
PAINTERS = {
    "hair": add_hair,
    "ink": add_ink,
    "ruler": add_ruler,
    "gel_bubble": add_gel_bubbles,
    "dark_corner": add_frame,
}
