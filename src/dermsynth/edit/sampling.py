"""Seeds -> z -> w -> images, batched, with image i of seed s independent of the batch size.

z of seed s is ``numpy.random.RandomState(s).randn(z_dim)``, the convention of the official
StyleGAN2-ADA ``generate.py``, so seeds name the same samples as there. Images use the official
conversion ``clamp(x * 127.5 + 128, 0, 255)`` to uint8 [N, H, W, 3].
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch


def seed_z(seeds: Sequence[int], z_dim: int) -> np.ndarray:
    """z [N, z_dim] float32, one RandomState per seed."""
    return np.stack([np.random.RandomState(int(s) % (1 << 32)).randn(z_dim) for s in seeds]).astype(
        np.float32
    )


def class_labels(G, class_idx: int | Sequence[int] | None, n: int) -> np.ndarray | None:
    """Per-sample class indices (None for an unconditional G); error if a conditional G lacks one."""
    c_dim = int(getattr(G, "c_dim", 0))
    if c_dim == 0:
        return None
    if class_idx is None:
        raise ValueError(f"the network is conditional ({c_dim} classes): give a class")
    labels = np.broadcast_to(np.asarray(class_idx, dtype=np.int64), (n,)).copy()
    if labels.min() < 0 or labels.max() >= c_dim:
        raise ValueError(f"class index out of range 0-{c_dim - 1}")
    return labels


def one_hot(labels: np.ndarray | None, c_dim: int, n: int) -> torch.Tensor:
    c = torch.zeros(n, c_dim)
    if labels is not None and c_dim:
        c[torch.arange(n), torch.as_tensor(labels)] = 1
    return c


def _batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


@torch.no_grad()
def map_seeds(
    G,
    seeds: Sequence[int],
    class_idx: int | Sequence[int] | None = None,
    truncation_psi: float = 1.0,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """ws [N, num_ws, w_dim] (float32, CPU) for the seeds through ``G.mapping``."""
    seeds = list(seeds)
    z = seed_z(seeds, G.z_dim)
    labels = class_labels(G, class_idx, len(seeds))
    c = one_hot(labels, int(getattr(G, "c_dim", 0)), len(seeds))
    out = []
    for sl in _batches(len(seeds), batch_size):
        ws = G.mapping(torch.from_numpy(z[sl]).to(device), c[sl].to(device), truncation_psi=truncation_psi)
        out.append(ws.float().cpu())
    return torch.cat(out) if out else torch.zeros(0, G.num_ws, G.w_dim)


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[N, 3, H, W] in about [-1, 1] -> uint8 [N, H, W, 3] (official conversion)."""
    return (img.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def synthesize(
    G,
    ws: torch.Tensor,
    noise_mode: str = "const",
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """uint8 images [N, H, W, 3] from ws [N, num_ws, w_dim] through ``G.synthesis``."""
    out = [
        to_uint8(G.synthesis(ws[sl].to(device), noise_mode=noise_mode))
        for sl in _batches(len(ws), batch_size)
    ]
    if not out:
        r = int(G.img_resolution)
        return np.zeros((0, r, r, 3), np.uint8)
    return np.concatenate(out)
