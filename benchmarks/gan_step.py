"""Median time of one GAN training step (issue 5 sec. 4).

A step: G forward on B latents (mapping + synthesis), D forward on those fakes and on B reals, the
non-saturating logistic losses, one backward through both networks. No regularisation, no
augmentation. The last line printed is JSON, e.g.
``{"median_step_s": 1.23, "res": 64, "batch": 8, "device": "cpu", ...}``.

    PYTHONPATH=src python benchmarks/gan_step.py --res 64 --batch 8 --cfg auto --c-dim 2 --device cpu

Needs only torch (+ numpy, safetensors) and dermsynth on the path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def build(cfg: str, res: int, c_dim: int, device: torch.device, fp32: bool, channels_last: bool):
    from dermsynth.gan import build_networks

    over = {"num_fp16_res": 0} if fp32 else {}
    G, D = build_networks(cfg, res, c_dim, **over)
    G, D = G.to(device).train(), D.to(device).train()
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    return G, D


def use_matmul_demodulation() -> None:
    """Experiment for the networks owner: demodulation coefficients as one matmul.

    sum_{i,k} (w_oik s_i)^2 = sum_i s_i^2 sum_k w_oik^2, so d = rsqrt(s^2 @ (sum_k w^2)^T + 1e-8) needs
    no [N, O, I, k, k] tensor (same value up to float rounding). Only for the non-fused fp32 path.
    """
    from dermsynth.gan import networks, ops

    orig = ops.modulated_conv2d

    def fast(x, weight, styles, noise=None, up=1, padding=0, resample_filter=None, demodulate=True,
             flip_weight=True, fused_modconv=True):  # fmt: skip
        if fused_modconv or x.dtype != torch.float32:
            return orig(
                x, weight, styles, noise, up, padding, resample_filter, demodulate, flip_weight, fused_modconv
            )
        n = x.shape[0]
        x = x * styles.reshape(n, -1, 1, 1)
        x = ops.conv2d_resample(x, weight, f=resample_filter, up=up, padding=padding, flip_weight=flip_weight)
        if demodulate:
            x = x * (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt().reshape(
                n, -1, 1, 1
            )
        return x + noise if noise is not None else x

    networks.modulated_conv2d = fast


def make_step(G, D, batch: int, c_dim: int, device: torch.device):
    z = torch.randn(batch, G.z_dim, device=device)
    c = F.one_hot(torch.arange(batch, device=device) % max(c_dim, 1), max(c_dim, 1)).float()[:, :c_dim]
    real = torch.rand(batch, G.img_channels, G.img_resolution, G.img_resolution, device=device) * 2 - 1

    def step() -> None:
        G.zero_grad(set_to_none=True)
        D.zero_grad(set_to_none=True)
        fake = G(z, c)
        loss = F.softplus(D(fake, c)).mean() + F.softplus(-D(real, c)).mean()
        loss.backward()

    return step


def count_flops(step) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        step()
    return float(fc.get_total_flops())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--cfg", default="auto")
    ap.add_argument("--c-dim", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--fp32", action="store_true", help="no mixed precision (CUDA only matters)")
    ap.add_argument("--nhwc", action="store_true", help="channels_last")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--demod-matmul", action="store_true", help="experiment: see use_matmul_demodulation")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = a.tf32
    if a.demod_matmul:
        use_matmul_demodulation()
    torch.manual_seed(0)
    G, D = build(a.cfg, a.res, a.c_dim, device, a.fp32, a.nhwc)
    step = make_step(G, D, a.batch, a.c_dim, device)
    flops = count_flops(step)
    times = []
    for i in range(a.warmup + a.iters):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
        print(f"step {i}: {time.perf_counter() - t:.3f} s", flush=True)
    med = statistics.median(times)
    out = {
        "median_step_s": round(med, 4),
        "res": a.res,
        "batch": a.batch,
        "device": device.type,
        "cfg": a.cfg,
        "c_dim": a.c_dim,
        "fp32": a.fp32,
        "nhwc": a.nhwc,
        "demod_matmul": a.demod_matmul,
        "threads": torch.get_num_threads(),
        "tflop_per_step": round(flops / 1e12, 4),
        "gflop_per_s": round(flops / med / 1e9, 1),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
