"""FID's Frechet distance (Heusel et al. 2017, eq. 6): the maths live in ``dermsynth.core.frechet``,
shared with the GAN training loop's ``fd_simple``; this module names them for the metrics stage."""

from __future__ import annotations

from dermsynth.core.frechet import feature_stats, fid_from_features, frechet_distance

__all__ = ["feature_stats", "fid_from_features", "frechet_distance"]
