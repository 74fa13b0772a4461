"""Adaptive discriminator augmentation (ADA): the differentiable augmentation pipe and the p heuristic.

Reference: Karras et al., "Training Generative Adversarial Networks with Limited Data" (NeurIPS 2020),
Sec. 2-3 and Appendix B. Written from the paper in pure PyTorch (no custom ops, no NVIDIA code).

Each transformation is applied to each image independently with probability ``p * strength``; ``p``
is a buffer so that it is saved with the module and moved with it between devices.

Groups, in the paper's order:
  blit   x-flip, 90-degree rotations, integer translation (up to 1/8 of the image)
  geom   isotropic scaling, rotation (pre and post), anisotropic scaling, fractional translation
  color  brightness, contrast, luma flip, hue rotation, saturation
  filter 4-band image-space filtering (gains drawn per band, power-normalised against a 1/f spectrum)
  noise  additive Gaussian noise;  cutout  a square of half the image size set to zero

Geometric transformations (blit + geom) are composed into one inverse affine matrix per image and
applied with a single ``grid_sample`` call: bicubic interpolation, reflection padding. The official
implementation instead upsamples 2x with a wavelet filter before sampling; we trade that anti-aliasing
for one fused resampling step (blit-only transforms land exactly on pixel centres, so they stay
lossless). Documented in docs/gan_train.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dermsynth.gan import augment_ops as ops

#: Strengths of each transformation per named pipeline (paper App. B, Fig. 4 pipelines).
_BLIT = {"xflip": 1.0, "rotate90": 1.0, "xint": 1.0}
_GEOM = {"scale": 1.0, "rotate": 1.0, "aniso": 1.0, "xfrac": 1.0}
_COLOR = {"brightness": 1.0, "contrast": 1.0, "lumaflip": 1.0, "hue": 1.0, "saturation": 1.0}
_FILTER = {"imgfilter": 1.0}
_NOISE = {"noise": 1.0}
_CUTOUT = {"cutout": 1.0}
AUGPIPE_SPECS: dict[str, dict[str, float]] = {
    "blit": _BLIT,
    "geom": _GEOM,
    "color": _COLOR,
    "filter": _FILTER,
    "noise": _NOISE,
    "cutout": _CUTOUT,
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, **_FILTER},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, **_FILTER, **_NOISE},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, **_FILTER, **_NOISE, **_CUTOUT},
}


@dataclass(frozen=True)
class AugmentRanges:
    """Magnitudes of the transformations (paper App. B defaults)."""

    xint_max: float = 0.125  # integer translation, fraction of image size
    scale_std: float = 0.2  # log2 isotropic scale
    rotate_max: float = 1.0  # rotation, fraction of pi
    aniso_std: float = 0.2  # log2 anisotropic scale
    xfrac_std: float = 0.125  # fractional translation, fraction of image size
    brightness_std: float = 0.2
    contrast_std: float = 0.5  # log2
    hue_max: float = 1.0  # fraction of pi
    saturation_std: float = 1.0  # log2
    imgfilter_std: float = 1.0  # log2 gain per band
    noise_std: float = 0.1
    cutout_size: float = 0.5


class AugmentPipe(torch.nn.Module):
    """Differentiable augmentation of NCHW images in [-1, 1]; ``p`` is the overall probability."""

    def __init__(self, pipe: str = "bgc", p: float = 0.0, ranges: AugmentRanges | None = None, **strengths):
        super().__init__()
        if pipe not in AUGPIPE_SPECS:
            raise ValueError(f"unknown augpipe {pipe!r}; choose from {sorted(AUGPIPE_SPECS)}")
        spec = dict(AUGPIPE_SPECS[pipe])
        spec.update(strengths)
        self.pipe = pipe
        self.strength = {k: float(spec.get(k, 0.0)) for k in _ALL_OPS}
        self.ranges = ranges or AugmentRanges()
        self.register_buffer("p", torch.tensor(float(p)))
        self._p_host = float(p)  # host copy of p: deciding what to run never syncs with the GPU
        self.register_load_state_dict_post_hook(lambda module, keys: module._refresh_p())
        self.register_buffer("filter_bank", ops.octave_filter_bank(4))
        # Expected power of the four bands under a 1/f spectrum, as in the paper (App. B.3).
        self.register_buffer("band_power", torch.tensor([10.0, 1.0, 1.0, 1.0]) / 13)

    def set_p(self, value: float) -> None:
        """Set the augmentation probability (buffer and host copy)."""
        self.p.fill_(float(value))
        self._p_host = float(value)

    @property
    def probability(self) -> float:
        """The current p as a Python float (no device sync)."""
        return self._p_host

    def _refresh_p(self) -> None:
        self._p_host = float(self.p)

    # -------------------------------------------------------------------------------------------------
    def _mask(self, name: str, n: int, device, prob_scale: float = 1.0) -> torch.Tensor:
        """Boolean [N]: apply transformation ``name`` to image i?"""
        prob = self.p * self.strength[name] * prob_scale
        return torch.rand(n, device=device) < prob

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"expected NCHW images, got shape {tuple(images.shape)}")
        if self._p_host <= 0:
            return images
        images = self._geometric(images)
        images = self._color(images)
        if self.strength["imgfilter"] > 0:
            images = self._imgfilter(images)
        if self.strength["noise"] > 0:
            images = self._noise(images)
        if self.strength["cutout"] > 0:
            images = self._cutout(images)
        return images

    # -------------------------------------------------------------------------------------------------
    def _geometric(self, images: torch.Tensor) -> torch.Tensor:
        """blit + geom as one inverse affine matrix (output pixel -> input pixel), then one resampling."""
        n, _, h, w = images.shape
        dev = images.device
        r = self.ranges
        g_inv = torch.eye(3, device=dev).expand(n, 3, 3).clone()
        used = False
        s = self.strength
        if s["xflip"] > 0:
            flip = torch.floor(torch.rand(n, device=dev) * 2)
            flip = torch.where(self._mask("xflip", n, dev), flip, torch.zeros_like(flip))
            g_inv = g_inv @ ops.scale2d(1 - 2 * flip, torch.ones_like(flip))
            used = True
        if s["rotate90"] > 0:
            k = torch.floor(torch.rand(n, device=dev) * 4)
            k = torch.where(self._mask("rotate90", n, dev), k, torch.zeros_like(k))
            g_inv = g_inv @ ops.rotate2d(-math.pi / 2 * k)
            used = True
        if s["xint"] > 0:
            t = (torch.rand(n, 2, device=dev) * 2 - 1) * r.xint_max
            t = torch.where(self._mask("xint", n, dev)[:, None], t, torch.zeros_like(t))
            g_inv = g_inv @ ops.translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h))
            used = True
        if s["scale"] > 0:
            sc = torch.exp2(torch.randn(n, device=dev) * r.scale_std)
            sc = torch.where(self._mask("scale", n, dev), sc, torch.ones_like(sc))
            g_inv = g_inv @ ops.scale2d(1 / sc, 1 / sc)
            used = True
        # Rotation is applied before and after anisotropic scaling; each with probability p_rot so that
        # the chance of at least one rotation is p * strength (paper App. B.2).
        p_rot = 1 - math.sqrt(max(1 - min(self._p_host * s["rotate"], 1.0), 0.0))
        if s["rotate"] > 0:
            g_inv = g_inv @ ops.rotate2d(-self._angle(n, dev, p_rot))
            used = True
        if s["aniso"] > 0:
            sa = torch.exp2(torch.randn(n, device=dev) * r.aniso_std)
            sa = torch.where(self._mask("aniso", n, dev), sa, torch.ones_like(sa))
            g_inv = g_inv @ ops.scale2d(1 / sa, sa)
            used = True
        if s["rotate"] > 0:
            g_inv = g_inv @ ops.rotate2d(-self._angle(n, dev, p_rot))
        if s["xfrac"] > 0:
            t = torch.randn(n, 2, device=dev) * r.xfrac_std
            t = torch.where(self._mask("xfrac", n, dev)[:, None], t, torch.zeros_like(t))
            g_inv = g_inv @ ops.translate2d(-t[:, 0] * w, -t[:, 1] * h)
            used = True
        if not used:
            return images
        theta = ops.pixel_to_normalized(g_inv, w, h)[:, :2, :].to(images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bicubic", padding_mode="reflection", align_corners=False)

    def _angle(self, n: int, dev, p_rot: float) -> torch.Tensor:
        theta = (torch.rand(n, device=dev) * 2 - 1) * math.pi * self.ranges.rotate_max
        apply = torch.rand(n, device=dev) < p_rot
        return torch.where(apply, theta, torch.zeros_like(theta))

    # -------------------------------------------------------------------------------------------------
    def _color(self, images: torch.Tensor) -> torch.Tensor:
        """brightness, contrast, luma flip, hue, saturation as one 4x4 colour matrix per image."""
        s = self.strength
        if not any(s[k] > 0 for k in ("brightness", "contrast", "lumaflip", "hue", "saturation")):
            return images
        n, c, h, w = images.shape
        if c not in (1, 3):
            raise ValueError(f"colour augmentation needs 1 or 3 channels, got {c}")
        dev, r = images.device, self.ranges
        v = ops.luma_axis(dev)
        vv = torch.outer(v, v)  # projection onto the luma axis [3, 3]
        m = torch.eye(4, device=dev).expand(n, 4, 4).clone()
        if s["brightness"] > 0:
            b = torch.randn(n, device=dev) * r.brightness_std
            b = torch.where(self._mask("brightness", n, dev), b, torch.zeros_like(b))
            m = ops.translate3d(b[:, None].expand(n, 3)) @ m
        if s["contrast"] > 0:
            k = torch.exp2(torch.randn(n, device=dev) * r.contrast_std)
            k = torch.where(self._mask("contrast", n, dev), k, torch.ones_like(k))
            m = ops.scale3d(k[:, None].expand(n, 3)) @ m
        if s["lumaflip"] > 0:
            f = torch.floor(torch.rand(n, device=dev) * 2)
            f = torch.where(self._mask("lumaflip", n, dev), f, torch.zeros_like(f))
            hh = torch.eye(4, device=dev).expand(n, 4, 4).clone()  # Householder reflection (I - 2vv^T)
            hh[:, :3, :3] = hh[:, :3, :3] - 2 * vv * f.view(n, 1, 1)
            m = hh @ m
        if s["hue"] > 0 and c == 3:
            th = (torch.rand(n, device=dev) * 2 - 1) * math.pi * r.hue_max
            th = torch.where(self._mask("hue", n, dev), th, torch.zeros_like(th))
            m = ops.rotate3d(v, th) @ m
        if s["saturation"] > 0 and c == 3:
            k = torch.exp2(torch.randn(n, device=dev) * r.saturation_std)
            k = torch.where(self._mask("saturation", n, dev), k, torch.ones_like(k))
            sat = torch.eye(4, device=dev).expand(n, 4, 4).clone()
            sat[:, :3, :3] = vv + (torch.eye(3, device=dev) - vv) * k.view(n, 1, 1)
            m = sat @ m
        m = m.to(images.dtype)
        flat = images.reshape(n, c, h * w)
        if c == 3:
            flat = m[:, :3, :3] @ flat + m[:, :3, 3:]
        else:  # grey g is the RGB colour (g, g, g); transform it and take the mean of the channels
            gain = m[:, :3, :3].sum(-1).mean(-1)
            offset = m[:, :3, 3].mean(-1)
            flat = flat * gain.view(n, 1, 1) + offset.view(n, 1, 1)
        return flat.reshape(n, c, h, w)

    # -------------------------------------------------------------------------------------------------
    def _imgfilter(self, images: torch.Tensor) -> torch.Tensor:
        """Amplify/attenuate 4 octave bands per image (separable filter, reflect padding)."""
        n, c, h, w = images.shape
        dev = images.device
        bank = self.filter_bank.to(images.dtype)
        nb, taps = bank.shape
        gains = torch.ones(n, nb, device=dev)
        for i in range(nb):
            t_i = torch.exp2(torch.randn(n, device=dev) * self.ranges.imgfilter_std)
            t_i = torch.where(self._mask("imgfilter", n, dev), t_i, torch.ones_like(t_i))
            t = torch.ones(n, nb, device=dev)
            t[:, i] = t_i
            t = t / (self.band_power * t.square()).sum(-1, keepdim=True).sqrt()  # keep expected power
            gains = gains * t
        taps_per_image = (gains.to(images.dtype) @ bank).repeat_interleave(c, dim=0)  # [N*C, taps]
        pad = taps // 2
        x = images.reshape(1, n * c, h, w)
        x = (
            F.pad(x, [pad, pad, pad, pad], mode="reflect")
            if pad < min(h, w)
            else F.pad(x, [pad] * 4, mode="replicate")
        )
        x = F.conv2d(x, taps_per_image.view(n * c, 1, 1, taps), groups=n * c)
        x = F.conv2d(x, taps_per_image.view(n * c, 1, taps, 1), groups=n * c)
        return x.reshape(n, c, h, w)

    def _noise(self, images: torch.Tensor) -> torch.Tensor:
        n = images.shape[0]
        sigma = torch.randn(n, device=images.device).abs() * self.ranges.noise_std
        sigma = torch.where(self._mask("noise", n, images.device), sigma, torch.zeros_like(sigma))
        return images + torch.randn_like(images) * sigma.view(n, 1, 1, 1).to(images.dtype)

    def _cutout(self, images: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        dev = images.device
        size = torch.full((n,), self.ranges.cutout_size, device=dev)
        size = torch.where(self._mask("cutout", n, dev), size, torch.zeros_like(size))
        centre = torch.rand(n, 2, device=dev)
        xs = (torch.arange(w, device=dev) + 0.5) / w
        ys = (torch.arange(h, device=dev) + 0.5) / h
        keep_x = (xs.view(1, w) - centre[:, :1]).abs() >= size.view(n, 1) / 2
        keep_y = (ys.view(1, h) - centre[:, 1:]).abs() >= size.view(n, 1) / 2
        keep = keep_x.view(n, 1, 1, w) | keep_y.view(n, 1, h, 1)
        return images * keep.to(images.dtype)


_ALL_OPS = sorted({k for spec in AUGPIPE_SPECS.values() for k in spec})


# ---------------------------------------------------------------------------------------------------
class AdaController:
    """The ADA heuristic (paper Sec. 3): adjust ``p`` from r_t = E[sign(D(real))] towards ``target``.

    Every ``interval`` steps, ``p += sign(r_t - target) * images_seen / (speed_kimg * 1000)`` so that p
    can move from 0 to 1 in ``speed_kimg`` thousand images (500 as in the paper), clamped to
    ``[0, p_max]``. The official code has no ceiling and p can run away on tiny datasets until
    augmentations leak into the generator; the paper shows the ``bgc`` pipe is safe below about 0.8,
    hence the default ``p_max = 0.8`` (``--p-max 1`` restores the official behaviour).
    """

    def __init__(self, target: float = 0.6, speed_kimg: float = 500, interval: int = 4, p_max: float = 0.8):
        self.target, self.speed_kimg, self.interval, self.p_max = target, speed_kimg, interval, p_max
        self.sign_sum = 0.0  # signs already moved to the host (after a resume)
        self.sign_count = 0
        self._acc: torch.Tensor | None = None  # device-side [sum of signs, count]: no sync per step
        self.last_rt = float("nan")

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Record the signs of D's outputs on (augmented) reals."""
        x = real_logits.detach().float()
        add = torch.stack([torch.sign(x).sum(), torch.tensor(float(x.numel()), device=x.device)]).double()
        self._acc = add if self._acc is None else self._acc + add

    def _host_stats(self) -> tuple[float, float]:
        if self._acc is not None:
            acc = self._acc.cpu()
            self.sign_sum += float(acc[0])
            self.sign_count += int(acc[1])
            self._acc = None
        return self.sign_sum, float(self.sign_count)

    def update(self, pipe: AugmentPipe, batch_size: int, reduce=None) -> float | None:
        """Adjust ``pipe.p`` from the signs seen since the last call; returns r_t (None if nothing seen).

        ``reduce`` sums a 2-vector across ranks (for multi-GPU runs), so every rank moves p alike.
        """
        stats = torch.tensor(self._host_stats(), dtype=torch.float64)
        if reduce is not None:
            stats = reduce(stats)
        self.sign_sum, self.sign_count = 0.0, 0
        if stats[1] <= 0:
            return None
        rt = float(stats[0] / stats[1])
        self.last_rt = rt
        sign = float((rt > self.target) - (rt < self.target))
        step = sign * (batch_size * self.interval) / (self.speed_kimg * 1000)
        pipe.set_p(min(max(pipe._p_host + step, 0.0), self.p_max))
        return rt

    def state_dict(self) -> dict:
        total, count = self._host_stats()
        return {"sign_sum": total, "sign_count": int(count), "last_rt": self.last_rt}

    def load_state_dict(self, state: dict) -> None:
        self.sign_sum = float(state["sign_sum"])
        self.sign_count = int(state["sign_count"])
        self.last_rt = float(state["last_rt"])
