"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs", eq. 3 / appendix).

Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3, averaged over random
subsets: 100 subsets of 1000 images by default, the subset size clamped to the smaller set, as in
StyleGAN2-ADA (``kid50k_full``) and torch-fidelity. Subsets are drawn with
``np.random.RandomState(seed).choice`` from the first set then the second, in torch-fidelity's order,
so both give identical numbers on the same features and seed.
"""

from __future__ import annotations

import numpy as np


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased MMD^2 between samples x [m, D] and y [m, D] with the polynomial kernel."""
    m, d = x.shape
    if y.shape != (m, d) or m < 2:
        raise ValueError(f"need two subsets of equal shape [m>=2, D], got {x.shape} and {y.shape}")
    kxx = (x @ x.T / d + coef0) ** degree
    kyy = (y @ y.T / d + coef0) ** degree
    kxy = (x @ y.T / d + coef0) ** degree
    off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(off - 2 * kxy.sum() / (m * m))


def kernel_inception_distance(
    f1: np.ndarray,
    f2: np.ndarray,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 2020,
) -> tuple[float, float]:
    """KID (mean, std over subsets) between feature sets [N1, D] and [N2, D]."""
    f1 = np.asarray(f1, dtype=np.float64)
    f2 = np.asarray(f2, dtype=np.float64)
    m = min(len(f1), len(f2), max_subset_size)
    if m < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(f1)} and {len(f2)}")
    rng = np.random.RandomState(seed)
    mmds = np.empty(num_subsets)
    for i in range(num_subsets):
        a = f1[rng.choice(len(f1), m, replace=False)]
        b = f2[rng.choice(len(f2), m, replace=False)]
        mmds[i] = polynomial_mmd2(a, b)
    return float(mmds.mean()), float(mmds.std())
