"""A cheaper variant of the ADA pipe: geometric transformations by one bicubic ``grid_sample``.

Reference: Karras et al. 2020 (ADA), Appendix B.2. Same transformations, same random draws and the
same colour, filter, noise and cutout steps as :class:`dermsynth.gan.augment.AugmentPipe`; only the
execution of the composed geometric matrix differs: one bicubic sampling of the original image with
reflection padding instead of pad + 2x wavelet upsampling + bilinear sampling + 2x downsampling.
It is faster but leaks: zooming out folds above-Nyquist energy back into the image (measured in
docs/gan_train.md with benchmarks/augment_speed.py). Opt-in with ``--augment-impl fast``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import dermsynth.gan.augment.ops as ops
from dermsynth.gan.augment.pipe import AugmentPipe


class FastAugmentPipe(AugmentPipe):
    """:class:`AugmentPipe` with a single bicubic resampling for the geometric transformations."""

    def _resample(self, images: torch.Tensor, g_inv: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        g_inv = g_inv.to(images.device, torch.float32).expand(n, 3, 3)
        theta = ops.pixel_to_normalized(g_inv, w, h)[:, :2, :].to(images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bicubic", padding_mode="reflection", align_corners=False)


#: ``--augment-impl`` -> pipe class.
AUGMENT_IMPLS: dict[str, type[AugmentPipe]] = {"faithful": AugmentPipe, "fast": FastAugmentPipe}


def make_augment_pipe(augpipe: str, impl: str = "faithful", p: float = 0.0) -> AugmentPipe:
    """The pipe ``--augpipe`` with ``--augment-impl`` (``faithful``: the official resampling; ``fast``)."""
    if impl not in AUGMENT_IMPLS:
        raise ValueError(f"unknown augment implementation {impl!r}; choose from {sorted(AUGMENT_IMPLS)}")
    return AUGMENT_IMPLS[impl].from_spec(augpipe, p=p)
