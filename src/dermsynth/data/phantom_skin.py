"""Procedural skin for the phantom dataset: tone variation, erythema, mottling and fine texture.

Smooth random fields are small Gaussian grids upsampled bicubically (value noise), so a field drawn from
the same generator has the same structure at every output size and costs one ``cv2.resize``.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

# Dermoscopic skin as seen through the gel: light pinkish beige to tan (RGB).
_SKIN_LIGHT = np.array([238, 196, 178], np.float32)
_SKIN_DARK = np.array([176, 120, 92], np.float32)


def field(rng: np.random.Generator, grid: int, size: int) -> np.ndarray:
    """A smooth random field [size, size], about zero mean and unit std, with ``grid`` cells per side."""
    g = rng.standard_normal((grid + 2, grid + 2)).astype(np.float32)
    up = cv2.resize(g, (size + 2 * size // grid, size + 2 * size // grid), interpolation=cv2.INTER_CUBIC)
    off = size // grid
    f = up[off : off + size, off : off + size]
    return f / max(float(g.std()), 1e-6)


@lru_cache(maxsize=8)
def polar_grid(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1] (x, y), radius and angle, each [size, size] float32."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    yy, xx = np.meshgrid(c, c, indexing="ij")
    rad = np.sqrt(xx**2 + yy**2)
    theta = np.arctan2(yy, xx)
    for a in (xx, yy, rad, theta):
        a.setflags(write=False)
    return xx, yy, rad, theta


def render_skin(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Skin image [size, size, 3] float32 (0-255) and its fine texture field (for the lesion to share)."""
    tone = rng.beta(2.0, 3.0)
    base = _SKIN_LIGHT * (1 - tone) + _SKIN_DARK * tone + rng.normal(0, 5, 3).astype(np.float32)
    bright = field(rng, 4, size) * rng.uniform(0.02, 0.06)
    ery = np.clip(field(rng, 5, size), 0, None) * rng.uniform(0, 9)
    mottle = field(rng, 24, size) * rng.uniform(0.01, 0.03)
    _, _, rad, _ = polar_grid(size)
    light = 1.0 - rng.uniform(0.0, 0.1) * rad**2
    tex = rng.standard_normal((size, size)).astype(np.float32) * 0.02
    if size >= 48:
        tex = cv2.GaussianBlur(tex, (0, 0), size / 400 + 0.3) * 2.0
    shade = (1 + bright + mottle + tex) * light
    img = base[None, None, :] * shade[..., None]
    img[..., 0] += ery * shade
    img[..., 1] -= ery * 0.6 * shade
    img[..., 2] -= ery * 0.3 * shade
    return img, tex
