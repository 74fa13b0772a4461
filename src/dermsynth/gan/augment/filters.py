"""Filters of the ADA pipe: the symlet-6 wavelet resampler and the 4-band image-space filter bank.

Reference: Karras et al., "Training Generative Adversarial Networks with Limited Data" (NeurIPS 2020),
Appendix B.2 (geometric transformations: pad with reflection, upsample 2x with the symlet-6 low-pass,
sample the composed matrix bilinearly, downsample 2x with the same low-pass) and Appendix B.3 (the
image-space filter bank: four octave bands from the 4-tap orthogonal wavelet, gains per band).
Written from the paper and the wavelet mathematics; no NVIDIA code is used.

Conventions. A 1-D signal upsampled 2x: ``y[n] = sum_i x[i] * 2 h[n + (L-2)/2 - 2 i]`` (length 2W,
sample ``2 i`` sits on input sample ``i``), ``h`` the low-pass normalised to sum 1 and ``L`` its length
(12 for symlet-6). Downsampled 2x: ``y[m] = sum_k z[2 m + k] h[k]`` (a correlation; with ``h`` in the
same orientation this is the adjoint of the upsampler, so up-then-down is the identity for an
orthogonal wavelet). Both are separable; the width axis is filtered first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Symlet-6 scaling (decomposition low-pass) filter, sum sqrt(2): Daubechies' least-asymmetric
#: wavelet with 6 vanishing moments (Daubechies 1992, "Ten Lectures on Wavelets", Sec. 8.1;
#: tabulated as ``sym6`` ``dec_lo`` in PyWavelets). tests/test_gan_augment.py checks its defining
#: properties (orthonormal to even shifts, 6 vanishing moments of the high-pass).
SYM6 = (
    0.015404109327027373,
    0.0034907120842174702,
    -0.11799011114819057,
    -0.048311742585633,
    0.4910559419267466,
    0.787641141030194,
    0.3379294217276218,
    -0.07263752278646252,
    -0.021060292512300564,
    0.04472490177066578,
    0.0017677118642428036,
    -0.007800708325034148,
)

#: Expected power of the four bands under a 1/f spectrum (App. B.3): the lowest band holds 10/13.
BAND_POWER = (10 / 13, 1 / 13, 1 / 13, 1 / 13)


def geom_lowpass(dtype=torch.float32) -> torch.Tensor:
    """[12] the symlet-6 low-pass normalised to unit DC gain (sum 1)."""
    h = torch.tensor(SYM6, dtype=torch.float32)
    return (h / h.sum()).to(dtype)


# ---------------------------------------------------------------------------------------------------
# 2x up/down-sampling with the wavelet low-pass (App. B.2).
# ---------------------------------------------------------------------------------------------------
def upsample2x(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, 2H, 2W]: zero insertion + filtering by 2h, as strided transpose convolutions
    (one depthwise group per image channel: 3x faster on CPU than a batch of 1-channel convolutions)."""
    n, c, hh, ww = x.shape
    taps, nc = h.numel(), n * c
    pad = (taps - 2) // 2
    k = (2 * h).to(x.dtype)
    y = x.reshape(1, nc, hh, ww)
    y = F.conv_transpose2d(
        y, k.view(1, 1, 1, taps).expand(nc, 1, 1, taps), stride=(1, 2), padding=(0, pad), groups=nc
    )
    y = F.conv_transpose2d(
        y, k.view(1, 1, taps, 1).expand(nc, 1, taps, 1), stride=(2, 1), padding=(pad, 0), groups=nc
    )
    return y.reshape(n, c, 2 * hh, 2 * ww)


def downsample2x(x: torch.Tensor, h: torch.Tensor, crop: int) -> torch.Tensor:
    """[N, C, H, W] -> ``crop`` samples off every side, then filter by h and keep every other sample."""
    n, c, hh, ww = x.shape
    taps, nc = h.numel(), n * c
    k = h.to(x.dtype)
    y = x.reshape(1, nc, hh, ww)[:, :, crop : hh - crop, crop : ww - crop]
    y = F.conv2d(y, k.view(1, 1, 1, taps).expand(nc, 1, 1, taps), stride=(1, 2), groups=nc)
    y = F.conv2d(y, k.view(1, 1, taps, 1).expand(nc, 1, taps, 1), stride=(2, 1), groups=nc)
    return y.reshape(n, c, y.shape[2], y.shape[3])


# ---------------------------------------------------------------------------------------------------
# Image-space filter bank (App. B.3).
# The 4-tap orthogonal wavelet h (Daubechies-2 = symlet-2) gives the half-band low-pass
# L(z) = H(z) H(1/z) / 2, which is the Deslauriers-Dubuc 4-point interpolation filter
# [-1, 0, 9, 16, 9, 0, -1] / 32; its complement 1 - L(z) = L(-z) is the half-band high-pass. The
# four bands are the undecimated ("a trous") octave decomposition:
#   band_3 = 1 - L(z)                                    pi/2 .. pi
#   band_2 = L(z) (1 - L(z^2))                           pi/4 .. pi/2
#   band_1 = L(z) L(z^2) (1 - L(z^4))                    pi/8 .. pi/4
#   band_0 = L(z) L(z^2) L(z^4)                          0 .. pi/8
# 43 symmetric taps each; the bands sum to a centred delta, so unit gains leave an image unchanged.
# ---------------------------------------------------------------------------------------------------
def halfband_lowpass() -> torch.Tensor:
    """[7] float64: L(z) = H(z) H(1/z) / 2 for the 4-tap Daubechies wavelet (exact rationals)."""
    return torch.tensor([-1.0, 0.0, 9.0, 16.0, 9.0, 0.0, -1.0], dtype=torch.float64) / 32


def _dilate(f: torch.Tensor, factor: int) -> torch.Tensor:
    """f(z) -> f(z^factor): ``factor - 1`` zeros between taps."""
    out = torch.zeros((f.numel() - 1) * factor + 1, dtype=f.dtype)
    out[::factor] = f
    return out


def _convolve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Full 1-D convolution (polynomial product) of two float64 vectors."""
    out = torch.zeros(a.numel() + b.numel() - 1, dtype=a.dtype)
    for i, v in enumerate(b.tolist()):
        out[i : i + a.numel()] += a * v
    return out


def _centre(f: torch.Tensor, length: int) -> torch.Tensor:
    pad = (length - f.numel()) // 2
    return F.pad(f, (pad, pad))


def octave_filter_bank(num_bands: int = 4) -> torch.Tensor:
    """[num_bands, taps] float32 band filters, lowest band first, summing to a centred delta."""
    lo = halfband_lowpass()
    delta = torch.zeros_like(lo)
    delta[lo.numel() // 2] = 1
    hi = delta - lo
    # cascade[k] = L(z) L(z^2) ... L(z^(2^(k-1))): the low-pass of k octaves (cascade[0] = delta)
    cascade = [torch.ones(1, dtype=torch.float64)]
    for k in range(num_bands - 1):
        cascade.append(_convolve(cascade[-1], _dilate(lo, 2**k)))
    bands = [cascade[-1]]
    for k in range(num_bands - 2, -1, -1):  # band for octave k+1 (counting from the top): cascade * hi
        bands.append(_convolve(cascade[k], _dilate(hi, 2**k)))
    taps = cascade[-1].numel()
    return torch.stack([_centre(b, taps) for b in bands]).to(torch.float32)


def filter_images(images: torch.Tensor, taps_per_image: torch.Tensor) -> torch.Tensor:
    """Separable filtering of each image by its own symmetric 1-D filter ([N, taps]), reflect padding.

    The official pipe pads by reflection, which needs images larger than half the filter (22 px for
    the 43-tap bank); smaller images are padded by replication instead (the official code errors).
    """
    n, c, h, w = images.shape
    taps = taps_per_image.shape[1]
    pad = taps // 2
    k = taps_per_image.to(images.dtype).repeat_interleave(c, dim=0)  # [N*C, taps]
    x = images.reshape(1, n * c, h, w)
    mode = "reflect" if pad < min(h, w) else "replicate"
    x = F.pad(x, [pad, pad, pad, pad], mode=mode)
    x = F.conv2d(x, k.view(n * c, 1, 1, taps), groups=n * c)
    x = F.conv2d(x, k.view(n * c, 1, taps, 1), groups=n * c)
    return x.reshape(n, c, h, w)
