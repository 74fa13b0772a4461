"""DeLong test for correlated ROC AUCs, fast O(n log n) form.

DeLong, DeLong & Clarke-Pearson (1988), "Comparing the areas under two or more correlated receiver
operating characteristic curves: a nonparametric approach", Biometrics 44(3):837-845; computed with
midranks as in Sun & Xu (2014), "Fast implementation of DeLong's algorithm for comparing the areas
under correlated receiver operating characteristic curves", IEEE Signal Processing Letters 21(11).

For k score vectors over the same images, with m positives X and n negatives Y, the structural
components are  V10_r(X_i) = (1/n) sum_j psi(X_i, Y_j)  and  V01_r(Y_j) = (1/m) sum_i psi(X_i, Y_j),
psi = 1 if x > y, 1/2 if equal, else 0. Sun & Xu (eq. 8-10) get them from midranks:
  V10 = (Tz[:m] - Tx) / n,   V01 = 1 - (Tz[m:] - Ty) / m,
with Tx, Ty, Tz the midranks within positives, negatives and all images. Then
  S = S10 / m + S01 / n   (S10, S01 the k x k sample covariances of V10, V01),
and the paired test of AUC_a = AUC_b uses z = (AUC_a - AUC_b) / sqrt(S_aa + S_bb - 2 S_ab).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm, rankdata

from dermsynth.classify.metrics import check_binary


def structural_components(labels, scores_k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(aucs [k], V10 [k, m], V01 [k, n])`` for score rows ``scores_k`` [k, N] (Sun & Xu eq. 8-10)."""
    y = np.asarray(labels).astype(bool)
    s = np.atleast_2d(np.asarray(scores_k, dtype=np.float64))
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        raise ValueError(f"DeLong needs both classes; got {m} positive and {n} negative images")
    pos, neg = s[:, y], s[:, ~y]
    tx = rankdata(pos, axis=1)
    ty = rankdata(neg, axis=1)
    tz = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v10, v01


def delong_covariance(labels, scores_k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(aucs [k], S [k, k])``: the AUCs and DeLong's covariance matrix of their estimates."""
    aucs, v10, v01 = structural_components(labels, scores_k)
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(aucs), len(aucs)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(aucs), len(aucs)))
    return aucs, s10 / m + s01 / n


def delong_variance(labels, scores) -> tuple[float, float]:
    """``(auc, variance)`` of one classifier's AUC estimate."""
    y, s = check_binary(labels, scores)
    aucs, cov = delong_covariance(y, s[None])
    return float(aucs[0]), float(cov[0, 0])


def delong_ci(labels, scores, level: float = 0.95) -> tuple[float, float]:
    """Normal-approximation CI for the AUC from DeLong's variance, clipped to [0, 1]."""
    a, v = delong_variance(labels, scores)
    h = norm.ppf(0.5 + level / 2) * math.sqrt(max(v, 0.0))
    return max(0.0, a - h), min(1.0, a + h)


def delong_test(labels, scores_a, scores_b) -> dict[str, float]:
    """Paired two-sided DeLong test of AUC_a == AUC_b for two score vectors on the same images.

    Returns ``auc_a, auc_b, diff, se, z, p``. Identical (or perfectly rank-equal) classifiers have
    zero variance of the difference: ``z = 0, p = 1``.
    """
    y, a = check_binary(labels, scores_a)
    _, b = check_binary(labels, scores_b)
    aucs, cov = delong_covariance(y, np.stack([a, b]))
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if var <= 1e-15:
        z, p = (0.0, 1.0) if abs(diff) < 1e-12 else (math.copysign(math.inf, diff), 0.0)
        se = 0.0
    else:
        se = math.sqrt(var)
        z = diff / se
        p = float(2 * norm.sf(abs(z)))
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "diff": diff, "se": se, "z": z, "p": p}
