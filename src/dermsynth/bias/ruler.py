"""Ruler detector: a long straight edge with periodic tick marks beside it.

Dermoscopy rulers (Bissoto et al. 2020, ``ruler``; thesis Fig. 3.4) are long straight edges (found
with the probabilistic Hough transform on Canny edges) along which thin dark tick marks repeat at a
regular pitch. For the longest lines we sample the black-hat response in a band on each side of the
line and measure periodicity: the highest normalised autocorrelation of the band profile at a lag of
3-25 px, weighted by how strong the ticks are. Score: the best line's periodicity in [0, 1];
mask: the band holding the ticks.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import at_work_size, ellipse, luminance, scaled

MAX_LINES = 6
BAND_PX = 12  # tick band depth beside the line, at 256 px
MIN_LAG, MAX_LAG = 3, 25
TICK_LEVEL = 6.0  # black-hat std (gray levels) at which tick strength saturates


def _lines(gray: np.ndarray) -> np.ndarray:
    """Longest straight segments [n, 4] (x1, y1, x2, y2), longest first."""
    edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 40, 120)
    found = cv2.HoughLinesP(
        edges,
        1,
        np.pi / 180,
        threshold=scaled(40, gray.shape),
        minLineLength=scaled(45, gray.shape),
        maxLineGap=scaled(4, gray.shape),
    )
    if found is None:
        return np.zeros((0, 4), np.float32)
    seg = found.reshape(-1, 4).astype(np.float32)
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    return seg[np.argsort(-length)[:MAX_LINES]]


def periodicity(profile: np.ndarray) -> float:
    """Highest normalised autocorrelation of a 1-D profile at lags MIN_LAG..MAX_LAG (0 if flat)."""
    p = profile - profile.mean()
    denom = float((p * p).sum())
    if denom <= 1e-6 or p.size < 2 * MAX_LAG:
        return 0.0
    n = 1 << int(np.ceil(np.log2(2 * p.size)))
    f = np.fft.rfft(p, n)
    ac = np.fft.irfft(f * np.conj(f), n)[: MAX_LAG + 1] / denom
    return float(max(0.0, ac[MIN_LAG : MAX_LAG + 1].max()))


def _band(bh: np.ndarray, seg: np.ndarray, side: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``bh`` in a band of ``depth`` px on one side of a segment: ([depth, L] values, corners)."""
    x1, y1, x2, y2 = seg
    length = max(2, int(np.hypot(x2 - x1, y2 - y1)))
    d = np.array([x2 - x1, y2 - y1], np.float32) / length
    nrm = np.array([-d[1], d[0]], np.float32) * side
    t = np.arange(length, dtype=np.float32)
    o = np.arange(1, depth + 1, dtype=np.float32)
    mx = (x1 + t[None, :] * d[0] + o[:, None] * nrm[0]).astype(np.float32)
    my = (y1 + t[None, :] * d[1] + o[:, None] * nrm[1]).astype(np.float32)
    vals = cv2.remap(bh, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    p0, p1 = np.array([x1, y1]), np.array([x2, y2])
    corners = np.stack([p0, p1, p1 + nrm * depth, p0 + nrm * depth]).astype(np.int32)
    return vals, corners


@at_work_size
def ruler(rgb: np.ndarray) -> tuple[float, np.ndarray]:
    """Score (tick periodicity beside the best straight edge, in [0, 1]) and the tick-band mask."""
    gray = luminance(rgb)
    bh = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, ellipse(scaled(7, gray.shape))).astype(np.float32)
    depth = scaled(BAND_PX, gray.shape)
    best, best_poly = 0.0, None
    for seg in _lines(gray):
        for side in (1, -1):
            vals, poly = _band(bh, seg, side, depth)
            profile = vals.mean(axis=0)
            strength = min(1.0, float(profile.std()) / TICK_LEVEL)
            s = periodicity(profile) * strength
            if s > best:
                best, best_poly = s, poly
    mask = np.zeros(gray.shape, np.uint8)
    if best_poly is not None:
        cv2.fillConvexPoly(mask, best_poly, 1)
    return best, mask.astype(bool)
