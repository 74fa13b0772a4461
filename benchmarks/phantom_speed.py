"""Phantom generator speed: images/s (render only, and render + PNG writes) at several sizes.

With ``--cnn`` also its learnability: a 4-layer CNN trained on phantom images (64 px) and its test AUC
per epoch (issue 2 asks for roughly 0.85-0.95: learnable, not trivial).

Usage: PYTHONPATH=src python benchmarks/phantom_speed.py [--n 200] [--sizes 64,128,256] [--workers 1,2]
       [--cnn --train 3000 --test 800 --epochs 8]
Prints one line per (size, workers). Figures are noisy on a loaded machine: note the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from dermsynth.data.phantom import make_phantom_dataset, render_phantom


def cnn_auc(n_train: int, n_test: int, epochs: int, size: int = 64) -> None:
    """Train a small CNN on phantom images (with their artifacts) and print the test AUC per epoch."""
    import torch
    from sklearn.metrics import roc_auc_score
    from torch import nn

    def load(a: int, b: int):
        xs, ys = zip(
            *((s.image, s.label) for s in (render_phantom(i, 0, size) for i in range(a, b))), strict=True
        )
        x = torch.tensor(np.stack(xs)).permute(0, 3, 1, 2).float() / 127.5 - 1
        return x, torch.tensor(ys).float()

    xtr, ytr = load(0, n_train)
    xte, yte = load(n_train, n_train + n_test)
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for cin, cout in ((3, 16), (16, 32), (32, 64)):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    net = nn.Sequential(
        *layers,
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 1),
    )
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(n_train)
        for k in range(0, n_train, 64):
            idx = perm[k : k + 64]
            x = xtr[idx].flip(3) if torch.rand(1) < 0.5 else xtr[idx]
            loss = nn.functional.binary_cross_entropy_with_logits(net(x).squeeze(1), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            p = torch.cat([net(xte[k : k + 256]).squeeze(1) for k in range(0, n_test, 256)])
        print(f"cnn epoch {ep + 1}: test AUC {roc_auc_score(yte.numpy(), p.numpy()):.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--cnn", action="store_true", help="also measure learnability with a small CNN")
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--test", type=int, default=800)
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")
    for size in (int(s) for s in args.sizes.split(",")):
        render_phantom(0, 0, size)  # warm-up (grids cached)
        t = time.perf_counter()
        for i in range(args.n):
            render_phantom(i, 0, size)
        dt = time.perf_counter() - t
        print(f"size {size:4d}  render only      1 worker : {args.n / dt:7.1f} img/s")
        for w in (int(x) for x in args.workers.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                make_phantom_dataset(tmp, args.n, size=size, seed=0, workers=w)
                dt = time.perf_counter() - t
            print(f"size {size:4d}  dataset (PNG)   {w:2d} worker : {args.n / dt:7.1f} img/s")
    if args.cnn:
        cnn_auc(args.train, args.test, args.epochs)


if __name__ == "__main__":
    main()
