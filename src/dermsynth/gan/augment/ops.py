"""Building blocks of the ADA augmentation pipe: batched 2-D/3-D homogeneous transform matrices.

Reference: Karras et al., "Training Generative Adversarial Networks with Limited Data" (NeurIPS 2020),
Appendix B (the 18 transformations and how they are composed). Everything here is written from the
paper's description; nothing is taken from NVIDIA's code.

Geometric matrices act on homogeneous pixel coordinates ``[x, y, 1]`` measured from the image centre
(shape ``[N, 3, 3]``); colour matrices act on homogeneous ``[r, g, b, 1]`` (shape ``[N, 4, 4]``).
All matrices are built from tensors, so gradients flow and the whole batch is handled at once.
"""

from __future__ import annotations

import math

import torch


def _eye(n: int, batch: int, device, dtype=torch.float32) -> torch.Tensor:
    return torch.eye(n, device=device, dtype=dtype).expand(batch, n, n).clone()


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    """[N, 3, 3] translation by (tx, ty) pixels."""
    m = _eye(3, tx.shape[0], tx.device, tx.dtype)
    m[:, 0, 2] = tx
    m[:, 1, 2] = ty
    return m


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    """[N, 3, 3] axis-aligned scaling."""
    m = _eye(3, sx.shape[0], sx.device, sx.dtype)
    m[:, 0, 0] = sx
    m[:, 1, 1] = sy
    return m


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    """[N, 3, 3] rotation by ``theta`` radians (counter-clockwise in x-right, y-down pixel axes)."""
    m = _eye(3, theta.shape[0], theta.device, theta.dtype)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0] = c
    m[:, 0, 1] = -s
    m[:, 1, 0] = s
    m[:, 1, 1] = c
    return m


def translate2d_const(tx: float, ty: float, device) -> torch.Tensor:
    """[3, 3] translation by constant (tx, ty) pixels."""
    return torch.tensor([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]], device=device)


def scale2d_const(sx: float, sy: float, device) -> torch.Tensor:
    """[3, 3] constant axis-aligned scaling."""
    return torch.tensor([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]], device=device)


def embed3(m: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] -> [..., 4, 4]: a linear colour map as a homogeneous matrix with a zero last row/column."""
    return torch.nn.functional.pad(m, (0, 1, 0, 1))


def translate3d(t: torch.Tensor) -> torch.Tensor:
    """[N, 4, 4] colour offset ``t`` ([N, 3]) added to r, g, b."""
    m = _eye(4, t.shape[0], t.device, t.dtype)
    m[:, :3, 3] = t
    return m


def scale3d(s: torch.Tensor) -> torch.Tensor:
    """[N, 4, 4] per-channel colour gain ``s`` ([N, 3])."""
    m = _eye(4, s.shape[0], s.device, s.dtype)
    m[:, 0, 0] = s[:, 0]
    m[:, 1, 1] = s[:, 1]
    m[:, 2, 2] = s[:, 2]
    return m


def rotate3d(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """[N, 4, 4] rotation of colour space by ``theta`` about the unit vector ``axis`` ([3]) (Rodrigues)."""
    n = theta.shape[0]
    ax = axis.to(theta.dtype)
    k = torch.zeros(3, 3, device=theta.device, dtype=theta.dtype)  # cross-product matrix of the axis
    k[0, 1], k[0, 2] = -ax[2], ax[1]
    k[1, 0], k[1, 2] = ax[2], -ax[0]
    k[2, 0], k[2, 1] = -ax[1], ax[0]
    s = torch.sin(theta).view(n, 1, 1)
    c = torch.cos(theta).view(n, 1, 1)
    r = torch.eye(3, device=theta.device, dtype=theta.dtype) + s * k + (1 - c) * (k @ k)
    m = _eye(4, n, theta.device, theta.dtype)
    m[:, :3, :3] = r
    return m


def luma_axis(device, dtype=torch.float32) -> torch.Tensor:
    """The grey axis of RGB space, ``[1, 1, 1] / sqrt(3)`` (the paper's luma axis ``v``)."""
    return torch.full((3,), 1.0 / math.sqrt(3.0), device=device, dtype=dtype)


def pixel_to_normalized(m_pix: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Express a centred-pixel-coordinate matrix in ``grid_sample``'s [-1, 1] coordinates.

    ``grid_sample(align_corners=False)`` maps x_norm = x_pix / (W / 2) for centred pixel coordinates,
    so ``M_norm = S^-1 M_pix S`` with ``S = diag(W/2, H/2, 1)``.
    """
    s = torch.tensor([width / 2, height / 2, 1.0], device=m_pix.device, dtype=m_pix.dtype)
    return m_pix * s.view(1, 1, 3) / s.view(1, 3, 1)
