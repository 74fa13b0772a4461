"""Conditional StyleGAN2-ADA in pure PyTorch: networks, presets, checkpoints, official import, generation.

Rooms: networks.py + ops.py + presets.py (the networks), checkpoint.py + official.py (files),
generate.py (images from a network), ``augment/`` (the ADA pipe), ``train/`` (the training loop;
``dermsynth.gan.train``). The command-line side is in cli/gan.py and cli/gan_train.py.

Public API: :func:`build_networks`, :func:`load_generator`, :func:`load_discriminator`,
:func:`load_networks`, :func:`save_network`, :func:`import_official`, :func:`generate_images`,
:func:`generate_dataset` (a synthetic dataset folder), :func:`cached_class_w_centers`.
Heavy imports happen on first use, never at package import.
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr

__all__ = [
    "build_networks",
    "get_preset",
    "GanPreset",
    "latest_snapshot",
    "load_generator",
    "load_discriminator",
    "load_networks",
    "save_network",
    "import_official",
    "export_official",
    "generate_images",
    "generate_dataset",
    "cached_class_w_centers",
]


def build_networks(
    cfg: str = "auto", res: int = 256, c_dim: int = 2, gpus: int = 1, img_channels: int = 3, **overrides
):
    """(G, D) for preset ``cfg`` at resolution ``res`` with ``c_dim`` classes (0 = unconditional).

    ``overrides`` are :class:`~dermsynth.gan.presets.GanPreset` fields (``map=8``,
    ``cbase=16384``, ``g_architecture='resnet'`` ...).
    """
    from dermsynth.gan.networks import Discriminator, Generator
    from dermsynth.gan.presets import get_preset, network_kwargs

    preset = get_preset(cfg, res=res, gpus=gpus, **overrides)
    g_kwargs, d_kwargs = network_kwargs(preset, res, c_dim, img_channels)
    return Generator(**g_kwargs), Discriminator(**d_kwargs)


__getattr__ = lazy_getattr(
    __name__,
    {
        "get_preset": "dermsynth.gan.presets",
        "GanPreset": "dermsynth.gan.presets",
        "load_generator": "dermsynth.gan.checkpoint",
        "latest_snapshot": "dermsynth.gan.checkpoint",
        "load_discriminator": "dermsynth.gan.checkpoint",
        "load_networks": "dermsynth.gan.checkpoint",
        "save_network": "dermsynth.gan.checkpoint",
        "import_official": "dermsynth.gan.official",
        "export_official": "dermsynth.gan.official",
        "generate_images": "dermsynth.gan.generate",
        "generate_dataset": "dermsynth.gan.generate",
        "cached_class_w_centers": "dermsynth.gan.generate",
    },
)
