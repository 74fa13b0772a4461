"""Improved precision and recall (Kynkaanniemi et al. 2019, NeurIPS, eq. 1-3).

Each set defines a manifold: the union of balls around its samples with radius the distance to the
k-th nearest neighbour in the same set (k = 3; the sample itself is the 0-th neighbour). Precision
is the fraction of generated samples inside the real manifold, recall the fraction of real samples
inside the generated manifold. Distances are computed in row chunks with ``torch.cdist`` so 50k x 50k
fits in memory on CPU or GPU; the result equals torch-fidelity's ``calculate_precision_recall_full``.
"""

from __future__ import annotations

import numpy as np


def _as_tensor(x, device):
    import torch

    return torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)


def knn_radii(feats, k: int = 3, chunk: int = 4096):
    """Distance of every row of ``feats`` [N, D] (torch) to its k-th nearest other row."""
    import torch

    if len(feats) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set, got {len(feats)}")
    out = [torch.cdist(part, feats).kthvalue(k + 1, dim=1).values for part in feats.split(chunk)]
    return torch.cat(out)


def _coverage(queries, refs, radii, chunk: int = 4096) -> float:
    """Fraction of ``queries`` inside at least one ball (refs[j], radii[j])."""
    import torch

    inside = [(torch.cdist(part, refs) <= radii[None, :]).any(dim=1) for part in queries.split(chunk)]
    return torch.cat(inside).float().mean().item()


def precision_recall(real, fake, k: int = 3, device: str = "cpu", chunk: int = 4096) -> tuple[float, float]:
    """(precision, recall) of generated features ``fake`` [Nf, D] against ``real`` [Nr, D]."""
    import torch

    with torch.no_grad():
        r, f = _as_tensor(real, device), _as_tensor(fake, device)
        precision = _coverage(f, r, knn_radii(r, k, chunk), chunk)
        recall = _coverage(r, f, knn_radii(f, k, chunk), chunk)
    return precision, recall
