"""Generation speed of the StyleGAN2-ADA generator: images/s at 256 px, ``auto`` preset (thesis config).

Measures G(z, c) (mapping + synthesis, noise 'const', no grad) on CPU in float32 and, when CUDA is
present, in float32 (all blocks fp32, TF32 allowed as PyTorch defaults), fp16 and bf16 (the 4
highest-resolution blocks in half precision, as the official mixed-precision setting), for several
batch sizes and both modulated-convolution variants (fused grouped conv / shared conv + scaling).
Random weights: speed does not depend on them. Last line: JSON with every measurement.

    PYTHONPATH=src python benchmarks/generate_speed.py [--res 256] [--batches 1,4,16,64] [--cpu-batches 1,4]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dermsynth.gan import build_networks
from dermsynth.gan.networks import set_half_dtype


def _time(
    G, batch: int, device: torch.device, precision: str, fused: bool | None, min_time: float, warmup: int
) -> dict:
    z = torch.randn(batch, G.z_dim, device=device)
    c = torch.zeros(batch, G.c_dim, device=device)
    if G.c_dim:
        c[:, 1] = 1
    force_fp32 = precision == "fp32"
    if precision in ("fp16", "bf16"):
        set_half_dtype(G, precision)

    def step():
        return G(z, c, noise_mode="const", force_fp32=force_fp32, fused_modconv=fused)

    with torch.no_grad():
        for _ in range(warmup):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while True:
            img = step()
            n += 1
            if device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            if dt >= min_time and n >= 2:
                break
    assert torch.isfinite(img).all(), "non-finite output"
    mode = {None: "auto", True: "fused", False: "unfused"}[fused]
    return dict(device=str(device), precision=precision, modconv=mode, batch=batch, iters=n,
                ms_per_batch=1000 * dt / n, img_per_s=batch * n / dt)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--cfg", default="auto")
    ap.add_argument("--c-dim", type=int, default=2)
    ap.add_argument("--batches", default="1,4,16,64", help="GPU batch sizes")
    ap.add_argument("--cpu-batches", default="1,4", help="CPU batch sizes ('' to skip CPU)")
    ap.add_argument("--min-time", type=float, default=2.0, help="seconds per measurement")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    G, _ = build_networks(args.cfg, args.res, args.c_dim)
    G = G.eval().requires_grad_(False)
    results = []
    plans = []
    if args.cpu_batches:
        plans += [
            (torch.device("cpu"), "fp32", fused, int(b))
            for b in args.cpu_batches.split(",")
            for fused in (True, False)
        ]
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        plans += [
            (dev, p, fused, int(b))
            for p in ("fp32", "fp16", "bf16")
            for fused in (True, False)
            for b in args.batches.split(",")
        ]
    for device, precision, fused, batch in plans:
        G.to(device)
        try:
            r = _time(G, batch, device, precision, fused, args.min_time if device.type == "cuda" else args.min_time / 2,
                      warmup=3 if device.type == "cuda" else 1)  # fmt: skip
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            r = dict(
                device=str(device),
                precision=precision,
                modconv=str(fused),
                batch=batch,
                error="out of memory",
            )
        results.append(r)
        if "error" in r:
            print(
                f"{r['device']:5s} {precision:5s} {r['modconv']:8s} batch {batch:3d}: {r['error']}",
                flush=True,
            )
        else:
            print(f"{r['device']:5s} {precision:5s} {r['modconv']:8s} batch {batch:3d}: {r['img_per_s']:9.1f} img/s "
                  f"({r['ms_per_batch']:.1f} ms/batch)", flush=True)  # fmt: skip
    gpu = [r for r in results if r["device"].startswith("cuda") and "img_per_s" in r]
    cpu = [r for r in results if r["device"] == "cpu" and "img_per_s" in r]
    summary = dict(
        res=args.res, cfg=args.cfg, c_dim=args.c_dim, torch=torch.__version__,
        gpu_name=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        cpu_threads=torch.get_num_threads(),
        best_cpu_img_per_s=max((r["img_per_s"] for r in cpu), default=None),
        best_gpu=max(gpu, key=lambda r: r["img_per_s"]) if gpu else None,
        results=results,
    )  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
