"""Small image helpers shared by the classical artifact detectors.

Every detector works on an image of at most ``WORK_SIZE`` pixels a side (larger inputs are reduced
with area interpolation and the mask is scaled back), so the cost per image is bounded whatever the
input resolution: the issue's speed goal is >= 200 images/s per core at 256 px.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

WORK_SIZE = 256

#: A detector maps an RGB uint8 image [H, W, 3] to (score, bool mask [H, W]).
Detector = Callable[[np.ndarray], tuple[float, np.ndarray]]


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate an RGB uint8 image [H, W, 3]; raise ValueError describing the problem."""
    if not isinstance(rgb, np.ndarray):
        raise ValueError(f"expected a numpy array, got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {rgb.dtype}")
    if min(rgb.shape[:2]) < 16:
        raise ValueError(f"image too small for artifact detection: {rgb.shape[:2]}")
    return rgb


def to_work(rgb: np.ndarray) -> np.ndarray:
    """Downscale so the longer side is at most WORK_SIZE (no-op for small images)."""
    h, w = rgb.shape[:2]
    s = WORK_SIZE / max(h, w)
    if s >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def mask_to(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resize a bool mask to ``shape[:2]`` (nearest neighbour)."""
    h, w = shape[:2]
    if mask.shape == (h, w):
        return mask
    return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def at_work_size(fn: Callable[[np.ndarray], tuple[float, np.ndarray]]) -> Detector:
    """Wrap a detector written for <= WORK_SIZE images so it accepts any size and checks its input."""

    def run(rgb: np.ndarray) -> tuple[float, np.ndarray]:
        rgb = check_rgb(rgb)
        score, mask = fn(to_work(rgb))
        return float(score), mask_to(mask, rgb.shape)

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    run.__wrapped__ = fn  # type: ignore[attr-defined]
    return run


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Gray level (uint8) as OpenCV computes it from RGB."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def radius_map(h: int, w: int) -> np.ndarray:
    """Distance of each pixel from the image centre, in units of half the shorter side."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    return np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) / (min(h, w) / 2)


def border_connected(mask: np.ndarray) -> np.ndarray:
    """The parts of a bool mask that are connected to the image border (8-connectivity)."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, dtype=bool)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    keep = np.zeros(n, dtype=bool)
    keep[np.unique(edge)] = True
    keep[0] = False
    return keep[labels]


def ellipse(size: int) -> np.ndarray:
    """An elliptical structuring element of odd ``size``."""
    size = max(3, size | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def scaled(px: float, shape: tuple[int, ...]) -> int:
    """A length given for a 256 px image, scaled to this image's shorter side (at least 1)."""
    return max(1, round(px * min(shape[:2]) / 256))
