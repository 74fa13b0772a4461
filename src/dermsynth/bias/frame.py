"""Dark corner / circular dermoscope frame detector (radial darkness profile).

The thesis's main bias (Rosén & Zoubi 2022, Sec. 3.3, Fig. 3.4): contact dermoscopes leave a black
circle or dark vignetted corners around the field of view. Bissoto et al. (2020) label both as
``dark_corner``. On a 64 x 64 grid of the largest channel, each image corner's tip (radius > 1.38 in
units of half the side) is compared with the ring 0.7-0.95 of the same quadrant: a frame or vignette
makes the tip much darker than the skin just inside it, a lesion reaching the corner does not.
Score: ``1 - mean`` of the two darkest tip / ring ratios, in [0, 1]. Mask: near-black pixels
connected to the image border (the frame itself; empty for mild vignetting).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from dermsynth.bias.common import at_work_size, border_connected, radius_map, scaled

#: coarse grid on which the radial profile is measured (cheap and insensitive to hair / noise)
GRID = 64
TIP_RADIUS = 1.38
RING = (0.70, 0.95)


@lru_cache(maxsize=4)
def zone_labels(n: int = GRID) -> np.ndarray:
    """Zone of each cell of an n x n grid: 0-3 corner tips, 4-7 the rings of those quadrants, 8 other."""
    r = radius_map(n, n)
    yy, xx = np.mgrid[0:n, 0:n]
    quadrant = (yy >= n / 2).astype(np.int64) * 2 + (xx >= n / 2)
    zone = np.full((n, n), 8, np.int64)
    zone[(r > RING[0]) & (r < RING[1])] = 4 + quadrant[(r > RING[0]) & (r < RING[1])]
    zone[r > TIP_RADIUS] = quadrant[r > TIP_RADIUS]
    return zone.ravel()


def corner_ratios(v: np.ndarray) -> tuple[np.ndarray, float]:
    """(tip / ring brightness of each corner, brightest ring value) of a brightness image."""
    small = cv2.resize(v, (GRID, GRID), interpolation=cv2.INTER_AREA).astype(np.float64) + 1.0
    zone = zone_labels()
    sums = np.bincount(zone, weights=small.ravel(), minlength=9)
    counts = np.bincount(zone, minlength=9)
    means = sums / np.maximum(counts, 1)
    tips, rings = means[:4], means[4:8]
    return np.minimum(tips / rings, 1.0), float(rings.max())


def max_channel(rgb: np.ndarray) -> np.ndarray:
    """Largest of the three channels, uint8 [H, W]."""
    return cv2.max(cv2.max(rgb[..., 0], rgb[..., 1]), rgb[..., 2])


def border_frame(v: np.ndarray, level: float, edge_px: int = 3) -> np.ndarray:
    """Pixels darker than ``level`` connected to the image border. Scanned images often carry a thin
    bright line along the edge; the outer ``edge_px`` ring is therefore treated as connecting (it is
    kept in the mask only next to dark frame pixels)."""
    ring = np.ones(v.shape, bool)
    ring[edge_px:-edge_px, edge_px:-edge_px] = False
    dark = v < level
    frame = border_connected(dark | ring) & dark
    if frame.any():
        near = cv2.dilate(frame.astype(np.uint8), np.ones((2 * edge_px + 1,) * 2, np.uint8)).astype(bool)
        frame |= near & ring
    return frame


@at_work_size
def dark_corner(rgb: np.ndarray) -> tuple[float, np.ndarray]:
    """Score in [0, 1] (darkness of the two darkest corners) and mask of the near-black border frame."""
    v = max_channel(rgb)  # a black frame is dark in all three channels
    ratios, skin = corner_ratios(v)
    score = float(1.0 - np.sort(ratios)[:2].mean())
    mask = border_frame(v, min(0.35 * skin, 80.0), scaled(3, v.shape))
    return score, mask
