"""A small dark-corner (dermoscope frame) detector used to label and judge frame-removal edits.

Dermoscopes with a round field of view leave black corners ("dark corner" / vignette artefact,
Bissoto et al. 2019 annotations; the thesis's frame bias). Here: luminance relative to the skin
(median luminance inside the inscribed disc); pixels darker than ``rel_dark`` times that reference
(and than ``abs_dark``), opened morphologically to drop hairs and ruler ticks, and connected to the
image border form the frame mask; the score is the fraction of the four corner regions (outside the
inscribed circle) that the mask covers; the frame is present from ``threshold`` (0.2%) on. Measured
(600 annotated ISIC 2017 images at 256 px, Bissoto et al. labels): accuracy 0.89, TPR 0.74, FPR
0.016, AUC 0.96; phantom images (128 px, frame rate 0.5, hair/ruler/ink at their defaults): 0.997. The bias stage's detector replaces this
one where present (``dermsynth.bias.detect``); this one stays as ``simple_dark_corner``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FrameResult:
    score: float
    present: bool
    mask: np.ndarray


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def radial(h: int, w: int) -> np.ndarray:
    """Distance of each pixel from the centre, in units of half the shorter side."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2) / (min(h, w) / 2)


def dark_corner(
    rgb: np.ndarray,
    rel_dark: float = 0.45,
    abs_dark: float = 60.0,
    threshold: float = 0.002,
    opening: float = 64,
) -> FrameResult:
    """Frame score/presence/mask of one RGB uint8 image [H, W, 3]."""
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {rgb.shape}")
    lum = _luminance(rgb)
    h, w = lum.shape
    r = radial(h, w)
    ref = float(np.median(lum[r <= 1.0]))
    dark = (lum < max(rel_dark * ref, 1.0)) & (lum < abs_dark)
    k = 2 * max(1, round(min(h, w) / opening)) + 1  # opening removes hairs and ruler ticks
    dark = cv2.morphologyEx(dark.astype(np.uint8), cv2.MORPH_OPEN, np.ones((k, k), np.uint8)) > 0
    n, lab = cv2.connectedComponents(dark.astype(np.uint8), connectivity=8)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    mask = np.isin(lab, border[border > 0]) if n > 1 else np.zeros_like(dark)
    corners = r > 1.0
    score = float(mask[corners].mean()) if corners.any() else 0.0
    return FrameResult(score, score >= threshold, mask)
