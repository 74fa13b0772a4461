"""Frechet distance between Gaussians fitted to feature sets (FID; Heusel et al. 2017, eq. 6).

    FID = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))

Statistics follow TTUR / pytorch-fid / torch-fidelity: mean and the unbiased covariance
(``np.cov``, ddof=1) in float64. StyleGAN2-ADA divides by N instead (ddof=0); the difference is
O(1/N) and below 0.01 FID for 10k+ images. The trace of the matrix square root is computed from a
symmetric eigen-decomposition, tr((S1 S2)^(1/2)) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2))), which equals
scipy's ``sqrtm`` route (StyleGAN2-ADA) and torch-fidelity's ``eigvals`` route but is faster and
stays real; tests compare all three on the same features.

The one implementation: the metrics stage's FID (``dermsynth.metrics.frechet``) and the GAN training
loop's ``fd_simple`` (``dermsynth.gan.train.fd_simple``, which may not import the metrics stage) both
call it.
"""

from __future__ import annotations

import numpy as np


def feature_stats(features: np.ndarray, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] (float64) of features [N, D]."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need features [N>=2, D], got shape {x.shape}")
    mu = x.mean(axis=0)
    xc = x - mu
    sigma = xc.T @ xc / (x.shape[0] - ddof)
    return mu, sigma


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (negative round-off clipped)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Frechet distance between N(mu1, s1) and N(mu2, s2) (eq. 6 of Heusel et al. 2017)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(s1, np.float64), np.asarray(s2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def fid_from_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """FID between two feature sets [N1, D] and [N2, D].

    When both sets have fewer samples than dimensions the covariances are low rank and
    tr((S1 S2)^(1/2)) is the nuclear norm of X1c X2c^T / sqrt((N1-1)(N2-1)) (the non-zero eigenvalues
    of S1 S2 are the squared singular values of that N1 x N2 matrix): same value, far less work.
    """
    x1, x2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1] or min(len(x1), len(x2)) < 2:
        raise ValueError(f"need features [N>=2, D] of equal D, got {x1.shape} and {x2.shape}")
    if max(len(x1), len(x2)) >= x1.shape[1]:
        return frechet_distance(*feature_stats(x1), *feature_stats(x2))
    m1, m2 = x1.mean(0), x2.mean(0)
    c1, c2 = x1 - m1, x2 - m2
    n1, n2 = len(x1) - 1, len(x2) - 1
    nuclear = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / np.sqrt(n1 * n2)
    diff = m1 - m2
    return float(diff @ diff + (c1 * c1).sum() / n1 + (c2 * c2).sum() / n2 - 2 * nuclear)
