"""Gel / air bubble detector: small bright specular spots (white top-hat).

Immersion gel traps air bubbles that show as small bright rings and specular highlights (Bissoto et
al. 2020, ``gel_bubble``). The white top-hat ``gray - open(gray)`` isolates small bright structures;
parts that are compact (not long lines) and close to saturation are counted. Score: their number
per 10 000 pixels (a density, so independent of image size); mask: the spots.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import at_work_size, ellipse, luminance, scaled

#: top-hat level (gray levels) of a bright spot, and the absolute brightness it must reach
RESPONSE = 28
MIN_BRIGHT = 170


@at_work_size
def gel_bubble(rgb: np.ndarray) -> tuple[float, np.ndarray]:
    """Score (bright compact spots per 10k pixels) and the spot mask."""
    gray = luminance(rgb)
    th = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, ellipse(scaled(9, gray.shape)))
    binary = ((th > RESPONSE) & (gray > MIN_BRIGHT)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return 0.0, np.zeros(gray.shape, bool)
    w = stats[1:, cv2.CC_STAT_WIDTH]
    h = stats[1:, cv2.CC_STAT_HEIGHT]
    area = stats[1:, cv2.CC_STAT_AREA]
    big = scaled(14, gray.shape)
    keep = (area >= 2) & (np.maximum(w, h) <= big)
    mask = np.concatenate([[False], keep])[labels]
    return float(keep.sum()) * 1e4 / gray.size, mask
