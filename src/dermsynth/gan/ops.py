"""Pure-PyTorch building blocks of StyleGAN2-ADA: FIR resampling, bias+activation, modulated convolution.

Reference: Karras et al., "Analyzing and Improving the Image Quality of StyleGAN" (CVPR 2020) and
"Training Generative Adversarial Networks with Limited Data" (NeurIPS 2020). The maths matches the
official StyleGAN2-ADA PyTorch ops (``upfirdn2d``, ``bias_act``, ``conv2d_resample``) exactly, written
here from their documented definitions with standard ``torch.nn.functional`` calls only: no compiled
extensions, so the same code runs on CPU, CUDA and MPS.

Conventions (as in the reference): a FIR filter ``f`` is ``[fh, fw]`` float32; ``upfirdn2d`` performs a
true convolution with ``f`` (it is flipped before ``F.conv2d``, which correlates); padding is
``(x0, x1, y0, y1)`` and negative values crop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

#: Leaky ReLU slope and the gains that keep activations at unit variance (He et al.).
LRELU_ALPHA = 0.2
ACT_GAIN = {"linear": 1.0, "relu": math.sqrt(2.0), "lrelu": math.sqrt(2.0)}


def setup_filter(f: Sequence[float] | torch.Tensor = (1, 3, 3, 1), normalize: bool = True) -> torch.Tensor:
    """A separable 1-D tap list -> 2-D outer-product filter ``[n, n]``, normalised to unit DC gain."""
    t = torch.as_tensor(f, dtype=torch.float32)
    if t.ndim == 0:
        t = t[None]
    if t.ndim == 1:
        t = torch.outer(t, t)
    if normalize:
        t = t / t.sum()
    return t


def _pad4(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    x0, x1, y0, y1 = padding
    return x0, x1, y0, y1


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample (zero insertion), pad/crop, convolve with FIR ``f`` (times ``gain``), downsample.

    x: [N, C, H, W]; f: [fh, fw] (None = identity). Output [N, C, (H*up + y0 + y1 - fh + 1) / down, ...].
    """
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    n, c, h, w = x.shape
    x0, x1, y0, y1 = _pad4(padding)
    fh, fw = int(f.shape[0]), int(f.shape[1])
    if up > 1 and down == 1:
        y = _upfir_polyphase(x, f, up, (x0, x1, y0, y1), gain)
        if y is not None:
            return y
    # True convolution = correlation with the flipped filter; depthwise over channels.
    k = (f * gain).to(dtype=x.dtype, device=x.device).flip([0, 1])
    k = k[None, None].expand(c, 1, fh, fw).contiguous()
    if up == 1 and x0 == x1 and y0 == y1 and x0 >= 0 and y0 >= 0:  # padding done by the convolution
        return F.conv2d(x, k, stride=down, padding=(y0, x0), groups=c)
    if up > 1:  # insert up-1 zeros after every pixel, both axes
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    return F.conv2d(x, k, stride=down, groups=c)


def _upfir_polyphase(
    x: torch.Tensor, f: torch.Tensor, up: int, pad: tuple[int, int, int, int], gain: float
) -> torch.Tensor | None:
    """Zero-insertion upsampling + FIR as one strided transposed convolution (no multiplications by
    the inserted zeros). ``conv_transpose2d`` is the true convolution of the zero-stuffed input with
    ``f``; the reference output is that, cropped by ``f_size - 1 - pad_before`` at the start.
    Returns None when the padding falls outside what a crop can express."""
    n, c, h, w = x.shape
    fh, fw = int(f.shape[0]), int(f.shape[1])
    x0, x1, y0, y1 = pad
    sx, sy = fw - 1 - x0, fh - 1 - y0  # crop at the start
    if sx < 0 or sy < 0 or x1 > fw - up or y1 > fh - up:
        return None
    ex, ey = fw - up - x1, fh - up - y1  # crop at the end
    k = (f * gain).to(dtype=x.dtype, device=x.device)
    k = k[None, None].expand(c, 1, fh, fw).contiguous()
    if sx == ex and sy == ey:
        return F.conv_transpose2d(x, k, stride=up, padding=(sy, sx), groups=c)
    y = F.conv_transpose2d(x, k, stride=up, groups=c)
    return y[:, :, sy : y.shape[2] - ey, sx : y.shape[3] - ex]


def _filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    return (1, 1) if f is None else (int(f.shape[-1]), int(f.shape[0]))


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2, gain: float = 1.0) -> torch.Tensor:
    """2x FIR upsampling; output is exactly ``up`` times larger (gain ``up**2`` keeps DC level)."""
    fw, fh = _filter_size(f)
    p = [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=p, gain=gain * up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2, gain: float = 1.0) -> torch.Tensor:
    """FIR low-pass then keep every ``down``-th pixel; output exactly ``down`` times smaller."""
    fw, fh = _filter_size(f)
    p = [(fw - down + 1) // 2, (fw - down) // 2, (fh - down + 1) // 2, (fh - down) // 2]
    return upfirdn2d(x, f, down=down, padding=p, gain=gain)


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
    dim: int = 1,
) -> torch.Tensor:
    """``clamp(act(x + b) * gain, -clamp, clamp)``; ``gain`` defaults to the activation's own gain."""
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.to(x.dtype).reshape(shape)
    inplace = not torch.is_grad_enabled() and b is not None  # x is then our own temporary
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_ALPHA, inplace=inplace)
    elif act == "relu":
        x = F.relu(x, inplace=inplace)
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    g = ACT_GAIN[act] if gain is None else gain
    if g != 1:
        x = x.mul_(g) if inplace else x * g
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
) -> torch.Tensor:
    """2-D convolution with optional FIR up- or down-sampling, padding applied once (as the reference).

    ``flip_weight=True`` is correlation (like ``F.conv2d``); ``False`` is true convolution. The
    reference uses ``flip_weight = (up == 1)``. Only ``up`` or ``down`` (not both) is supported.
    """
    if up > 1 and down > 1:
        raise ValueError("conv2d_resample: up and down together are not used by StyleGAN2")
    out_ch, in_per_group, kh, kw = w.shape
    fw, fh = _filter_size(f)
    px0 = px1 = py0 = py1 = padding
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2

    def conv(inp: torch.Tensor, weight: torch.Tensor, stride: int = 1, pad: int | tuple = 0) -> torch.Tensor:
        if not flip_weight and (kh > 1 or kw > 1):
            weight = weight.flip([2, 3])
        return F.conv2d(inp, weight, stride=stride, padding=pad, groups=groups)

    if kh == 1 and kw == 1 and down > 1:  # 1x1: low-pass + decimate first, then convolve
        return conv(upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1]), w)
    if kh == 1 and kw == 1 and up > 1:  # 1x1: convolve first, then upsample
        return upfirdn2d(conv(x, w), f, up=up, padding=[px0, px1, py0, py1], gain=up * up)
    if down > 1:  # low-pass, then strided convolution
        return conv(upfirdn2d(x, f, padding=[px0, px1, py0, py1]), w, stride=down)
    if up > 1:  # transposed strided convolution (zero insertion + convolution), then low-pass
        if groups == 1:
            wt = w.transpose(0, 1)
        else:
            wt = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
            wt = wt.reshape(groups * in_per_group, out_ch // groups, kh, kw)
        if flip_weight:  # conv_transpose2d already realises a true convolution
            wt = wt.flip([2, 3])
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = F.conv_transpose2d(x, wt, stride=up, padding=(pyt, pxt), groups=groups)
        return upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up * up)
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return conv(x, w, pad=(py0, px0))
    return conv(upfirdn2d(x, None, padding=[px0, px1, py0, py1]), w)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
) -> torch.Tensor:
    """Modulated (and demodulated) convolution, StyleGAN2 eqs. 1-3.

    x: [N, I, H, W]; weight: [O, I, k, k]; styles: [N, I]. Demodulation divides every output
    channel by ``sqrt(sum w'^2 + 1e-8)``. ``fused_modconv`` runs one grouped convolution with
    per-sample weights; otherwise the activations are scaled before and after a shared convolution.
    """
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if x.dtype in (torch.float16, torch.bfloat16) and demodulate:  # pre-normalise against overflow
        weight = weight * (
            1 / math.sqrt(in_ch * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        )
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    w = dcoefs = None
    if demodulate or fused_modconv:
        w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]
    if demodulate and fused_modconv:
        w = w * dcoefs.reshape(n, -1, 1, 1, 1)

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        x = conv2d_resample(
            x, weight.to(x.dtype), f=resample_filter, up=up, padding=padding, flip_weight=flip_weight
        )
        if demodulate:
            x = x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return x

    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_ch, kh, kw)
    x = conv2d_resample(
        x, w.to(x.dtype), f=resample_filter, up=up, padding=padding, groups=n, flip_weight=flip_weight
    )
    x = x.reshape(n, -1, *x.shape[2:])
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm: divide by the root mean square over ``dim`` (StyleGAN mapping input)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
