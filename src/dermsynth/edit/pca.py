"""Principal components of W (GANSpace).

Härkönen et al., "GANSpace: Discovering Interpretable GAN Controls", NeurIPS 2020: sample many w =
mapping(z) and take the principal axes of their distribution as edit directions. The covariance is
accumulated in float64 over batches, so 100k samples need no more memory than one batch; for a
conditional network the samples come from one class (``class_idx``) or, for a global PCA, from all
classes in equal turns.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dermsynth.edit.directions import Directions, fix_signs


class CovarianceAccumulator:
    """Running sum and scatter of row vectors; :meth:`pca` gives components and variances."""

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.sum = np.zeros(dim)
        self.scatter = np.zeros((dim, dim))

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        self.n += len(x)
        self.sum += x.sum(0)
        self.scatter += x.T @ x

    def pca(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(components [d, d] unit rows by decreasing variance, explained variance [d], mean [d])."""
        if self.n < 2:
            raise ValueError(f"PCA needs at least 2 samples, got {self.n}")
        mean = self.sum / self.n
        cov = (self.scatter - self.n * np.outer(mean, mean)) / (self.n - 1)
        values, vectors = np.linalg.eigh((cov + cov.T) / 2)
        order = np.argsort(values)[::-1]
        return fix_signs(vectors[:, order].T), np.clip(values[order], 0, None), mean


def pca_directions(
    batches: Iterable[np.ndarray],
    k: int | None = None,
    meta: dict | None = None,
    layers: list[int] | None = None,
) -> Directions:
    """PCA of the w vectors in ``batches`` (each [n, w_dim]) as a :class:`Directions`."""
    acc: CovarianceAccumulator | None = None
    for x in batches:
        acc = acc or CovarianceAccumulator(x.shape[1])
        acc.update(x)
    if acc is None:
        raise ValueError("PCA got no samples")
    comps, var, mean = acc.pca()
    ratio = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    if k is not None:
        comps, var, ratio = comps[:k], var[:k], ratio[:k]
    meta = dict(meta or {}, num_samples=acc.n)
    return Directions(
        comps, var, layers or [], "pca", meta, extra={"mean": mean, "explained_variance_ratio": ratio}
    )


def sample_w_batches(
    G, num: int, class_idx: int | None, batch_size: int = 1024, device: str = "cpu", seed_offset: int = 0
):
    """Yield w [n, w_dim] (numpy) for seeds ``seed_offset .. seed_offset+num-1`` (psi 1).

    Conditional G: class ``class_idx`` for all, or classes in turn (seed i -> class i % c_dim) when None.
    """
    from dermsynth.edit.sampling import map_seeds

    c_dim = int(getattr(G, "c_dim", 0))
    for start in range(seed_offset, seed_offset + num, batch_size):
        seeds = np.arange(start, min(start + batch_size, seed_offset + num))
        labels = None if c_dim == 0 else (class_idx if class_idx is not None else seeds % c_dim)
        yield map_seeds(G, seeds.tolist(), labels, 1.0, batch_size, device)[:, 0].numpy()


def pca_of_generator(
    G,
    num: int = 100_000,
    class_idx: int | None = None,
    k: int | None = None,
    batch_size: int = 1024,
    device: str = "cpu",
) -> Directions:
    """GANSpace PCA of ``num`` sampled w of ``G`` (one class or all classes)."""
    if num < 2:
        raise ValueError(f"--num must be at least 2, got {num}")
    meta = {
        "num": num,
        "class": class_idx,
        "scope": "global" if class_idx is None else "class",
        "truncation_psi": 1.0,
    }
    return pca_directions(
        sample_w_batches(G, num, class_idx, batch_size, device), k, meta, list(range(G.num_ws))
    )
