"""Loading the networks an edit needs, through the gan stage's public functions.

``--network`` names an exported network (``NAME.safetensors`` + ``NAME.json``, see the gan stage).
SeFa needs only the style affine weights, so it also reads any safetensors file in the official key
layout (e.g. the StyleGAN2-ADA reference fixtures) without building a network.
"""

from __future__ import annotations

import os
from pathlib import Path

from dermsynth.edit.layers import StyleAffine, style_affines, style_affines_from_state_dict


def _resolve(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.exists():
        return p
    for suffix in (".safetensors", ".weights.safetensors"):
        q = p.with_name(p.name + suffix)
        if q.exists():
            return q
    raise FileNotFoundError(f"{p}: network file not found")


def load_generator(path: str | os.PathLike, device: str = "cpu"):
    """The generator (G_ema where the file has one) via ``dermsynth.gan.checkpoint.load_generator``."""
    from dermsynth.gan.checkpoint import load_generator as _load

    G = _load(_resolve(path))
    return G.eval().requires_grad_(False).to(device)


def load_discriminator(path: str | os.PathLike, device: str = "cpu"):
    """The discriminator of an exported network, or None when the file has none."""
    from dermsynth.gan.checkpoint import load_discriminator as _load

    p = _resolve(path)
    try:
        D = _load(p)
    except (KeyError, ValueError, FileNotFoundError):
        return None
    return D.eval().requires_grad_(False).to(device)


def load_affines(path: str | os.PathLike) -> list[StyleAffine]:
    """Style affines of a network file: read straight from safetensors, else from the loaded G."""
    p = _resolve(path)
    if p.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            state = load_file(str(p))
        except Exception as e:  # safetensors raises its own error types
            raise ValueError(f"{p}: not a readable safetensors file ({e})") from None
        try:
            return style_affines_from_state_dict(state)
        except ValueError as e:
            raise ValueError(f"{p}: {e}") from None
    return style_affines(load_generator(p))
