"""Tiny hand-made dermoscopy-like images for bias / clean tests (independent of the phantom generator).

Imported by the other test_bias_* / test_clean_* modules; its own tests check the generator.
"""

from __future__ import annotations

import cv2
import numpy as np


def skin(size: int = 256, seed: int = 0) -> np.ndarray:
    """Pinkish skin with mild texture and a brown lesion in the middle."""
    g = np.random.default_rng(seed)
    img = np.empty((size, size, 3), np.float32)
    img[:] = (222, 170, 150)
    img += cv2.GaussianBlur(g.normal(0, 6, (size, size, 1)).astype(np.float32), (0, 0), 2)[..., None]
    lesion = np.zeros((size, size), np.uint8)
    cv2.ellipse(lesion, (size // 2, size // 2), (size // 6, size // 8), 20, 0, 360, 1, -1)
    soft = cv2.GaussianBlur(lesion.astype(np.float32), (0, 0), size / 80)[..., None]
    img = img * (1 - soft) + np.array([120, 75, 50], np.float32) * soft
    return np.clip(img, 0, 255).astype(np.uint8)


def with_frame(img: np.ndarray, radius: float = 0.47) -> np.ndarray:
    """Black outside a centred circle (a dermoscope frame)."""
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (w // 2, h // 2), int(radius * min(h, w)), 1, -1)
    m = cv2.GaussianBlur(m.astype(np.float32), (0, 0), 1.5)[..., None]
    return (img * m).astype(np.uint8)


def with_hair(img: np.ndarray, n: int = 8, seed: int = 1) -> np.ndarray:
    """Dark thin curved hairs crossing the image."""
    g = np.random.default_rng(seed)
    out = img.copy()
    s = img.shape[0]
    for _ in range(n):
        p = g.uniform(0, s, (3, 2))
        t = np.linspace(0, 1, 40)[:, None]
        pts = ((1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t**2 * p[2]).astype(np.int32)
        cv2.polylines(out, [pts], False, (40, 30, 25), max(1, s // 128), cv2.LINE_AA)
    return out


def with_ruler(img: np.ndarray) -> np.ndarray:
    """A pale ruler strip along the bottom edge with regular dark ticks."""
    out = img.copy()
    s = img.shape[0]
    y0 = int(0.82 * s)
    cv2.rectangle(out, (int(0.1 * s), y0), (int(0.9 * s), int(0.93 * s)), (235, 230, 220), -1)
    cv2.line(out, (int(0.1 * s), y0), (int(0.9 * s), y0), (30, 30, 30), 1)
    for k, x in enumerate(range(int(0.12 * s), int(0.88 * s), max(3, s // 40))):
        length = s // 18 if k % 5 == 0 else s // 36
        cv2.line(out, (x, y0), (x, y0 + length), (30, 30, 30), 1)
    return out


def with_ink(img: np.ndarray) -> np.ndarray:
    """Violet surgical-marker strokes."""
    out = img.copy()
    s = img.shape[0]
    cv2.ellipse(
        out, (s // 2, s // 2), (int(0.38 * s), int(0.33 * s)), 0, 200, 320, (120, 60, 170), max(2, s // 40)
    )
    cv2.circle(out, (int(0.8 * s), int(0.2 * s)), max(2, s // 50), (110, 50, 160), -1)
    return out


def with_bubbles(img: np.ndarray, n: int = 10, seed: int = 2) -> np.ndarray:
    """Small bright gel bubbles: white rims with specular highlights."""
    g = np.random.default_rng(seed)
    out = img.copy()
    s = img.shape[0]
    for _ in range(n):
        c = tuple(int(v) for v in g.uniform(0.1 * s, 0.9 * s, 2))
        r = int(g.uniform(0.012, 0.025) * s) + 2
        cv2.circle(out, c, r, (250, 250, 250), 1, cv2.LINE_AA)
        cv2.circle(out, (c[0] - r // 3, c[1] - r // 3), max(1, r // 4), (255, 255, 255), -1)
    return out


def test_synthetic_frame_is_black_outside_circle():
    img = with_frame(skin(128))
    assert img[0, 0].max() == 0 and img[64, 64].min() >= 40  # the lesion centre


def test_synthetic_images_are_deterministic():
    assert np.array_equal(with_hair(skin(64, 3)), with_hair(skin(64, 3)))
