"""Full training speed in sec/kimg (issue 5 sec. 4): the real training loop, everything included.

Runs ``dermsynth.gan.train.loop`` (all four phases with lazy R1 and path-length regularisation,
style mixing, the ADA pipe, G EMA, gradient sync, stats) on an in-memory random dataset for a few ticks
and reports sec/kimg as the official code does (tick time, snapshots excluded). The first tick is
warm-up (cuDNN autotuning) and is not counted. Needs only torch, numpy (+ safetensors) and dermsynth:
image grids and network exports (cv2 / pandas) are switched off here; the training state is written.

    PYTHONPATH=src python benchmarks/train_speed.py --cfg auto --res 256 --device cuda --kimg 2

The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import numpy as np
import torch


def random_data(n: int, res: int, c_dim: int, seed: int = 0):
    from dermsynth.gan.train.data import TrainingData

    r = np.random.default_rng(seed)
    images = r.integers(0, 256, size=(n, 3, res, res), dtype=np.uint8)
    labels = np.arange(n) % max(c_dim, 1)
    return TrainingData(images, labels, [f"{i}.png" for i in range(n)], mirror=False, c_dim=c_dim)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cfg", default="auto")
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--c-dim", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--kimg", type=float, default=1.0, help="total length of the timed run")
    ap.add_argument("--tick", type=float, default=None, help="kimg per tick (default kimg/5)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", default=None, help="fp16 | bf16 | fp32 (default: preset)")
    ap.add_argument("--nhwc", action="store_true")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--aug", default="ada")
    ap.add_argument("--p", type=float, default=None, help="fixed augment probability (with --aug fixed)")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)

    from dermsynth.gan import train as tl
    from dermsynth.gan.train import maintenance as snap
    from dermsynth.gan.train.config import resolve_train_config

    snap.write_image_grid = lambda run: None  # needs cv2
    snap.write_network = lambda run: None  # needs pandas via checkpoint
    cfg = resolve_train_config(
        a.cfg, a.res, data="<random>", cond=a.c_dim > 0, c_dim=a.c_dim, batch=a.batch, kimg=a.kimg,
        tick=a.tick or a.kimg / 5, snap=10_000, device=a.device, precision=a.precision,
        channels_last=a.nhwc or None, tf32=a.tf32 or None, compile=a.compile or None, aug=a.aug, p=a.p,
    )  # fmt: skip
    data = random_data(max(cfg.batch * 4, 64), a.res, a.c_dim)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        run = tl.setup(cfg, tmp, data=data, echo=print)
        tl.train(run)
        total = time.time() - t0
        from dermsynth.core.stats import read_jsonl

        rows = read_jsonl(f"{tmp}/stats.jsonl")
    timed = [r["sec_per_kimg"] for r in rows[1:]] or [rows[0]["sec_per_kimg"]]
    out = {
        "sec_per_kimg": round(statistics.median(timed), 3),
        "cfg": a.cfg,
        "res": a.res,
        "batch": cfg.batch,
        "device": run.device.type,
        "precision": cfg.precision,
        "ticks_timed": len(timed),
        "kimg": cfg.kimg,
        "wall_s": round(total, 1),
        "peak_gpu_mem_gb": max((r.get("Resources/peak_gpu_mem_gb") or 0) for r in rows),
        "gpu": torch.cuda.get_device_name(run.device) if run.device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
