"""Classifier training and inference speed (images/s) on CPU and, when present, CUDA.

In-memory random images (no disk, no decoding), so the figures are the model's compute only; the
training step is the one ``dermsynth classify run`` uses (AdamW, BCE on one logit, bfloat16 autocast
on CUDA). Needs only torch, timm, numpy (run with PYTHONPATH=src).

    PYTHONPATH=src python benchmarks/classify_speed.py --models tiny-cnn,tf_efficientnet_lite0 --size 128
    PYTHONPATH=src python benchmarks/classify_speed.py --device cuda --size 260 --batch 64
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dermsynth.classify.models import build_classifier


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def bench_model(name: str, dev: torch.device, size: int, batch: int, steps: int, warmup: int) -> dict:
    """Training and inference images/s of model ``name`` at ``size`` px, batch ``batch``."""
    model = build_classifier(name, None).model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x = torch.randn(batch, 3, size, size, device=dev)
    y = (torch.rand(batch, device=dev) < 0.5).float()
    amp = dev.type == "cuda"

    def train_step() -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            logit = model(x).float().reshape(-1)
        loss = loss_fn(logit, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer_step() -> None:
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            model(x)

    out = {"model": name, "device": str(dev), "size": size, "batch": batch, "amp_bf16": amp}
    for key, step, mode in (("train_img_s", train_step, True), ("infer_img_s", infer_step, False)):
        model.train(mode)
        for _ in range(warmup):
            step()
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(dev)
        out[key] = round(steps * batch / (time.perf_counter() - t0), 1)
    if dev.type == "cuda":
        out["max_mem_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--models", default="tiny-cnn,tf_efficientnet_lite0,tf_efficientnet_lite2,efficientnet_b2"
    )
    ap.add_argument("--device", default="all", help="cpu | cuda | all (cpu, plus cuda when present)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devs = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devs = [d for d in devs if d != "cuda" or torch.cuda.is_available()]
    print(
        f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, "
        f"CUDA {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}"
    )
    print(f"{'model':26s} {'device':7s} {'size':>5s} {'batch':>5s} {'train img/s':>12s} {'infer img/s':>12s}")
    for d in devs:
        for name in args.models.split(","):
            r = bench_model(name, torch.device(d), args.size, args.batch, args.steps, args.warmup)
            print(
                f"{name:26s} {d:7s} {args.size:5d} {args.batch:5d} {r['train_img_s']:12.1f} {r['infer_img_s']:12.1f}"
            )
            print("json " + json.dumps(r))


if __name__ == "__main__":
    main()
