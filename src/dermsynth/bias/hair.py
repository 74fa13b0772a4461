"""Hair detector: morphological black-hat for thin dark structures, kept when long.

Classical hair detection as in DullRazor (Lee et al. 1997) and the black-hat hair masks used before
in-painting (thesis Sec. 4.2): ``blackhat = close(gray) - gray`` responds to dark structures narrower
than the structuring element (13 px at 256 px). Of the thresholded response, the parts that survive
an opening with a 5 px disc (blobs: globules, dots, dark lesion borders) are removed, and connected
thin parts at least 30 px long (bounding-box diagonal) are kept as hair. Score: their total length in
image widths.
"""

from __future__ import annotations

import cv2
import numpy as np

from dermsynth.bias.common import at_work_size, ellipse, luminance, scaled

KERNEL_PX = 13.0  # black-hat structuring element at 256 px
RESPONSE = 10  # black-hat level (gray levels) of a thin dark structure
BLOB_PX = 5.0  # parts that survive an opening of this size are blobs, not hair
MIN_LENGTH_PX = 30.0  # at 256 px


def thin_dark(
    gray: np.ndarray, kernel_px: float = KERNEL_PX, level: int = RESPONSE, blob_px: float = BLOB_PX
) -> np.ndarray:
    """Thin dark structures: black-hat response above ``level`` minus its blob part (uint8 0/1)."""
    bh = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, ellipse(scaled(kernel_px, gray.shape)))
    binary = (bh > level).astype(np.uint8)
    blobs = cv2.morphologyEx(binary, cv2.MORPH_OPEN, ellipse(scaled(blob_px, gray.shape)))
    return binary & (1 - blobs)


def long_parts(
    binary: np.ndarray, min_length: float, max_width: float | None = None
) -> tuple[np.ndarray, float]:
    """Keep connected parts whose bounding-box diagonal is >= ``min_length`` (and, if given, whose
    mean width area / diagonal is <= ``max_width``); return their mask and summed length (pixels)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return np.zeros(binary.shape, bool), 0.0
    w = stats[1:, cv2.CC_STAT_WIDTH].astype(np.float32)
    h = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float32)
    length = np.sqrt(w * w + h * h)
    keep = length >= min_length
    if max_width is not None:
        keep &= stats[1:, cv2.CC_STAT_AREA] / np.maximum(length, 1.0) <= max_width
    lut = np.concatenate([[False], keep])
    return lut[labels], float(length[keep].sum())


@at_work_size
def hair(rgb: np.ndarray) -> tuple[float, np.ndarray]:
    """Score (total hair length in image widths) and mask of hair pixels."""
    gray = luminance(rgb)
    mask, total = long_parts(thin_dark(gray), scaled(MIN_LENGTH_PX, gray.shape))
    return total / gray.shape[1], mask
