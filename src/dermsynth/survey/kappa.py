"""Fleiss' kappa for agreement among many raters (Fleiss 1971, "Measuring nominal scale agreement
among many raters", Psychol. Bull. 76(5)); the formulas as in the Wikipedia article's worked example.

``table[i, j]`` = number of raters who put subject ``i`` in category ``j``; every row sums to the same
number of raters ``n``. P_i = (sum_j n_ij^2 - n) / (n (n - 1)), P_bar = mean_i P_i,
p_j = sum_i n_ij / (N n), P_e = sum_j p_j^2, kappa = (P_bar - P_e) / (1 - P_e).
"""

from __future__ import annotations

import numpy as np


def fleiss_kappa(table: np.ndarray) -> float:
    """Fleiss' kappa of a subjects x categories count table (nan when P_e = 1: a single category used)."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 2:
        raise ValueError(f"expected a subjects x categories table with >= 2 categories, got shape {t.shape}")
    if (t < 0).any():
        raise ValueError("counts must be non-negative")
    n = t.sum(axis=1)
    if not np.allclose(n, n[0]) or n[0] < 2:
        raise ValueError("every subject needs the same number (>= 2) of ratings")
    n = n[0]
    p_i = ((t**2).sum(axis=1) - n) / (n * (n - 1))
    p_bar = p_i.mean()
    p_j = t.sum(axis=0) / t.sum()
    p_e = float((p_j**2).sum())
    if np.isclose(p_e, 1.0):
        return float("nan")
    return float((p_bar - p_e) / (1 - p_e))


def count_table(ratings: np.ndarray, categories: list) -> np.ndarray:
    """subjects x raters matrix of category values -> subjects x categories count table."""
    r = np.asarray(ratings, dtype=object)
    return np.stack([(r == c).sum(axis=1) for c in categories], axis=1)
