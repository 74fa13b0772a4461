"""Perceptual path length in W with end-point sampling: StyleGAN2-ADA's ``ppl2_wend``.

Karras et al. 2020 (StyleGAN2, sec. 3.2 / appendix B) and the StyleGAN2-ADA metric ``ppl2_wend``:
w0, w1 = mapping(z0, c), mapping(z1, c) (psi = 1); t = 0 (end points); images of lerp(w0, w1, t) and
lerp(w0, w1, t + eps), eps = 1e-4, noise 'const'; no crop (``ppl2_wend``; the older ``ppl_wend`` of
face models crops rows 3/8..7/8, columns 2/8..6/8, ``crop=True`` here); box
downsampling by img_resolution // 256 when > 1; distance LPIPS-VGG16; PPL = mean of d / eps^2 over the samples
between the 1st ("lower") and 99th ("higher") percentiles. Conditional generators: c drawn from the
real label distribution (overall) or fixed (per class). Sample i uses seeds derived from (seed, i), so
results do not depend on batch size or the number of ranks.

``feature_distance`` replaces LPIPS with the squared L2 distance of another extractor's features
(e.g. effnet-lite), an offline stand-in named ``ppl<count>_wend_<space>`` (registry.py): not comparable
with published PPL values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from dermsynth.core.seeding import derive_seed
from dermsynth.metrics.generator import one_hot


def crop_and_scale(img: torch.Tensor, crop: bool = True, resolution: int | None = None) -> torch.Tensor:
    """[-1, 1] NCHW -> centre crop -> box downsampling by resolution // 256 (as official) -> [0, 255]."""
    if crop:
        if img.shape[2] != img.shape[3]:
            raise ValueError(f"PPL crop needs square images, got {tuple(img.shape[2:])}")
        c = img.shape[2] // 8
        img = img[:, :, c * 3 : c * 7, c * 2 : c * 6]
    factor = (resolution or img.shape[3]) // 256
    if factor > 1:
        img = torch.nn.functional.avg_pool2d(img, factor)
    return (img + 1) * (255 / 2)


def lpips_distance(lpips_net) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Distance on [0, 255] images from an LPIPSVGG16 (which takes [-1, 1])."""
    return lambda a, b: lpips_net(a / 127.5 - 1, b / 127.5 - 1)


def feature_distance(extractor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Squared L2 distance between an extractor's features of [0, 255] float images."""
    return lambda a, b: (extractor.forward_float(a) - extractor.forward_float(b)).square().sum(1)


def _synthesis(G, ws: torch.Tensor) -> torch.Tensor:
    """G.synthesis with noise 'const' and, where the generator supports it, force_fp32 (as official)."""
    import inspect

    params = inspect.signature(
        G.synthesis.forward if hasattr(G.synthesis, "forward") else G.synthesis
    ).parameters
    if "force_fp32" in params:
        return G.synthesis(ws, noise_mode="const", force_fp32=True)
    return G.synthesis(ws, noise_mode="const")


@torch.no_grad()
def path_lengths(
    G,
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    indices,
    labels=None,
    epsilon: float = 1e-4,
    crop: bool = True,
    batch_size: int = 16,
    device="cpu",
    seed: int = 0,
) -> np.ndarray:
    """d / eps^2 for sample indices ``indices`` (per-sample seeds; labels per index or None).

    Runs in float32, or in float64 when G's parameters are float64 (then the distance should be too):
    d / eps^2 divides a difference of nearly equal images by eps^2, which amplifies rounding error by
    about 1 / eps, so float64 is how to check the arithmetic at the official eps = 1e-4.
    """
    indices = np.asarray(indices, dtype=np.int64)
    p = next(iter(G.parameters()), None) if hasattr(G, "parameters") else None
    dtype = torch.float64 if p is not None and p.dtype == torch.float64 else torch.float32
    out = []
    for i in range(0, len(indices), batch_size):
        idx = indices[i : i + batch_size]
        z = np.stack(
            [np.random.RandomState(derive_seed("ppl", seed, int(j)) % 2**32).randn(2, G.z_dim) for j in idx]
        )
        z = torch.from_numpy(z).to(device, dtype)
        lab = np.zeros(len(idx), int) if labels is None else np.asarray(labels)[i : i + batch_size]
        c = one_hot(lab, G.c_dim, device).to(dtype)
        w = G.mapping(torch.cat([z[:, 0], z[:, 1]]), torch.cat([c, c]), truncation_psi=1)
        w0, w1 = w.chunk(2)
        wt1 = w0.lerp(w1, epsilon)
        img = _synthesis(G, torch.cat([w0, wt1])).to(dtype)  # fp16 blocks -> float32 (as official)
        img = crop_and_scale(img, crop, getattr(G, "img_resolution", None))
        a, b = img.chunk(2)
        out.append((distance(a, b).double() / epsilon**2).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def aggregate(dist: np.ndarray) -> float:
    """Mean of the distances between the 1st (lower) and 99th (higher) percentiles."""
    if len(dist) == 0:
        raise ValueError("PPL needs at least one sample")
    lo = np.percentile(dist, 1, method="lower")
    hi = np.percentile(dist, 99, method="higher")
    return float(dist[(lo <= dist) & (dist <= hi)].mean())
