"""Frame removal by skin-colour in-painting (the thesis's first in-painting, Sec. 4.1).

A normal distribution N(mu, Sigma) is fitted to the RGB values of skin pixels - the band of
pixels just inside the frame (lesions rarely reach the frame) - and every frame pixel is replaced by
an independent draw, slightly smoothed so the fill has skin-like grain rather than salt-and-pepper.
Draws come from ``dermsynth.core.seeding.rng(seed)``, so a result is a function of the seed.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import ellipse, scaled
from dermsynth.core.seeding import rng

BAND_PX = 16  # width of the skin band inside the frame, at 256 px


def skin_pixels(rgb: np.ndarray, mask: np.ndarray, band_px: float = BAND_PX) -> np.ndarray:
    """RGB values [N, 3] of the skin band just inside ``mask`` (all non-mask pixels if the band is empty)."""
    grown = cv2.dilate(mask.astype(np.uint8), ellipse(2 * scaled(band_px, mask.shape) + 1)).astype(bool)
    band = grown & ~mask
    if band.sum() < 16:
        band = ~mask
    return rgb[band].reshape(-1, 3).astype(np.float64)


def skin_inpaint(rgb: np.ndarray, mask: np.ndarray, seed: int | str = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``mask`` with draws from a normal fitted to skin pixels; returns ``(image, mask)``."""
    if not mask.any():
        return rgb.copy(), mask.copy()
    if mask.all():
        raise ValueError("the whole image is masked: no skin pixels to fit")
    px = skin_pixels(rgb, mask)
    mu = px.mean(axis=0)
    cov = np.cov(px.T) + 1e-3 * np.eye(3) if len(px) > 3 else np.eye(3)
    draws = rng(seed, "skin-inpaint").multivariate_normal(mu, cov, size=int(mask.sum()), method="cholesky")
    fill = rgb.astype(np.float32).copy()
    fill[mask] = draws
    smooth = cv2.GaussianBlur(fill, (3, 3), 0)
    out = rgb.copy()
    out[mask] = np.clip(smooth[mask], 0, 255).round().astype(np.uint8)
    return out, mask.copy()
