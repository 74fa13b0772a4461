"""Procedural pigmented lesions whose class is learnable but not trivial.

The features follow the dermoscopic ABCD rule (Stolz et al. 1994; Nachbar et al., JAAD 1994): melanoma
is Asymmetric, has an irregular Border, several Colours (incl. black and blue-grey) and a larger
Diameter; a benign naevus is symmetric, regular and evenly brown. Each lesion draws a latent
malignancy score ``s`` from Beta(2, 5) (benign) or Beta(5, 2) (melanoma); every ABCD feature is a noisy
function of ``s``, so the classes overlap (the AUC of ``s`` itself is about 0.96, the AUC of what the
pixels show is lower) and a small classifier cannot reach 1.0.

The border is a polar curve ``r(theta) = r0 (1 + sum_k a_k cos(k theta - phi_k))`` perturbed by a smooth
2-D field: k = 2 is the (symmetric) ellipse, k = 1, 3 the asymmetry, k >= 4 the irregularity.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from dermsynth.data.phantom_skin import field, polar_grid

# name: (RGB, probability as a function of s: p = lo + hi * s ** power)
_EXTRA_COLOURS = {
    "dark_brown": (np.array([85, 48, 32], np.float32), 0.25, 0.55, 1.0),
    "black": (np.array([28, 20, 22], np.float32), 0.03, 0.75, 1.5),
    "blue_grey": (np.array([96, 108, 130], np.float32), 0.02, 0.65, 2.0),
    "regression_white": (np.array([205, 188, 192], np.float32), 0.0, 0.35, 2.0),
    "red": (np.array([170, 88, 82], np.float32), 0.04, 0.12, 1.0),
}


_STD_NORMAL = NormalDist()
_LUT = 2048  # angular samples of the border curve


@dataclass(frozen=True)
class LesionStats:
    """Generative parameters of one lesion (recorded in the manifest as ``lesion_*`` columns)."""

    malignancy: float
    radius: float
    asymmetry: float
    irregularity: float
    n_colours: int
    area: float


def _border_radius(rng: np.random.Generator, s: float, size: int) -> tuple[np.ndarray, float, float, float]:
    """Per-pixel border radius r(theta, x, y) [size, size], plus r0, asymmetry and irregularity."""
    xx, yy, _, _ = polar_grid(size)
    r0 = float(np.clip(0.30 + 0.28 * s + rng.normal(0, 0.07), 0.12, 0.8))
    ellipse = rng.uniform(0.0, 0.22)
    asym = float(s * rng.uniform(0.0, 0.16) + rng.uniform(0, 0.03))
    k_hi = np.arange(4, 17)
    amp_hi = (0.004 + 0.05 * s * rng.uniform(0.2, 1.3)) * k_hi**-0.8 * np.abs(rng.normal(1, 0.5, k_hi.size))
    warp = 0.02 + 0.12 * s * rng.uniform(0.3, 1.2)
    ks = np.concatenate([[1, 2, 3], k_hi])
    amps = np.concatenate([[asym * rng.uniform(0.3, 1)], [ellipse], [asym * rng.uniform(0.3, 1)], amp_hi])
    phases = rng.uniform(0, 2 * np.pi, ks.size)
    cx, cy = np.clip(rng.normal(0, 0.07, 2), -0.2, 0.2)
    # the border wave is a function of the angle only: evaluate it on a table and look it up per pixel
    lut_theta = np.linspace(-np.pi, np.pi, _LUT + 1)
    wave_lut = (amps[:, None] * np.cos(ks[:, None] * lut_theta[None, :] - phases[:, None])).sum(0)
    theta = np.arctan2(yy - cy, xx - cx)
    idx = np.rint((theta + np.pi) * (_LUT / (2 * np.pi))).astype(np.int32)
    wave = wave_lut.astype(np.float32)[idx]
    r = r0 * (1 + wave) * (1 + warp * field(rng, 10, size))
    rad = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    return rad / np.maximum(r, 1e-3), r0, asym, float(amp_hi.sum() + warp)


def render_lesion(
    rng: np.random.Generator, label: int, skin: np.ndarray, tex: np.ndarray
) -> tuple[np.ndarray, np.ndarray, LesionStats]:
    """Paint a lesion of class ``label`` (1 = melanoma-like) on ``skin`` [S, S, 3] float32.

    Returns the image (float32 0-255), the lesion mask (bool [S, S]) and the lesion's parameters.
    """
    size = skin.shape[0]
    s = float(rng.beta(5, 2) if label == 1 else rng.beta(2, 5))
    d, r0, asym, irreg = _border_radius(rng, s, size)
    edge_w = rng.uniform(0.04, 0.16) * (1 - 0.5 * s)
    alpha_edge = np.clip((1 - d) / edge_w, 0, 1)
    mask = alpha_edge >= 0.5
    # colour only the lesion's bounding box (fields are still drawn full-size: same stream, same look)
    ys, xs = np.nonzero(alpha_edge.any(1))[0], np.nonzero(alpha_edge.any(0))[0]
    box = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1)) if ys.size else (slice(0, 0), slice(0, 0))
    d_box = d[box]
    # base pigment: lighter brown for benign, darker for melanoma, with overlap
    t = float(np.clip(0.2 + 0.45 * s + rng.normal(0, 0.15), 0, 1))
    base = np.array([178, 122, 88], np.float32) * (1 - t) + np.array([112, 68, 46], np.float32) * t
    centre_dark = rng.uniform(0.0, 0.3)  # symmetric radial darkening (benign naevi)
    col = base[None, None, :] * (1 - centre_dark * np.clip(1 - d_box, 0, 1))[..., None]
    n_col = 1
    for rgb, lo, hi, power in _EXTRA_COLOURS.values():
        if rng.random() < lo + hi * s**power:
            n_col += 1
            cover = rng.uniform(0.08, 0.35 + 0.2 * s)
            thr = _STD_NORMAL.inv_cdf(1 - cover)  # field ~ N(0, 1): P(f > thr) ~ cover
            f = field(rng, int(rng.integers(4, 9)), size)[box]
            blot = np.clip((f - thr) / rng.uniform(0.3, 1.0), 0, 1) * rng.uniform(0.6, 0.95)
            col += (rgb[None, None, :] - col) * blot[..., None]
    if size >= 48:  # pigment network: a regular mesh for benign, distorted for melanoma
        xx, yy, _, _ = polar_grid(size)
        freq = rng.uniform(8, 14) * np.pi
        wx = xx[box] + s * 0.08 * field(rng, 6, size)[box]
        wy = yy[box] + s * 0.08 * field(rng, 6, size)[box]
        net = np.sqrt(np.abs(np.sin(freq * wx) * np.sin(freq * wy)))
        col *= (1 - rng.uniform(0.03, 0.10) * (1 - net) * min(1.0, size / 128))[..., None]
    col *= (1 + tex[box])[..., None]
    alpha = alpha_edge[box] * rng.uniform(0.8, 0.97)
    out = skin.copy()
    out[box] += (col - skin[box]) * alpha[..., None]
    stats = LesionStats(s, r0, asym, irreg, n_col, float(mask.mean()))
    return out, mask, stats
