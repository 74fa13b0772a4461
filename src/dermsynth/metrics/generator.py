"""Images from a generator for metrics: loads through the gan stage, quantises like the official code.

Interface used (dermsynth.gan): ``checkpoint.load_generator(path)`` -> G with ``G.mapping(z, c,
truncation_psi)``, ``G.synthesis(ws, noise_mode)``, ``z_dim``, ``c_dim``, ``num_ws``, ``img_resolution``;
``generate.generate_images(G, seeds, class_idx, truncation_psi, noise_mode, batch_size, device)`` yields
(seeds, uint8 NHWC, ws). Images come from the gan stage's ``generate_images``, so image N of seed S is
the very image ``dermsynth gan generate`` writes: z = RandomState(seed).randn(z_dim) (the official
generate.py convention), one-hot c, output in [-1, 1] quantised as x * 127.5 + 128 clamped to [0, 255].
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import torch


def load_network(path: str | os.PathLike):
    """The generator (G_ema) of a dermsynth network export or training snapshot."""
    try:
        from dermsynth.gan.checkpoint import load_generator
    except ImportError as e:
        raise ValueError(
            f"--network needs the gan stage (dermsynth.gan.checkpoint.load_generator): {e}"
        ) from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: network file not found")
    return load_generator(path)


def one_hot(labels, c_dim: int, device) -> torch.Tensor:
    """[N, c_dim] one-hot rows (zero-width for unconditional generators)."""
    labels = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
    if c_dim == 0:
        return torch.zeros(len(labels), 0, device=device)
    return torch.nn.functional.one_hot(labels, c_dim).float()


def generate(
    G,
    seeds,
    labels=None,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    batch_size: int = 32,
    device="cpu",
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (seeds, labels, uint8 [B, H, W, 3]) for every seed; ``labels`` per seed (None: unconditional)."""
    seeds = np.asarray(seeds, dtype=np.int64)
    labels = np.full(len(seeds), -1) if labels is None or G.c_dim == 0 else np.asarray(labels)
    from dermsynth.gan.generate import generate_images

    for c in np.unique(labels):
        sub = seeds[labels == c]
        cls = None if c < 0 else int(c)
        for s, imgs, _ws in generate_images(
            G, sub.tolist(), cls, truncation_psi, noise_mode, batch_size, device
        ):
            yield np.asarray(s), np.full(len(s), c), imgs


def sample_labels(real_labels: np.ndarray | None, n: int, c_dim: int, seed: int = 0) -> np.ndarray | None:
    """Classes for n generated images, drawn from the real label distribution (StyleGAN2-ADA's protocol)."""
    if c_dim == 0:
        return None
    r = np.random.default_rng(seed)
    if real_labels is not None and len(real_labels) and (real_labels >= 0).all():
        return r.choice(np.asarray(real_labels), size=n, replace=True)
    return r.integers(0, c_dim, size=n)
