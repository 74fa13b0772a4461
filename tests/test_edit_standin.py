"""Stand-in generators for the edit tests, and checks that they follow the generator interface.

``TinyG``: a small StyleGAN2-like generator with the official interface (``mapping(z, c,
truncation_psi)``, ``synthesis(ws, noise_mode)``, ``z_dim/c_dim/w_dim/num_ws/img_resolution``,
``mapping.w_avg``) and official affine names (``synthesis.b{R}.{conv0,conv1,torgb}.affine.weight``),
each affine reading the ws index of the official allocation. ``make_generator`` returns the
project's real ``tiny`` network when ``dermsynth.gan`` provides one.

``ToyFrameG``: a generator whose images have a dark frame when w . u > 0 and a lesion whose size
follows w . v, so that frame detection, SVM boundaries, until-clean and evaluation have a known
right answer.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dermsynth.edit.layers import style_affines


class _Mapping(nn.Module):
    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.embed = nn.Linear(c_dim, w_dim) if c_dim else None
        self.fc0 = nn.Linear(z_dim + (w_dim if c_dim else 0), w_dim)
        self.fc1 = nn.Linear(w_dim, w_dim)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None):
        x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        if self.embed is not None:
            y = self.embed(c.float())
            x = torch.cat([x, y * (y.square().mean(1, keepdim=True) + 1e-8).rsqrt()], 1)
        w = self.fc1(F.leaky_relu(self.fc0(x), 0.2))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cut] = self.w_avg.lerp(ws[:, :cut], truncation_psi)
        return ws


class _Layer(nn.Module):
    def __init__(self, w_dim: int, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, cin)
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k) / math.sqrt(cin * k * k))

    def forward(self, x, w):
        s = self.affine(w)[:, :, None, None] + 1
        return F.conv2d(x * s, self.weight, padding=self.weight.shape[-1] // 2)


class _Block(nn.Module):
    def __init__(self, w_dim: int, ch: int, first: bool) -> None:
        super().__init__()
        if not first:
            self.conv0 = _Layer(w_dim, ch, ch, 3)
        self.conv1 = _Layer(w_dim, ch, ch, 3)
        self.torgb = _Layer(w_dim, ch, 3, 1)
        self.num_conv = 1 if first else 2


class _Synthesis(nn.Module):
    def __init__(self, w_dim: int, res: int, ch: int) -> None:
        super().__init__()
        self.resolutions = [2**i for i in range(2, int(math.log2(res)) + 1)]
        self.const = nn.Parameter(torch.randn(ch, 4, 4))
        for r in self.resolutions:
            setattr(self, f"b{r}", _Block(w_dim, ch, r == 4))
        self.num_ws = sum(getattr(self, f"b{r}").num_conv for r in self.resolutions) + 1

    def forward(self, ws, noise_mode="const"):
        x = self.const.unsqueeze(0).repeat(len(ws), 1, 1, 1)
        img, i = None, 0
        for r in self.resolutions:
            b = getattr(self, f"b{r}")
            if r > 4:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
                x = F.leaky_relu(b.conv0(x, ws[:, i]), 0.2)
                i += 1
            x = F.leaky_relu(b.conv1(x, ws[:, i]), 0.2)
            i += 1
            y = b.torgb(x, ws[:, i])
            img = y if img is None else img + y
        return torch.tanh(img)


class TinyG(nn.Module):
    """StyleGAN2-shaped stand-in (skip architecture) with the official interface and names."""

    def __init__(
        self, c_dim: int = 2, res: int = 32, z_dim: int = 16, w_dim: int = 16, ch: int = 8, seed: int = 0
    ):
        super().__init__()
        torch.manual_seed(seed)
        self.z_dim, self.c_dim, self.w_dim, self.img_resolution = z_dim, c_dim, w_dim, res
        self.synthesis = _Synthesis(w_dim, res, ch)
        self.num_ws = self.synthesis.num_ws
        self.mapping = _Mapping(z_dim, c_dim, w_dim, self.num_ws)
        self.eval().requires_grad_(False)

    def forward(self, z, c, truncation_psi=1, noise_mode="const"):
        return self.synthesis(self.mapping(z, c, truncation_psi), noise_mode)


def make_generator(c_dim: int = 2, res: int = 32):
    """The project's ``tiny`` generator when ``dermsynth.gan`` has landed, else :class:`TinyG`."""
    try:
        from dermsynth.gan import build_networks
    except ImportError:
        return TinyG(c_dim=c_dim, res=res)
    torch.manual_seed(0)
    G, _ = build_networks("tiny", res, c_dim)
    return G.eval().requires_grad_(False)


class ToyFrameG(nn.Module):
    """Frame where w . u > frame_offset (darkness ~ sigmoid(4 (w . u - offset))); lesion radius follows w . v.

    ``frame_ws`` / ``lesion_ws`` say which ws index controls which, so layer-range edits matter.
    """

    def __init__(
        self, w_dim: int = 8, res: int = 32, c_dim: int = 0, seed: int = 0, frame_offset: float = 0.0
    ) -> None:
        super().__init__()
        self.frame_offset = frame_offset  # frames where w . u > frame_offset (rare when it is large)
        g = torch.Generator().manual_seed(seed)
        u, v = torch.randn(2, w_dim, generator=g)
        v = v - (v @ u) / (u @ u) * u
        self.register_buffer("u", u / u.norm())
        self.register_buffer("v", v / v.norm())
        self.z_dim = self.w_dim = w_dim
        self.c_dim, self.img_resolution, self.num_ws = c_dim, res, 2
        self.frame_ws, self.lesion_ws = 0, 1
        self.mapping = _ToyMapping(self.num_ws)
        yy, xx = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
        self.register_buffer("r", torch.hypot(yy - (res - 1) / 2, xx - (res - 1) / 2) / (res / 2))

    def synthesis(self, ws, noise_mode="const"):
        skin = torch.tensor([0.55, 0.15, 0.05]).view(1, 3, 1, 1)
        lesion = torch.tensor([-0.45, -0.65, -0.7]).view(1, 3, 1, 1)
        black = torch.full((1, 3, 1, 1), -0.95)
        fr = torch.sigmoid(4 * (ws[:, self.frame_ws] @ self.u - self.frame_offset)).view(-1, 1, 1, 1)
        rad = (0.35 + 0.15 * torch.tanh(ws[:, self.lesion_ws] @ self.v)).view(-1, 1, 1, 1)
        inside = torch.sigmoid((rad - self.r) * 40)
        img = skin + (lesion - skin) * inside
        corner = torch.sigmoid((self.r - 0.95) * 40)
        return img + (black - img) * corner * fr


class _ToyMapping(nn.Module):
    def __init__(self, num_ws: int) -> None:
        super().__init__()
        self.num_ws = num_ws
        self.register_buffer("w_avg", torch.zeros(1))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None):
        return (z * truncation_psi).unsqueeze(1).repeat(1, self.num_ws, 1)


def test_tiny_standin_affines_follow_official_ws_allocation():
    G = TinyG(c_dim=2, res=32)
    got = {a.name: a.ws_index for a in style_affines(G)}
    assert got == {
        "synthesis.b4.conv1.affine.weight": 0,
        "synthesis.b4.torgb.affine.weight": 1,
        "synthesis.b8.conv0.affine.weight": 1,
        "synthesis.b8.conv1.affine.weight": 2,
        "synthesis.b8.torgb.affine.weight": 3,
        "synthesis.b16.conv0.affine.weight": 3,
        "synthesis.b16.conv1.affine.weight": 4,
        "synthesis.b16.torgb.affine.weight": 5,
        "synthesis.b32.conv0.affine.weight": 5,
        "synthesis.b32.conv1.affine.weight": 6,
        "synthesis.b32.torgb.affine.weight": 7,
    }
    assert G.num_ws == 8
    ws = G.mapping(torch.randn(3, G.z_dim), torch.eye(2)[[0, 1, 0]])
    assert ws.shape == (3, 8, G.w_dim)
    assert G.synthesis(ws).shape == (3, 3, 32, 32)


def test_toy_frame_generator_frames_follow_u():
    from dermsynth.bias import detect
    from dermsynth.edit.sampling import to_uint8

    def dark_corner(img):
        return detect(img, ["dark_corner"])["dark_corner"]

    G = ToyFrameG()
    w = torch.stack([G.u * 2, -G.u * 2])
    imgs = to_uint8(G.synthesis(w.unsqueeze(1).repeat(1, 2, 1)))
    assert dark_corner(imgs[0]).present and not dark_corner(imgs[1]).present
    assert np.isfinite(imgs).all()
