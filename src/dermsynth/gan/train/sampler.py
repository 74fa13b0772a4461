"""Infinite, resumable data order for GAN training (docs/architecture.md R6; cf. edm2 ``InfiniteSampler``).

The global stream of training images is a function of ``(seed, position)`` only: position ``i`` falls
in epoch ``i // n`` whose order is a permutation drawn from ``rng(seed, "sampler", epoch)``. A batch is
the slice ``[start, start + batch)`` of that stream and rank r of R takes its r-th contiguous part, so
image N of a run is the same whatever the batch split or GPU count, and a resumed run continues at the
image count it had reached.
"""

from __future__ import annotations

import numpy as np

from dermsynth.core.seeding import rng


class InfiniteSampler:
    """Indices into a dataset of ``n`` items, shuffled per epoch, addressed by global image position."""

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True):
        if n <= 0:
            raise ValueError("cannot sample from an empty dataset")
        self.n, self.seed, self.shuffle = int(n), int(seed), shuffle
        self._epoch = -1
        self._perm = np.arange(self.n)

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return self._perm
        if epoch != self._epoch:
            self._perm = rng(self.seed, "sampler", epoch).permutation(self.n)
            self._epoch = epoch
        return self._perm

    def indices(self, start: int, count: int) -> np.ndarray:
        """Dataset indices of global stream positions ``start .. start + count - 1``."""
        out = np.empty(count, dtype=np.int64)
        for k in range(count):
            pos = start + k
            out[k] = self._order(pos // self.n)[pos % self.n]
        return out

    def rank_indices(self, start: int, batch: int, rank: int, world: int) -> np.ndarray:
        """This rank's part of the global batch that begins at ``start``."""
        if batch % world:
            raise ValueError(f"batch {batch} is not divisible by the number of processes {world}")
        per = batch // world
        return self.indices(start + rank * per, per)
