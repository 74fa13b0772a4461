"""Label-free pixel statistics that reveal an image's processing history (used by :mod:`.leakcheck`).

A reader study is blind only if no statistic of the pixels that is blind to the lesion tells the
sources apart. Three families, each a classic forensic cue:

- **8x8 blockiness** (JPEG history; Fan & de Queiroz 2003, "Identification of bitmap compression
  history"): the mean absolute difference between neighbouring pixels, profiled along each axis,
  has peaks every 8 pixels where JPEG blocks meet. We take the DFT of that profile at the harmonics
  k/8 cycles/px (k = 1..4), which is independent of where the grid starts (a centre crop moves it)
  and also sees a grid halved to period 4 by a 2x downsampling.
- **High-frequency spectrum** (resampling history: bicubic upscaling leaves too little power near
  Nyquist, a missing anti-alias filter too much): share of the power of the windowed 2-D spectrum
  of the luminance beyond 1/4 and beyond 3/8 cycles/px.
- **Noise residual** (sensor noise vs. generator smoothness; Lukas, Fridrich & Goljan 2006):
  the luminance minus its 3x3 median, summarised by its standard deviation, its share of the image
  standard deviation and its kurtosis.

Each function takes an RGB uint8 array [H, W, 3] and returns floats; :func:`pixel_features` returns
all of them keyed by ``PIXEL_FEATURES``.
"""

from __future__ import annotations

import numpy as np

PIXEL_FEATURES = [
    "block8",
    "block4",
    "hf_power_quarter",
    "hf_power_3eighths",
    "noise_std",
    "noise_rel",
    "noise_kurtosis",
]


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma [H, W] float64 (what JPEG compresses in blocks)."""
    x = rgb.astype(np.float64)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def grid_harmonics(profile: np.ndarray) -> np.ndarray:
    """Amplitudes [4] of a diff profile at k/8 cycles/px, k = 1..4, relative to its mean (phase-free)."""
    p = profile - profile.mean()
    n = len(p)
    if n < 16:
        return np.zeros(4)
    j = np.arange(n)
    amp = [abs(np.sum(p * np.exp(-2j * np.pi * k * j / 8))) / n for k in (1, 2, 3, 4)]
    return np.asarray(amp) / (profile.mean() + 1e-9)


def blockiness(y: np.ndarray) -> dict[str, float]:
    """Periodic structure of neighbour differences, rows and columns summed: ``block8`` all harmonics
    of the 8 px grid (k = 1..4), ``block4`` those of a 4 px grid (k = 2, 4; a 2x-reduced JPEG grid)."""
    dh = np.abs(np.diff(y, axis=1)).mean(axis=0)  # [W-1]: one value per column boundary
    dv = np.abs(np.diff(y, axis=0)).mean(axis=1)  # [H-1]
    a = grid_harmonics(dh) + grid_harmonics(dv)
    return {"block8": float(a.sum()), "block4": float(a[1] + a[3])}


def hf_spectrum(y: np.ndarray) -> dict[str, float]:
    """Share of spectral power (Hann-windowed, mean removed) beyond 1/4 and 3/8 cycles per pixel."""
    h, w = y.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    f = np.fft.fftshift(np.abs(np.fft.fft2((y - y.mean()) * win)) ** 2)
    fy = np.fft.fftshift(np.fft.fftfreq(h))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(w))[None, :]
    r = np.sqrt(fx**2 + fy**2)
    total = f.sum() + 1e-12
    return {
        "hf_power_quarter": float(f[r > 0.25].sum() / total),
        "hf_power_3eighths": float(f[r > 0.375].sum() / total),
    }


def noise_residual(y: np.ndarray) -> dict[str, float]:
    """Statistics of the luminance minus its 3x3 median (border pixels left out)."""
    from scipy.ndimage import median_filter

    res = (y - median_filter(y, size=3, mode="reflect"))[1:-1, 1:-1]
    sd = float(res.std())
    kurt = float(((res - res.mean()) ** 4).mean() / (sd**4 + 1e-12)) if sd > 0 else 0.0
    return {"noise_std": sd, "noise_rel": sd / (float(y.std()) + 1e-9), "noise_kurtosis": kurt}


def pixel_features(rgb: np.ndarray) -> dict[str, float]:
    """All pixel-level forensic features of one RGB uint8 image."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {rgb.shape}")
    y = luminance(rgb)
    return {**blockiness(y), **hf_spectrum(y), **noise_residual(y)}
