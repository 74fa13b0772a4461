"""A domain-free training metric: Frechet distance on simple image statistics (``fd_simple``).

Features per image: the mean colour of each cell of a 4x4 grid (48 values), each channel's standard
deviation, and the energy of horizontal/vertical gradients at full and half resolution (6 + 6 values).
The Frechet distance between Gaussians fitted to real and generated features (Heusel et al. 2017,
Eq. 2 -- the FID formula on these features) falls as the generator's colours, layout and texture
approach the data's. It needs no pretrained network, so it runs anywhere. Every other snapshot metric
is named by the metrics stage's registry (``fid50k_full``, ``fid10k_effnetlite`` ...; docs/metrics.md)
and computed by its one driver through ``dermsynth.metrics.compute_for_training``. The Frechet
distance is the shared floor's (``dermsynth.core.frechet``, also behind the metrics stage's FID), so
the gan stage does not import the metrics stage.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dermsynth.core.frechet import fid_from_features

#: The feature space named in ``metric-fd_simple.jsonl`` rows (``features``).
FD_SIMPLE_FEATURES = "simple63"


def simple_features(img: torch.Tensor) -> torch.Tensor:
    """[N, 63] features (48 + 3 + 12) of NCHW images in [-1, 1] (3 channels; grey images are repeated)."""
    if img.shape[1] == 1:
        img = img.repeat(1, 3, 1, 1)
    img = img[:, :3].float()
    grid = F.adaptive_avg_pool2d(img, 4).flatten(1)  # [N, 48]
    std = img.flatten(2).std(dim=2)  # [N, 3]
    feats = [grid, std]
    for x in (img, F.avg_pool2d(img, 2)):
        dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(2, 3))
        dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(2, 3))
        feats += [dx, dy]
    return torch.cat(feats, dim=1)


def fd_simple(real_feats: torch.Tensor, fake_feats: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two [N, F] feature sets (unbiased covariances)."""
    return fid_from_features(real_feats.double().cpu().numpy(), fake_feats.double().cpu().numpy())
