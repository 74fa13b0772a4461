"""The ADA augmentation pipe, faithful to the official StyleGAN2-ADA one.

Reference: Karras et al., "Training Generative Adversarial Networks with Limited Data" (NeurIPS 2020),
Sec. 2 (non-leaking augmentations) and Appendix B (the 18 transformations). Written from the paper in
pure PyTorch; no NVIDIA code is used or imported. Given the same torch RNG state and input it returns
what the official ``AugmentPipe`` returns (to float rounding) with the same input gradient, checked on
the official reference outputs in tests/test_gan_augment.py.

Each transformation applies to each image with probability ``p * strength``; ``p`` is a buffer (saved
with the module, moved with it). The constructor takes the official keyword names and defaults; a
strength not given is 0. Random numbers come from torch's global generator, two draws per
transformation (its parameter, then the uniform that decides whether it applies), in the paper's order:

  blit   x-flip, 90-degree rotation, integer translation (App. B.1)
  geom   isotropic scale, pre-rotation, anisotropic scale, post-rotation, fractional translation (B.2)
  color  brightness, contrast, luma flip, hue rotation, saturation, as one 4x4 matrix (B.3)
  filter gains of 4 octave bands, normalised to the expected 1/f power (B.3)
  noise  additive Gaussian noise;  cutout  a zeroed square of half the image size (B.4)

Geometric transformations (blit + geom) are composed into one inverse matrix (output pixel -> input
pixel, in pixel units about the image centre) and executed once (B.2): reflect-pad the image by what the
matrix reaches, upsample 2x with the symlet-6 low-pass, sample the composed matrix bilinearly, and
downsample 2x with the same filter. Aliasing stays far below that of a direct bicubic resampling
(docs/gan_train.md; ``augment.fast.FastAugmentPipe`` keeps that cheaper path as an option).

One deliberate difference: at ``p = 0`` the pipe returns its input unchanged and draws no random
numbers (the official one runs the identity transformation, equal to its input to float rounding).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import dermsynth.gan.augment.filters as filters
import dermsynth.gan.augment.ops as ops

#: Strengths of each named pipe (``--augpipe``), the official ``train.py`` specs.
_BLIT = {"xflip": 1, "rotate90": 1, "xint": 1}
_GEOM = {"scale": 1, "rotate": 1, "aniso": 1, "xfrac": 1}
_COLOR = {"brightness": 1, "contrast": 1, "lumaflip": 1, "hue": 1, "saturation": 1}
AUGPIPE_SPECS: dict[str, dict[str, float]] = {
    "blit": _BLIT,
    "geom": _GEOM,
    "color": _COLOR,
    "filter": {"imgfilter": 1},
    "noise": {"noise": 1},
    "cutout": {"cutout": 1},
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1, "cutout": 1},
}
_GEOM_OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
_COLOR_OPS = ("brightness", "contrast", "lumaflip", "hue", "saturation")


class AugmentPipe(torch.nn.Module):
    """Differentiable ADA augmentation of NCHW images (1 or 3 channels, values about [-1, 1])."""

    def __init__(
        self,
        xflip: float = 0, rotate90: float = 0, xint: float = 0, xint_max: float = 0.125,
        scale: float = 0, rotate: float = 0, aniso: float = 0, xfrac: float = 0,
        scale_std: float = 0.2, rotate_max: float = 1, aniso_std: float = 0.2, xfrac_std: float = 0.125,
        brightness: float = 0, contrast: float = 0, lumaflip: float = 0, hue: float = 0, saturation: float = 0,
        brightness_std: float = 0.2, contrast_std: float = 0.5, hue_max: float = 1, saturation_std: float = 1,
        imgfilter: float = 0, imgfilter_bands: tuple[float, ...] = (1, 1, 1, 1), imgfilter_std: float = 1,
        noise: float = 0, cutout: float = 0, noise_std: float = 0.1, cutout_size: float = 0.5,
        p: float = 1.0,
    ):  # fmt: skip
        # Probability multipliers ("strengths") and ranges (App. B) under the official names; angles
        # are fractions of pi, translations fractions of the image size, *_std of log2 scales in log2.
        options = {
            k: v for k, v in locals().items() if k not in ("self", "__class__", "imgfilter_bands", "p")
        }
        super().__init__()
        for name, value in options.items():
            setattr(self, name, float(value))
        self.imgfilter_bands = [float(b) for b in imgfilter_bands]
        self.register_buffer("p", torch.tensor(float(p)))
        self.register_buffer("geom_filter", filters.geom_lowpass(), persistent=False)
        self.register_buffer("filter_bank", filters.octave_filter_bank(4), persistent=False)
        if len(self.imgfilter_bands) != self.filter_bank.shape[0]:
            raise ValueError(
                f"imgfilter_bands needs {self.filter_bank.shape[0]} values, got {imgfilter_bands}"
            )
        self._p_host = float(p)  # host copy of p: deciding what to run never waits for the GPU
        self._p_version = self.p._version

    @classmethod
    def from_spec(cls, augpipe: str, p: float = 0.0, **overrides) -> AugmentPipe:
        """The pipe ``--augpipe NAME`` (``bgc`` ...) at probability ``p``; ``overrides`` set strengths/ranges."""
        if augpipe not in AUGPIPE_SPECS:
            raise ValueError(f"unknown augpipe {augpipe!r}; choose from {sorted(AUGPIPE_SPECS)}")
        return cls(**{**AUGPIPE_SPECS[augpipe], **overrides}, p=p)

    # -------------------------------------------------------------------------------------------------
    def set_p(self, value: float) -> None:
        """Set the augmentation probability (buffer and host copy)."""
        self.p.fill_(float(value))
        self._p_host, self._p_version = float(value), self.p._version

    @property
    def probability(self) -> float:
        """The current p as a Python float (reads the buffer only if it was written from outside)."""
        if self.p._version != self._p_version:  # e.g. ``pipe.p.copy_(...)`` or load_state_dict
            self._p_host, self._p_version = float(self.p), self.p._version
        return self._p_host

    def _chance(self, strength: float) -> torch.Tensor:
        """Probability that a transformation applies: strength * p (a float32 tensor, like the buffer)."""
        return strength * self.p

    def _draw(self, shape, value, neutral, prob) -> torch.Tensor:
        """``value`` where a fresh uniform draw of ``shape`` falls below ``prob``, else ``neutral``."""
        apply = torch.rand(shape, device=self.p.device) < prob
        return torch.where(apply, value, torch.full_like(value, neutral))

    # -------------------------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"expected NCHW images, got shape {tuple(images.shape)}")
        if self.probability <= 0:
            return images
        n, c, h, w = images.shape
        g_inv = self._geometric_matrix(n, w, h)
        if g_inv is not None:
            images = self._resample(images, g_inv)
        cm = self._color_matrix(n, c)
        if cm is not None:
            images = _apply_color(images, cm)
        if self.imgfilter > 0:
            images = filters.filter_images(images, self._band_gains(n) @ self.filter_bank)
        if self.noise > 0:
            images = self._add_noise(images)
        if self.cutout > 0:
            images = self._cut_out(images)
        return images

    # -------------------------------------------------------------------------------------------------
    # Geometric transformations (App. B.1-B.2): an inverse matrix G_inv, output pixel -> input pixel,
    # each new transformation multiplied on the right (it acts first on output coordinates).
    # -------------------------------------------------------------------------------------------------
    def _geometric_matrix(self, n: int, w: int, h: int) -> torch.Tensor | None:
        if not any(getattr(self, k) > 0 for k in _GEOM_OPS):
            return None
        dev = self.p.device
        g = torch.eye(3, device=dev)
        if self.xflip > 0:  # mirror x with probability 1/2
            flip = torch.floor(torch.rand(n, device=dev) * 2)
            flip = self._draw(n, flip, 0.0, self._chance(self.xflip))
            g = g @ ops.scale2d(1 / (1 - 2 * flip), torch.ones_like(flip))
        if self.rotate90 > 0:  # k quarter turns, k uniform in 0..3
            k = torch.floor(torch.rand(n, device=dev) * 4)
            k = self._draw(n, k, 0.0, self._chance(self.rotate90))
            g = g @ ops.rotate2d(math.pi / 2 * k)
        if self.xint > 0:  # whole-pixel translation, uniform within +-xint_max of the size
            t = (torch.rand(n, 2, device=dev) * 2 - 1) * self.xint_max
            t = self._draw((n, 1), t, 0.0, self._chance(self.xint))
            g = g @ ops.translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h))
        if self.scale > 0:  # isotropic scale, lognormal (log2 std scale_std)
            s = torch.exp2(torch.randn(n, device=dev) * self.scale_std)
            s = self._draw(n, s, 1.0, self._chance(self.scale))
            g = g @ ops.scale2d(1 / s, 1 / s)
        # Rotation before and after the anisotropic scale, each with p_rot so that
        # P(at least one) = rotate * p: 1 - (1 - p_rot)^2 = rotate * p.
        p_rot = 1 - torch.sqrt((1 - self._chance(self.rotate)).clamp(0, 1))
        if self.rotate > 0:
            g = g @ ops.rotate2d(self._angle(n, p_rot))
        if self.aniso > 0:  # stretch x by s and y by 1/s
            s = torch.exp2(torch.randn(n, device=dev) * self.aniso_std)
            s = self._draw(n, s, 1.0, self._chance(self.aniso))
            g = g @ ops.scale2d(1 / s, s)
        if self.rotate > 0:
            g = g @ ops.rotate2d(self._angle(n, p_rot))
        if self.xfrac > 0:  # sub-pixel translation, normal with std xfrac_std of the size
            t = torch.randn(n, 2, device=dev) * self.xfrac_std
            t = self._draw((n, 1), t, 0.0, self._chance(self.xfrac))
            g = g @ ops.translate2d(-t[:, 0] * w, -t[:, 1] * h)
        return g

    def _angle(self, n: int, p_rot: torch.Tensor) -> torch.Tensor:
        theta = (torch.rand(n, device=self.p.device) * 2 - 1) * math.pi * self.rotate_max
        return self._draw(n, theta, 0.0, p_rot)

    def _resample(self, images: torch.Tensor, g_inv: torch.Tensor) -> torch.Tensor:
        """Apply G_inv with the wavelet-upsampled bilinear resampling of App. B.2."""
        return wavelet_resample(images, g_inv, self.geom_filter)

    # -------------------------------------------------------------------------------------------------
    # Colour transformations (App. B.3): one homogeneous 4x4 matrix per image, applied to [r, g, b, 1];
    # each new transformation multiplied on the left. v = (1, 1, 1) / sqrt(3) is the luma axis.
    # -------------------------------------------------------------------------------------------------
    def _color_matrix(self, n: int, c: int) -> torch.Tensor | None:
        if not any(getattr(self, k) > 0 for k in _COLOR_OPS):
            return None
        dev = self.p.device
        m = torch.eye(4, device=dev)
        v = ops.luma_axis(dev)
        vvt = ops.embed3(torch.outer(v, v))  # projection onto the luma axis, [4, 4] (zero homogeneous row)
        eye = torch.eye(4, device=dev)
        if self.brightness > 0:  # add b to every channel, b ~ N(0, brightness_std^2)
            b = torch.randn(n, device=dev) * self.brightness_std
            b = self._draw(n, b, 0.0, self._chance(self.brightness))
            m = ops.translate3d(b[:, None].expand(n, 3)) @ m
        if self.contrast > 0:  # multiply by k, log2 k ~ N(0, contrast_std^2)
            k = torch.exp2(torch.randn(n, device=dev) * self.contrast_std)
            k = self._draw(n, k, 1.0, self._chance(self.contrast))
            m = ops.scale3d(k[:, None].expand(n, 3)) @ m
        if self.lumaflip > 0:  # Householder reflection I - 2 v v^T with probability 1/2
            f = torch.floor(torch.rand(n, device=dev) * 2)
            f = self._draw(n, f, 0.0, self._chance(self.lumaflip))
            m = (eye - 2 * vvt * f.view(n, 1, 1)) @ m
        if self.hue > 0 and c > 1:  # rotation about v by theta ~ U(-hue_max pi, hue_max pi)
            th = (torch.rand(n, device=dev) * 2 - 1) * math.pi * self.hue_max
            th = self._draw(n, th, 0.0, self._chance(self.hue))
            m = ops.rotate3d(v, th) @ m
        if self.saturation > 0 and c > 1:  # scale the chroma plane (orthogonal to v) by s
            s = torch.exp2(torch.randn(n, device=dev) * self.saturation_std)
            s = self._draw(n, s, 1.0, self._chance(self.saturation))
            chroma = ops.embed3(torch.eye(3, device=dev) - torch.outer(v, v))
            m = (eye - chroma + chroma * s.view(n, 1, 1)) @ m
        return m

    # -------------------------------------------------------------------------------------------------
    def _band_gains(self, n: int) -> torch.Tensor:
        """[N, 4] gains of the octave bands (App. B.3): one lognormal gain per band, each followed by a
        renormalisation that keeps the expected power of a 1/f image, sum_b power_b g_b^2 = 1."""
        dev = self.p.device
        power = torch.tensor(filters.BAND_POWER, device=dev)
        nb = len(filters.BAND_POWER)
        gains = torch.ones(n, nb, device=dev)
        for i, band_strength in enumerate(self.imgfilter_bands):
            t_i = torch.exp2(torch.randn(n, device=dev) * self.imgfilter_std)
            t_i = self._draw(n, t_i, 1.0, self._chance(self.imgfilter) * band_strength)
            t = torch.ones(n, nb, device=dev)
            t[:, i] = t_i
            gains = gains * (t / (power * t.square()).sum(-1, keepdim=True).sqrt())
        return gains

    def _add_noise(self, images: torch.Tensor) -> torch.Tensor:
        """Additive Gaussian noise with sigma ~ |N(0, noise_std^2)| per image (App. B.4)."""
        n, c, h, w = images.shape
        dev = self.p.device
        sigma = torch.randn(n, device=dev).abs() * self.noise_std
        sigma = self._draw(n, sigma, 0.0, self._chance(self.noise))
        return images + torch.randn(n, c, h, w, device=dev).to(images.dtype) * sigma.view(n, 1, 1, 1)

    def _cut_out(self, images: torch.Tensor) -> torch.Tensor:
        """Zero a square of side ``cutout_size`` (of the image) at a uniform centre (App. B.4)."""
        n, _, h, w = images.shape
        dev = self.p.device
        size = torch.full((n,), self.cutout_size, device=dev)
        size = self._draw(n, size, 0.0, self._chance(self.cutout))
        centre = torch.rand(n, 2, device=dev)
        xs = (torch.arange(w, device=dev) + 0.5) / w
        ys = (torch.arange(h, device=dev) + 0.5) / h
        keep_x = (xs.view(1, w) - centre[:, :1]).abs() >= size.view(n, 1) / 2
        keep_y = (ys.view(1, h) - centre[:, 1:]).abs() >= size.view(n, 1) / 2
        keep = keep_x.view(n, 1, 1, w) | keep_y.view(n, 1, h, 1)
        return images * keep.to(images.dtype)


# ---------------------------------------------------------------------------------------------------
def wavelet_resample(images: torch.Tensor, g_inv: torch.Tensor, lowpass: torch.Tensor) -> torch.Tensor:
    """Resample ``images`` [N, C, H, W] by ``g_inv`` ([N, 3, 3] or [3, 3], output -> input pixel about
    the centre), the anti-aliased way of App. B.2.

    1. Pad by reflection so that every input position the transformed output reaches, plus the filter
       support (``taps / 2`` upsampled pixels), lies inside; one pad for the whole batch.
    2. Upsample 2x with the low-pass (upsampled pixel 2i sits on input pixel i).
    3. Sample bilinearly an output grid of 2H x 2W plus ``taps / 2`` pixels on every side.
    4. Downsample 2x with the same low-pass (its adjoint), cropping back to H x W.
    """
    n, c, h, w = images.shape
    dev = images.device
    taps = lowpass.numel()
    support = taps // 4  # filter reach, in input pixels (3 for symlet-6)
    g_inv = g_inv.to(dev, torch.float32).expand(n, 3, 3)

    # 1. Padding: the output's corner pixels mapped into the input, how far outside they reach.
    cx, cy = (w - 1) / 2, (h - 1) / 2
    corners = torch.tensor([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], device=dev)
    reach = (g_inv @ corners)[:, :2, :].permute(1, 0, 2).reshape(2, -1)  # [xy, N*4]
    extent = torch.cat([-reach, reach]).amax(dim=1)  # [left, top, right, bottom] beyond the centre
    margin = extent + torch.tensor([2 * support - cx, 2 * support - cy] * 2, device=dev)
    limit = torch.tensor([w - 1, h - 1] * 2, device=dev)
    margin = torch.minimum(margin.clamp(min=0), limit).ceil().to(torch.int64)
    pl, pt, pr, pb = (int(m) for m in margin.tolist())
    images = F.pad(images, [pl, pr, pt, pb], mode="reflect")
    # The padded image's centre moved by ((pl - pr) / 2, (pt - pb) / 2) input pixels.
    g = ops.translate2d_const((pl - pr) / 2, (pt - pb) / 2, dev) @ g_inv

    # 2. Upsample. In upsampled units X = 2 x - 1/2 (the centre shifts by half an upsampled pixel).
    images = filters.upsample2x(images, lowpass.to(dev))
    g = ops.scale2d_const(2, 2, dev) @ g @ ops.scale2d_const(0.5, 0.5, dev)
    g = ops.translate2d_const(-0.5, -0.5, dev) @ g @ ops.translate2d_const(0.5, 0.5, dev)

    # 3. Bilinear sampling; grid_sample's coordinates are x_norm = X / (size / 2) about the centre.
    out_h, out_w = (h + 2 * support) * 2, (w + 2 * support) * 2
    in_h, in_w = images.shape[2], images.shape[3]
    g = (
        ops.scale2d_const(2 / in_w, 2 / in_h, dev)
        @ g
        @ ops.scale2d_const(1 / (2 / out_w), 1 / (2 / out_h), dev)
    )
    grid = F.affine_grid(g[:, :2, :].to(images.dtype), [n, c, out_h, out_w], align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    # 4. Downsample: (out - taps + 2) / 2 = H samples after cropping (2 support - (taps - 2) / 2) per side.
    crop = 2 * support - (taps - 2) // 2
    return filters.downsample2x(images, lowpass.to(dev), crop)


def _apply_color(images: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """[r, g, b] <- M [r, g, b, 1] per pixel; a grey image is the colour (g, g, g) averaged back."""
    n, c, h, w = images.shape
    flat = images.reshape(n, c, h * w)
    m = m.to(images.dtype)
    if c == 3:
        flat = m[:, :3, :3] @ flat + m[:, :3, 3:]
    elif c == 1:
        rows = m[:, :3, :].mean(dim=1, keepdim=True)  # [N, 1, 4]
        flat = flat * rows[:, :, :3].sum(dim=2, keepdim=True) + rows[:, :, 3:]
    else:
        raise ValueError(f"colour augmentation needs 1 or 3 channels, got {c}")
    return flat.reshape(n, c, h, w)
