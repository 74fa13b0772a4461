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

- **JPEG ghosts** (compression history; Farid 2009): the error of re-saving the image as JPEG at
  qualities 50-90 (4:2:0 and 4:4:4), and the curve's shape.
- **Band spectrum** (what a quantiser or resampler removed, band by band): the log power of Y, Cb
  and Cr in eight radial frequency bands, relative to the channel's total.

Issue 25.2 measured why the last two are needed: ISIC halves, one saved once as JPEG quality 85 / 75
(4:2:0) at twice the stimulus size, then the chain: a forest on ghost features told them apart at
0.945 / 0.975 (200 stimuli, 64 px), while the first three families saw nothing and the leak check
passed (benchmarks/survey_history_attack.py).

Each function takes an RGB uint8 array [H, W, 3] and returns floats; :func:`pixel_features` returns
all of them keyed by ``PIXEL_FEATURES``.
"""

from __future__ import annotations

import numpy as np

BASE_FEATURES = [
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


#: Qualities at which :func:`ghost_curve` re-saves an image (JPEG ghosts; Farid 2009).
GHOST_QUALITIES = (50, 60, 70, 75, 80, 85, 90)


def _resave_error(rgb: np.ndarray, quality: int, subsampling: int) -> float:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, subsampling=subsampling)
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.float64)
    return float(((back - rgb.astype(np.float64)) ** 2).mean())


def ghost_curve(rgb: np.ndarray) -> dict[str, float]:
    """JPEG ghosts (H. Farid, "Exposing digital forgeries from JPEG ghosts", IEEE TIFS 2009): the mean
    squared error of re-saving the image as JPEG at each of :data:`GHOST_QUALITIES` (4:2:0 and 4:4:4).
    An image once compressed at quality q (or otherwise stripped of detail) changes less when re-saved
    near q: the shape of the curve carries its history. Returned as the log error per quality and
    the curve's shape (each log error minus their mean: free of how detailed the lesion is)."""
    out = {}
    for sub, tag in ((2, "420"), (0, "444")):
        errs = np.log([_resave_error(rgb, q, sub) + 1e-6 for q in GHOST_QUALITIES])
        for q, e in zip(GHOST_QUALITIES, errs, strict=True):
            out[f"ghost{tag}_q{q}"] = float(e)
            out[f"ghost{tag}_shape_q{q}"] = float(e - errs.mean())
    return out


def ycbcr(rgb: np.ndarray) -> np.ndarray:
    """JPEG's YCbCr (ITU-R BT.601, full range) [H, W, 3] float64."""
    x = rgb.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return np.stack(
        [y, 128 - 0.168736 * r - 0.331264 * g + 0.5 * b, 128 + 0.5 * r - 0.418688 * g - 0.081312 * b], -1
    )


#: Radial frequency bands (cycles/px) of :func:`band_spectrum`.
BANDS = (0.0, 0.0625, 0.125, 0.1875, 0.25, 0.3125, 0.375, 0.4375, 0.5)


def band_spectrum(rgb: np.ndarray) -> dict[str, float]:
    """Log power of each YCbCr channel in radial bands (:data:`BANDS`), relative to the channel's
    total: the frequency-by-frequency loss a JPEG quantiser or a resampler leaves."""
    out = {}
    ycc = ycbcr(rgb)
    h, w = rgb.shape[:2]
    win = np.outer(np.hanning(h), np.hanning(w))
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    r = np.sqrt(fx**2 + fy**2)
    for c, name in enumerate(("y", "cb", "cr")):
        ch = ycc[..., c]
        p = np.abs(np.fft.fft2((ch - ch.mean()) * win)) ** 2
        total = p.sum() + 1e-9
        for lo, hi in zip(BANDS[:-1], BANDS[1:], strict=True):
            out[f"band_{name}_{lo:.3f}"] = float(np.log(p[(r >= lo) & (r < hi)].sum() / total + 1e-12))
    return out


#: Names of :func:`ghost_curve` and :func:`band_spectrum` features, in order.
GHOST_FEATURES = [
    f"ghost{tag}{kind}_q{q}" for tag in ("420", "444") for kind in ("", "_shape") for q in GHOST_QUALITIES
]
BAND_FEATURES = [f"band_{c}_{lo:.3f}" for c in ("y", "cb", "cr") for lo in BANDS[:-1]]
PIXEL_FEATURES = BASE_FEATURES + GHOST_FEATURES + BAND_FEATURES


def pixel_features(rgb: np.ndarray) -> dict[str, float]:
    """All pixel-level forensic features of one RGB uint8 image (keys: :data:`PIXEL_FEATURES`)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {rgb.shape}")
    y = luminance(rgb)
    return {**blockiness(y), **hf_spectrum(y), **noise_residual(y), **ghost_curve(rgb), **band_spectrum(rgb)}


def attack_features(rgb: np.ndarray) -> np.ndarray:
    """What an informed attacker measures (benchmarks/survey_history_attack.py), as one vector: every
    feature of :func:`pixel_features`."""
    f = pixel_features(rgb)
    return np.array([f[k] for k in PIXEL_FEATURES], dtype=np.float64)
