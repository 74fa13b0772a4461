"""Real twins: artifacts rendered onto real images that have none, with the exact mask of what changed.

On phantoms the clean twin is known by construction; on real dermoscopy it is not, so cleaning was
never measured there (issue 19). A real twin takes a real image whose hand annotation (Bissoto et al.
2020, ``labels.csv`` of isic2017-256) says it has no artifact of a kind and renders that artifact onto
it: the original is the truth, the render's mask says which pixels the artifact covers. Outside the
mask the twin equals the original bit for bit.

Renderers (geometry in units of the image side, so they look alike at any size; 256 px figures below):

- ``hair``: strands as curvature random walks (curvature changes slowly along the strand, as a real
  hair bends), 0.9-2.4 px wide at 256 px with tapered tips, dark brown to black (10% fair/grey),
  opacity 0.65-0.95, anti-aliased by 4x supersampling. Densities: ``sparse`` 3-8 strands,
  ``medium`` 10-20, ``dense`` 35-70 (ISIC images with hair range from a few strands to a mat).
- ``frame``: the contact dermoscope's dark circle (radius 0.92-1.3 half-sides, off-centre by a few
  per cent, soft rim, near-black with grain): it covers 2-33% of the image, the frame detector's
  mask on annotated real frames 1.3-13.5% (10th-90th percentile, 150 isic2017-256 images).
- ``vignette``: smooth optical darkening of the corners (starts at radius 0.95-1.15, depth 0.55-0.9).
- ``ink``: surgical marker strokes, dots or a ring around the lesion in gentian violet, blue or green,
  slightly bled.

Everything is a function of ``(seed, image_id, kind, density)`` (``core.seeding.rng``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dermsynth.core.seeding import rng as named_rng

SS = 4  # supersampling factor of the strand canvas (anti-aliasing, sub-pixel widths)
#: coverage below this is not rendered (the mask must hold every changed pixel and nothing else)
MIN_COVER = 0.08
DENSITIES: dict[str, tuple[int, int]] = {"sparse": (3, 8), "medium": (10, 20), "dense": (35, 70)}
KINDS = ("hair", "frame", "vignette", "ink")
#: the labels.csv column saying an image has the artifact (a twin needs a 0 there)
ANNOTATION = {"hair": "hair", "frame": "dark_corner", "vignette": "dark_corner", "ink": "ink"}


@dataclass(frozen=True)
class Twin:
    """A real image and the same image with an artifact rendered onto it."""

    image_id: str
    kind: str
    density: str | None
    original: np.ndarray  # [H, W, 3] uint8, the truth
    image: np.ndarray  # [H, W, 3] uint8, with the artifact
    mask: np.ndarray  # [H, W] bool, exactly the pixels the artifact changed


def _composite(img: np.ndarray, cov: np.ndarray, color: np.ndarray) -> np.ndarray:
    """``img * (1 - cov) + color * cov`` (float32 in, uint8 out); ``color`` [3] or [H, W, 3]."""
    out = img.astype(np.float32) * (1.0 - cov[..., None]) + np.asarray(color, np.float32) * cov[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _finish(original: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rendered image and its mask: every pixel whose value changed."""
    mask = (out != original).any(axis=2)
    return out, mask


def strand_path(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Points [N, 2] (x, y in pixels) of one hair: a walk whose curvature drifts slowly.

    Curvature (1/radius) starts at N(0, 1 / side) and changes by a random walk of step
    0.15 / side per step; real hairs on dermoscopy bend gently, some curl at the end.
    """
    side = float(max(h, w))
    step = side / 128.0
    length = rng.uniform(0.25, 1.1) * side
    n = max(4, int(length / step))
    p = rng.uniform(-0.05, 1.05, 2) * (w, h)
    heading = rng.uniform(0, 2 * np.pi)
    kappa = rng.normal(0, 1.0 / side)
    dk = rng.normal(0, 0.15 / side, n).cumsum()
    ang = heading + np.cumsum((kappa + dk) * step)
    xy = p + np.cumsum(step * np.stack([np.cos(ang), np.sin(ang)], 1), axis=0)
    return np.vstack([p, xy])


def _strand_coverage(
    path: np.ndarray, width_px: float, h: int, w: int
) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Coverage in [0, 1] of a strand of ``width_px`` tapering to 40% at both tips, on the strand's
    bounding box (clipped to the image; drawn at ``SS`` x and area-averaged): ``(cover, (rows, cols))``."""
    pad = width_px + 2
    x0 = int(np.clip(np.floor(path[:, 0].min() - pad), 0, w))
    x1 = int(np.clip(np.ceil(path[:, 0].max() + pad), 0, w))
    y0 = int(np.clip(np.floor(path[:, 1].min() - pad), 0, h))
    y1 = int(np.clip(np.ceil(path[:, 1].max() + pad), 0, h))
    box = (slice(y0, y1), slice(x0, x1))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((y1 - y0, x1 - x0), np.float32), box
    canvas = np.zeros(((y1 - y0) * SS, (x1 - x0) * SS), np.uint8)
    n = len(path)
    t = np.linspace(0, 1, n)
    taper = np.clip(np.minimum(t, 1 - t) / 0.12, 0.4, 1.0)
    pts = (path - (x0, y0)) * SS
    for k in range(n - 1):  # segments of varying thickness
        th = max(1, int(round(width_px * SS * taper[k])))
        a, b = pts[k], pts[k + 1]
        cv2.line(canvas, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, th, cv2.LINE_8)
    cover = cv2.resize(canvas, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return cover, box


def render_hair(
    img: np.ndarray, rng: np.random.Generator, density: str = "medium"
) -> tuple[np.ndarray, np.ndarray]:
    """Hair strands of ``density`` (``sparse`` / ``medium`` / ``dense``); returns ``(image, mask)``."""
    if density not in DENSITIES:
        raise ValueError(f"unknown hair density {density!r}; known: {list(DENSITIES)}")
    h, w = img.shape[:2]
    unit = max(h, w) / 256.0
    n = int(rng.integers(DENSITIES[density][0], DENSITIES[density][1] + 1))
    fair = rng.random() < 0.1  # one head of hair: all strands share a base colour
    base = rng.uniform(95, 140) if fair else rng.uniform(18, 70)
    tint = np.array([1.12, 1.0, 0.88]) * rng.uniform(0.95, 1.05, 3)
    out = img.astype(np.float32)
    for _ in range(n):
        cov, box = _strand_coverage(strand_path(rng, h, w), rng.uniform(0.9, 2.4) * unit, h, w)
        cov *= rng.uniform(0.65, 0.95)
        cov[cov < MIN_COVER] = 0.0
        colour = np.clip(base * rng.uniform(0.8, 1.25) * tint, 0, 255).astype(np.float32)
        out[box] = out[box] * (1.0 - cov[..., None]) + colour * cov[..., None]
    return _finish(img, np.clip(np.rint(out), 0, 255).astype(np.uint8))


def _radius(h: int, w: int, cx: float, cy: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.sqrt((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2) / (min(h, w) / 2.0)


def render_frame(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A dark dermoscope circle: near-black outside radius 0.92-1.3 half-sides, soft rim."""
    h, w = img.shape[:2]
    m = min(h, w) / 2.0
    cx, cy = w / 2.0 + rng.normal(0, 0.03) * m, h / 2.0 + rng.normal(0, 0.03) * m
    r = _radius(h, w, cx, cy)
    r0, rim = rng.uniform(0.92, 1.3), rng.uniform(0.015, 0.06)
    cov = np.clip((r - r0) / rim, 0, 1)
    cov = cov * cov * (3 - 2 * cov)
    cov[cov < MIN_COVER] = 0.0
    level = rng.uniform(2, 25) * rng.uniform(0.85, 1.1, 3)
    grain = rng.normal(0, 2.0, (h, w, 1))
    colour = np.clip(level[None, None] + grain, 0, 255)
    return _finish(img, _composite(img, cov.astype(np.float32), colour))


def render_vignette(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Optical vignetting: corners darkened smoothly beyond radius 0.95-1.15 half-sides."""
    h, w = img.shape[:2]
    m = min(h, w) / 2.0
    cx, cy = w / 2.0 + rng.normal(0, 0.03) * m, h / 2.0 + rng.normal(0, 0.03) * m
    r = _radius(h, w, cx, cy)
    r0 = rng.uniform(0.95, 1.15)
    t = np.clip((r - r0) / rng.uniform(0.2, 0.35), 0, 1)
    dark = rng.uniform(0.55, 0.9) * t * t * (3 - 2 * t)
    dark[dark < MIN_COVER / 2] = 0.0
    return _finish(img, _composite(img, dark.astype(np.float32), np.zeros(3)))


INK_COLOURS = np.array([[112, 52, 150], [84, 58, 168], [60, 70, 170], [40, 120, 80]], np.float32)


def render_ink(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Marker ink around the lesion: 1-3 strokes, 2-8 dots, or a partial ring (violet, blue, green)."""
    h, w = img.shape[:2]
    side = float(min(h, w))
    canvas = np.zeros((h * SS, w * SS), np.uint8)
    th = max(1, int(round(side * rng.uniform(0.01, 0.025) * SS)))
    kind = rng.choice(["ring", "strokes", "dots"], p=[0.3, 0.45, 0.25])
    centre = np.array([w, h]) / 2 + rng.normal(0, 0.05, 2) * side
    if kind == "ring":
        rad = rng.uniform(0.36, 0.48) * side
        theta = np.linspace(0, rng.uniform(0.6, 1.6) * np.pi, 64) + rng.uniform(0, 2 * np.pi)
        pts = centre + (rad * (1 + 0.04 * np.sin(3 * theta)))[:, None] * np.stack(
            [np.cos(theta), np.sin(theta)], 1
        )
        cv2.polylines(canvas, [np.int32(pts * SS).reshape(-1, 1, 2)], False, 255, th, cv2.LINE_8)
    elif kind == "strokes":
        for _ in range(int(rng.integers(1, 4))):
            ang = rng.uniform(0, 2 * np.pi)
            p0 = centre + rng.uniform(0.3, 0.45) * side * np.array([np.cos(ang), np.sin(ang)])
            d = rng.normal(0, 1, 2)
            p1 = p0 + rng.uniform(0.05, 0.18) * side * d / np.linalg.norm(d)
            cv2.line(canvas, tuple(np.int32(p0 * SS)), tuple(np.int32(p1 * SS)), 255, th, cv2.LINE_8)
    else:
        for _ in range(int(rng.integers(2, 9))):
            ang = rng.uniform(0, 2 * np.pi)
            c = centre + rng.uniform(0.28, 0.46) * side * np.array([np.cos(ang), np.sin(ang)])
            cv2.circle(canvas, tuple(np.int32(c * SS)), int(th * rng.uniform(0.8, 1.8)), 255, -1)
    cov = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    cov = cv2.GaussianBlur(cov, (0, 0), max(0.5, side / 400)) * rng.uniform(0.6, 0.9)
    cov[cov < MIN_COVER] = 0.0
    colour = INK_COLOURS[rng.integers(len(INK_COLOURS))] * rng.uniform(0.85, 1.1)
    return _finish(img, _composite(img, cov, colour))


def render(
    rgb: np.ndarray, kind: str, seed: int = 0, image_id: str = "", density: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Render artifact ``kind`` onto ``rgb``; ``(image, mask)``, a function of (seed, image_id, kind, density)."""
    if kind not in KINDS:
        raise ValueError(f"unknown twin artifact {kind!r}; known: {list(KINDS)}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {rgb.dtype} {rgb.shape}")
    g = named_rng(seed, "real-twin", image_id, kind, density)
    if kind == "hair":
        return render_hair(rgb, g, density or "medium")
    return {"frame": render_frame, "vignette": render_vignette, "ink": render_ink}[kind](rgb, g)


def make_twin(
    rgb: np.ndarray, kind: str, seed: int = 0, image_id: str = "", density: str | None = None
) -> Twin:
    """A ``Twin`` of ``rgb`` with ``kind`` rendered onto it."""
    if kind == "hair" and density is None:
        density = "medium"
    image, mask = render(rgb, kind, seed, image_id, density if kind == "hair" else None)
    return Twin(image_id, kind, density if kind == "hair" else None, rgb, image, mask)


def twin_candidates(labels_csv: str | os.PathLike, kind: str, split: str | None = None) -> list[str]:
    """Image ids annotated (``has_bias_annotation == 1``) as free of the artifact ``kind`` renders.

    Hair twins also need no dark corner and frame twins no hair, so the measured cleaning faces one
    artifact (ink twins: neither); the image's other artifacts (rulers, bubbles) stay, as in real data.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown twin artifact {kind!r}; known: {list(KINDS)}")
    path = Path(labels_csv)
    df = pd.read_csv(path)
    need = {"image_id", "has_bias_annotation", "dark_corner", "hair", "ink"}
    if missing := need - set(df.columns):
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    df = df[df["has_bias_annotation"] == 1]
    if split is not None:
        df = df[df["split"] == split]
    free = (df["dark_corner"] == 0) & (df["hair"] == 0)
    if kind == "ink":
        free &= df["ink"] == 0
    return [str(i) for i in df.loc[free, "image_id"]]
