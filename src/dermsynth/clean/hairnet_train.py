"""Train the hair network (``clean.hairnet``) on real twins of isic2017-256, on the CPU, in minutes.

Data: the ``train``-split images annotated free of hair and dark corners (``twins.twin_candidates``)
from index ``DEV_IMAGES`` to ``FIT_END`` (the first ones tuned the black-hat mask; the rest, with the
``val`` split, stay held out for ``benchmarks/clean_real.py``). Each gets hair of every density under
``RENDERS`` seeds; steps draw random 96 px crops (hair keeps its width: no rescaling), flips and
quarter turns. Loss: binary cross-entropy + soft Dice. The card records data, command, hardware, time
and the held-out figures against the black-hat mask.

    PYTHONPATH=src python -m dermsynth.clean.hairnet_train --out src/dermsynth/clean/weights/hairnet.safetensors
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from dermsynth.clean.hairnet import CHANNELS, THRESHOLD, build, hair_probability, to_tensor
from dermsynth.clean.twins import DENSITIES, make_twin, twin_candidates
from dermsynth.core.io import atomic_path, atomic_write_json, read_rgb
from dermsynth.core.seeding import rng as named_rng

DEV_IMAGES = 40  # the black-hat mask's tuning images (kept out of the network's data too)
FIT_END = 300  # train candidates [DEV_IMAGES, FIT_END) are the network's data
RENDERS = 1  # hair renders per image and density


def twin_pool(root: Path, ids: list[str], renders: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rendered twins: images [N, H, W, 3] uint8 and hair masks [N, H, W] bool."""
    xs, ys = [], []
    for image_id in ids:
        rgb = read_rgb(root / "images" / f"{image_id}.jpg")
        for r in range(renders):
            for d in DENSITIES:
                tw = make_twin(rgb, "hair", (seed, "fit", r), image_id, d)
                xs.append(tw.image)
                ys.append(tw.mask)
    return np.stack(xs), np.stack(ys)


def batch(x: np.ndarray, y: np.ndarray, g: np.random.Generator, n: int, crop: int):
    """Random crops with flips / quarter turns: tensors [n, 3, crop, crop], [n, crop, crop]."""
    import torch

    idx = g.integers(0, len(x), n)
    h, w = x.shape[1:3]
    xb, yb = [], []
    for i in idx:
        y0, x0 = g.integers(0, h - crop + 1), g.integers(0, w - crop + 1)
        a, b = x[i, y0 : y0 + crop, x0 : x0 + crop], y[i, y0 : y0 + crop, x0 : x0 + crop]
        k = int(g.integers(4))
        a, b = np.rot90(a, k), np.rot90(b, k)
        if g.random() < 0.5:
            a, b = a[:, ::-1], b[:, ::-1]
        xb.append(np.ascontiguousarray(a))
        yb.append(np.ascontiguousarray(b))
    return to_tensor(xb), torch.from_numpy(np.stack(yb).astype(np.float32))


def loss_fn(logits, target):
    """BCE + soft Dice (hair is a few per cent of the pixels)."""
    import torch.nn.functional as F

    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = logits.sigmoid()
    dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
    return bce + dice


def train_hairnet(
    root: Path,
    out: Path,
    steps: int = 500,
    batch_size: int = 8,
    crop: int = 96,
    lr: float = 3e-3,
    seed: int = 0,
) -> dict:
    """Train, write ``out`` (safetensors) and ``out.json`` (card); returns the card."""
    import torch
    from safetensors.torch import save_file

    t0 = time.perf_counter()
    labels = root / "labels.csv"
    fit_ids = twin_candidates(labels, "hair", "train")[DEV_IMAGES:FIT_END]
    x, y = twin_pool(root, fit_ids, RENDERS, seed)
    t_data = time.perf_counter() - t0
    torch.manual_seed(seed)
    net = build(CHANNELS)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    g = named_rng(seed, "hairnet-batches")
    net.train()
    losses = []
    for step in range(steps):
        xb, yb = batch(x, y, g, batch_size, crop)
        loss = loss_fn(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
        if step % 50 == 0 or step == steps - 1:
            print(
                f"step {step:4d} loss {np.mean(losses[-50:]):.4f} {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    net.eval()
    t_train = time.perf_counter() - t0
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file(state, str(tmp))
    card = {
        "model": "dermsynth.clean.hairnet U-Net",
        "channels": list(CHANNELS),
        "threshold": THRESHOLD,
        "parameters": int(sum(v.numel() for v in net.parameters())),
        "data": {
            "source": "isic2017-256 (ISIC 2017 challenge, CC-0), train split, images annotated free of hair and "
            "dark corners by Bissoto et al. 2020 (labels used for selection only, not shipped)",
            "images": f"twin_candidates(hair, train)[{DEV_IMAGES}:{FIT_END}] = {len(fit_ids)} images",
            "twins": f"{len(x)} renders (hair sparse/medium/dense x {RENDERS} seeds, dermsynth.clean.twins)",
        },
        "training": {
            "steps": steps,
            "batch": batch_size,
            "crop": crop,
            "lr": lr,
            "seed": seed,
            "loss": "BCE + soft Dice",
            "optimizer": "AdamW, one-cycle",
        },
        "command": " ".join(
            [Path(sys.executable).name, "-m", "dermsynth.clean.hairnet_train", *sys.argv[1:]]
        ),
        "hardware": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "note": "machine shared with other jobs",
        },
        "time_s": {"render": round(t_data, 1), "total": round(t_train, 1)},
        "final_loss": round(float(np.mean(losses[-50:])), 4),
    }
    atomic_write_json(out.with_suffix(".json"), card)
    return card


def heldout_figures(root: Path, weights: Path, n: int = 40, seed: int = 0) -> dict:
    """Mask IoU / precision / recall of the network and the black-hat mask on held-out twins
    (train candidates from ``FIT_END``), added to the card under ``figures``."""
    from dermsynth.clean.evaluate import mask_scores
    from dermsynth.clean.hair import hair_mask
    from dermsynth.clean.hairnet import load_hairnet

    net, card = load_hairnet(weights)
    ids = twin_candidates(root / "labels.csv", "hair", "train")[FIT_END : FIT_END + n]
    rows: dict[str, dict[str, list]] = {}
    for image_id in ids:
        rgb = read_rgb(root / "images" / f"{image_id}.jpg")
        for d in DENSITIES:
            tw = make_twin(rgb, "hair", seed, image_id, d)
            for name, m in [
                ("network", hair_probability(net, tw.image) > THRESHOLD),
                ("black-hat", hair_mask(tw.image)),
            ]:
                for k, v in mask_scores(m, tw.mask).items():
                    rows.setdefault(f"{name} {d}", {}).setdefault(k, []).append(v)
    figs = {key: {k: round(float(np.mean(v)), 4) for k, v in m.items()} for key, m in rows.items()}
    card["figures"] = {"set": f"twin_candidates(hair, train)[{FIT_END}:{FIT_END + n}], seed {seed}", **figs}
    atomic_write_json(weights.with_suffix(".json"), card)
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--heldout", type=int, default=40, help="held-out images for the card's figures")
    args = ap.parse_args()
    from dermsynth.core.paths import shared_data_dir

    root = shared_data_dir() / "isic2017-256"
    card = train_hairnet(root, args.out, args.steps, args.batch, args.crop, args.lr, args.seed)
    if args.heldout:
        card = heldout_figures(root, args.out, args.heldout)
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
