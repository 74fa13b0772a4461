"""Frame removal by cropping: the largest centred square inside the frame's circle (thesis Fig. 4.1).

The frame circle's radius seen from the image centre is the distance from the centre to the nearest
frame pixel (a distance transform of the frame mask); the largest square centred there inside that
circle has half-side ``r / sqrt(2)`` (clamped to the image). The square is resized back to the
original size (or ``size``). The changed mask marks the input pixels that were cut away.
"""

from __future__ import annotations

import cv2
import numpy as np


def crop_box(frame: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the largest square centred on the image inside the frame circle."""
    h, w = frame.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    if not frame.any():
        return 0, h, 0, w
    ys, xs = np.nonzero(frame)
    r = float(np.sqrt((ys - cy) ** 2 + (xs - cx) ** 2).min())
    half = min(r / np.sqrt(2.0), h / 2, w / 2)
    half = max(half, 4.0)
    y0, y1 = int(np.ceil(cy - half + 0.5)), int(np.floor(cy + half + 0.5))
    x0, x1 = int(np.ceil(cx - half + 0.5)), int(np.floor(cx + half + 0.5))
    return max(0, y0), min(h, y1), max(0, x0), min(w, x1)


def crop(
    rgb: np.ndarray, frame: np.ndarray, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Crop to the square inside the frame and resize to ``size`` (default: the input's (H, W)).

    Returns ``(image, changed)`` where ``changed`` [H, W] (input geometry) marks the discarded pixels.
    """
    h, w = rgb.shape[:2]
    y0, y1, x0, x1 = crop_box(frame)
    changed = np.ones((h, w), bool)
    changed[y0:y1, x0:x1] = False
    out_h, out_w = size if size else (h, w)
    out = cv2.resize(rgb[y0:y1, x0:x1], (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    return out, changed


def apply_crop(img: np.ndarray, frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """The same crop as ``crop`` (decided by ``frame``) applied to another image of the same size, e.g.
    a clean twin, so quality is compared on the same field of view."""
    return crop(img, frame, size)[0]
